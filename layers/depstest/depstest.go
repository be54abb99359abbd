// Package depstest builds small pure-Python wheels (and source
// distributions) and serves them from a PEP 503 simple index on
// 127.0.0.1, for tests that run the real pip without reaching PyPI.
package depstest

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
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
//	acme-widgets 1.0       module widgets (no distribution of the index is
//	                       named so), widgets.NAME = "acme widgets"
//	pyx-broken 1.0         module pyx_broken, depends on pyx-gone, which
//	                       the index lacks: it never installs
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
		{Dist: "acme-widgets", Version: "1.0", Files: map[string]string{
			"widgets/__init__.py": "NAME = \"acme widgets\"\n",
		}},
		{Dist: "pyx-broken", Version: "1.0", Requires: []string{"pyx-gone"}, Files: map[string]string{
			"pyx_broken.py": "BROKEN = True\n",
		}},
	}
}

// Sdist is a source distribution (.tar.gz): its files under the
// top-level directory <dist>-<version>/, plus a PKG-INFO.
type Sdist struct {
	Dist, Version string
	Files         map[string]string // path under the top directory -> content
}

func (s Sdist) base() string { return strings.ReplaceAll(s.Dist, "-", "_") + "-" + s.Version }

// Filename is the sdist's file name.
func (s Sdist) Filename() string { return s.base() + ".tar.gz" }

// TarGz builds the sdist.
func (s Sdist) TarGz() ([]byte, error) {
	files := map[string]string{"PKG-INFO": fmt.Sprintf("Metadata-Version: 2.1\nName: %s\nVersion: %s\n", s.Dist, s.Version)}
	for p, c := range s.Files {
		files[p] = c
	}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	slices.Sort(names)
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, p := range names {
		hdr := &tar.Header{Name: s.base() + "/" + p, Mode: 0o644, Size: int64(len(files[p])), Typeflag: tar.TypeReg}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(files[p])); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// srcBackend is an in-tree PEP 517 build backend: building the sdist runs
// its build_wheel, which writes a wheel of module pyx_src whose BUILT says
// so. It needs nothing from the index (no setuptools).
const srcBackend = `import base64, hashlib, os, zipfile

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    info = "pyx_src-1.0.dist-info"
    name = "pyx_src-1.0-py3-none-any.whl"
    files = {
        "pyx_src.py": "BUILT = 'built from source'\n",
        info + "/METADATA": "Metadata-Version: 2.1\nName: pyx-src\nVersion: 1.0\n",
        info + "/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = ""
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as z:
        for path, data in files.items():
            z.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data.encode()).digest()).rstrip(b"=").decode()
            record += "%s,sha256=%s,%d\n" % (path, digest, len(data))
        z.writestr(info + "/RECORD", record + info + "/RECORD,,\n")
    return name
`

// Sdists are the standard source-only test packages:
//
//	pyx-src 1.0   no wheel; building it (an in-tree backend, code of the
//	              package run by pip) makes module pyx_src, BUILT =
//	              "built from source"
func Sdists() []Sdist {
	return []Sdist{{Dist: "pyx-src", Version: "1.0", Files: map[string]string{
		"pyproject.toml": "[build-system]\nrequires = []\nbuild-backend = \"backend\"\nbackend-path = [\".\"]\n",
		"backend.py":     srcBackend,
	}}}
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

// Start writes wheels and sdists to dir and serves them until Close.
func Start(dir string, wheels []Wheel, sdists ...Sdist) (*Index, error) {
	ix := &Index{WheelDir: dir, downloads: map[string]int{}}
	files := map[string][]byte{}
	pages := map[string][]string{} // canonical name -> anchors
	add := func(dist, name string, b []byte) error {
		files[name] = b
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c := requirements.Canonical(dist)
		pages[c] = append(pages[c], fmt.Sprintf(`<a href="../../files/%s#sha256=%s">%s</a><br/>`,
			html.EscapeString(name), hex.EncodeToString(sum[:]), html.EscapeString(name)))
		return nil
	}
	for _, w := range wheels {
		b, err := w.Zip()
		if err != nil {
			return nil, err
		}
		if err := add(w.Dist, w.Filename(), b); err != nil {
			return nil, err
		}
	}
	for _, sd := range sdists {
		b, err := sd.TarGz()
		if err != nil {
			return nil, err
		}
		if err := add(sd.Dist, sd.Filename(), b); err != nil {
			return nil, err
		}
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

// Downloads returns how many times each file was fetched so far.
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
