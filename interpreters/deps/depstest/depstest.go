// Package depstest builds small pure-Python wheels and serves them from a
// PEP 503 simple index on 127.0.0.1, for tests that run the real pip
// without reaching PyPI.
package depstest

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/pyexec/pyexec/interpreters/requirements"
)

// Wheel is a pure-Python wheel (py3-none-any).
type Wheel struct {
	Dist, Version string
	Files         map[string]string // path in the wheel -> content
	Requires      []string          // Requires-Dist lines
}

// Filename is the wheel's file name.
func (w Wheel) Filename() string {
	return strings.ReplaceAll(w.Dist, "-", "_") + "-" + w.Version + "-py3-none-any.whl"
}

// Zip builds the wheel: the files, then a dist-info directory with
// METADATA, WHEEL and a RECORD of every file with its hash.
func (w Wheel) Zip() ([]byte, error) {
	info := strings.ReplaceAll(w.Dist, "-", "_") + "-" + w.Version + ".dist-info"
	meta := fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", w.Dist, w.Version)
	for _, r := range w.Requires {
		meta += "Requires-Dist: " + r + "\n"
	}
	files := map[string]string{
		info + "/METADATA": meta,
		info + "/WHEEL":    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
	}
	for p, c := range w.Files {
		files[p] = c
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, p := range names {
		f, err := zw.Create(p)
		if err != nil {
			return nil, err
		}
		if _, err := f.Write([]byte(files[p])); err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(files[p]))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", p, base64.RawURLEncoding.EncodeToString(sum[:]), len(files[p]))
	}
	record.WriteString(info + "/RECORD,,\n")
	f, err := zw.Create(info + "/RECORD")
	if err != nil {
		return nil, err
	}
	if _, err := f.Write([]byte(record.String())); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Wheels are the standard test packages:
//
//	pyx-base 1.0 and 2.0   module pyx_base, VERSION = "1.0" / "2.0" (pins)
//	pyx-app 1.0            module pyx_app, depends on pyx-base>=1.0;
//	                       hello() returns "app on base <VERSION>"
//	pyx-pth 1.0            pyx_pth.pth: a path line (pyx_pth_extra, holding
//	                       pthmod.WHERE) and an import line setting
//	                       os.environ["PYX_PTH_RAN"] = "1"
//	PyYAML 6.0.99          module yaml (an import name that is not the
//	                       distribution's), yaml.FAKE
func Wheels() []Wheel {
	return []Wheel{
		{Dist: "pyx-base", Version: "1.0", Files: map[string]string{"pyx_base/__init__.py": "VERSION = \"1.0\"\n"}},
		{Dist: "pyx-base", Version: "2.0", Files: map[string]string{"pyx_base/__init__.py": "VERSION = \"2.0\"\n"}},
		{Dist: "pyx-app", Version: "1.0", Requires: []string{"pyx-base>=1.0"}, Files: map[string]string{
			"pyx_app/__init__.py": "import pyx_base\n\ndef hello():\n    return \"app on base \" + pyx_base.VERSION\n",
		}},
		{Dist: "pyx-pth", Version: "1.0", Files: map[string]string{
			"pyx_pth.pth":             "pyx_pth_extra\nimport os; os.environ['PYX_PTH_RAN'] = '1'\n",
			"pyx_pth_extra/pthmod.py": "WHERE = \"extra dir from pyx_pth.pth\"\n",
		}},
		{Dist: "PyYAML", Version: "6.0.99", Files: map[string]string{
			"yaml/__init__.py": "FAKE = \"PyYAML from the test index\"\n",
		}},
	}
}

// Index is a PEP 503 simple index on 127.0.0.1, counting the downloads
// of each file.
type Index struct {
	URL      string // http://127.0.0.1:<port>/simple/
	Addr     string // 127.0.0.1:<port>
	WheelDir string // the same wheels as a find-links directory
	srv      *http.Server

	mu        sync.Mutex
	downloads map[string]int
}

// Start writes wheels to dir and serves them until Close.
func Start(dir string, wheels []Wheel) (*Index, error) {
	ix := &Index{WheelDir: dir, downloads: map[string]int{}}
	files := map[string][]byte{}
	pages := map[string][]string{} // canonical name -> anchors
	for _, w := range wheels {
		b, err := w.Zip()
		if err != nil {
			return nil, err
		}
		name := w.Filename()
		files[name] = b
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		c := requirements.Canonical(w.Dist)
		pages[c] = append(pages[c], fmt.Sprintf(`<a href="../../files/%s#sha256=%s">%s</a><br/>`,
			html.EscapeString(name), hex.EncodeToString(sum[:]), html.EscapeString(name)))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /simple/{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "<!DOCTYPE html><html><body>\n")
		for c := range pages {
			fmt.Fprintf(w, "<a href=\"%s/\">%s</a><br/>\n", c, c)
		}
		fmt.Fprint(w, "</body></html>\n")
	})
	mux.HandleFunc("GET /simple/{name}/{$}", func(w http.ResponseWriter, r *http.Request) {
		anchors, ok := pages[r.PathValue("name")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<!DOCTYPE html><html><body>\n%s\n</body></html>\n", strings.Join(anchors, "\n"))
	})
	mux.HandleFunc("GET /files/{file}", func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.PathValue("file")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		ix.mu.Lock()
		ix.downloads[r.PathValue("file")]++
		ix.mu.Unlock()
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ix.Addr = ln.Addr().String()
	ix.URL = "http://" + ix.Addr + "/simple/"
	ix.srv = &http.Server{Handler: mux}
	go func() { _ = ix.srv.Serve(ln) }()
	return ix, nil
}

// Downloads returns how many times each wheel file was fetched so far.
func (ix *Index) Downloads() map[string]int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	out := make(map[string]int, len(ix.downloads))
	for k, v := range ix.downloads {
		out[k] = v
	}
	return out
}

// Close stops serving.
func (ix *Index) Close() error { return ix.srv.Close() }
