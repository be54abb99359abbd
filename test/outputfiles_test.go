package test

// Output files (issue 13): a request's output_files keep files of /work
// with the record, listed in it and downloadable, on the zygote, pooled
// and cold paths, without following symlinks, within bounds, across a
// restart.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"syscall"
	"testing"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// writeFilesCode leaves files, directories and links in /work.
const writeFilesCode = `import os
os.makedirs("out/sub/deeper", exist_ok=True)
open("out/a.txt", "w").write("alpha\n")
open("out/sub/b.bin", "wb").write(bytes(range(256)) * 4)
open("out/sub/deeper/c.csv", "w").write("x,y\n1,2\n")
open("run.log", "w").write("log line\n")
open("skip.tmp", "w").write("not asked for\n")
os.symlink("/etc/passwd", "out/passwd")
os.symlink("../run.log", "out/log-link.txt")
os.symlink("/etc", "out/etc")
os.mkfifo("out/fifo")
print("written")
`

var wantFiles = map[string]string{
	"out/a.txt":            "alpha\n",
	"out/sub/b.bin":        strings.Repeat(string(allBytes()), 4),
	"out/sub/deeper/c.csv": "x,y\n1,2\n",
	"run.log":              "log line\n",
}

func allBytes() []byte {
	b := make([]byte, 256)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// download GETs an output file.
func (s *Server) download(t testing.TB, id, path string) response {
	t.Helper()
	return s.do(t, http.MethodGet, "/api/v1/executions/"+id+"/files/"+path, "", nil)
}

// checkKept checks that a record lists exactly wantFiles, in path order,
// and that each downloads with its content, size, hash and type.
func checkKept(t *testing.T, s *Server, e api.Execution) {
	t.Helper()
	var paths []string
	for _, f := range e.OutputFiles {
		paths = append(paths, f.Path)
		want, ok := wantFiles[f.Path]
		if !ok {
			t.Errorf("kept %s, which is not one of the regular files asked for", f.Path)
			continue
		}
		sum := sha256.Sum256([]byte(want))
		if f.Size != int64(len(want)) || f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: size %d sha256 %s, want %d %x", f.Path, f.Size, f.SHA256, len(want), sum)
		}
		r := s.download(t, e.ExecutionID, f.Path)
		if r.Status != 200 || string(r.Body) != want {
			t.Errorf("GET %s: %d %q, want 200 %q", f.Path, r.Status, r.Body, want)
		}
		ctype := r.Header.Get("Content-Type")
		switch {
		case strings.HasSuffix(f.Path, ".txt") && !strings.HasPrefix(ctype, "text/plain"),
			strings.HasSuffix(f.Path, ".bin") && ctype != "application/octet-stream":
			t.Errorf("%s: Content-Type %q", f.Path, ctype)
		}
	}
	want := "out/a.txt out/sub/b.bin out/sub/deeper/c.csv run.log"
	if strings.Join(paths, " ") != want {
		t.Errorf("output_files %v, want %s (no links, no fifo, nothing unasked)", paths, want)
	}
	if e.OutputFilesNote != "" {
		t.Errorf("output_files_note %q, want none", e.OutputFilesNote)
	}
}

func TestOutputFiles(t *testing.T) {
	patterns := []string{"out/**", "*.log"}
	for _, p := range []struct {
		name string
		env  []string
	}{
		{"zygote", []string{"PYEXEC_ZYGOTE_ENABLED=true", "PYEXEC_POOL_SIZES=3.12=0"}},
		{"pooled", []string{"PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=1"}},
		{"cold", []string{"PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=0"}},
	} {
		t.Run(p.name, func(t *testing.T) {
			s := startServer(t, p.env...)
			s.waitPath(t, map[string]string{"zygote": "zygote", "pooled": "pooled"}[p.name], "3.12")
			before := s.health(t)

			e := s.eval(t, api.EvalRequest{Code: writeFilesCode, OutputFiles: patterns})
			if e.Status != api.StatusCompleted || e.Stdout != "written\n" {
				t.Fatalf("eval: %s", describe(e))
			}
			checkKept(t, s, e)

			s.waitPath(t, map[string]string{"zygote": "zygote", "pooled": "pooled"}[p.name], "3.12")
			id := s.execAsync(t, map[string]string{"w.py": writeFilesCode}, api.Metadata{Entrypoint: "w.py", OutputFiles: patterns})
			checkKept(t, s, s.waitDone(t, id))

			after := s.health(t)
			z0, p0 := served(before, "3.12")
			z1, p1 := served(after, "3.12")
			switch {
			case p.name == "zygote" && z1-z0 != 2, p.name == "pooled" && p1-p0 != 2,
				p.name == "cold" && (z1 != z0 || p1 != p0):
				t.Errorf("%s: the zygote served %d, the pool %d of the 2 runs", p.name, z1-z0, p1-p0)
			}

			// Unknown files and executions: 404 JSON.
			for _, path := range []string{"skip.tmp", "out/passwd", "nothing", "out/../run.log"} {
				r := s.download(t, e.ExecutionID, path)
				if r.Status != 404 || !bytes.Contains(r.Body, []byte(`"error"`)) {
					t.Errorf("GET %s: %d %s, want 404 JSON", path, r.Status, r.Body)
				}
			}
			if r := s.download(t, "exe_nope", "run.log"); r.Status != 404 || !bytes.Contains(r.Body, []byte("execution not found")) {
				t.Errorf("unknown execution: %d %s", r.Status, r.Body)
			}
		})
	}
}

func TestOutputFilesBadPatterns(t *testing.T) {
	s := sharedServer(t)
	for _, pat := range []string{"/etc/passwd", "../x", "out/../../x", "", "a//b", "./a", "[", "a\x00b"} {
		status, raw := s.postJSON(t, "/api/v1/eval", api.EvalRequest{Code: "print(1)", OutputFiles: []string{pat}})
		if status != 400 || !bytes.Contains(raw, []byte(`"error":"output_files[0]`)) {
			t.Errorf("eval output_files %q: %d %s, want 400 naming output_files[0]", pat, status, raw)
		}
		st, body := s.execSync(t, map[string]string{"m.py": "print(1)"}, api.Metadata{Entrypoint: "m.py", OutputFiles: []string{pat}})
		if st != 400 || !bytes.Contains(body, []byte("metadata.output_files[0]")) {
			t.Errorf("exec output_files %q: %d %s, want 400", pat, st, body)
		}
	}
}

// TestOutputFilesBounds: past the count or the bytes bound files are not
// kept, the record says so, the run does not fail.
func TestOutputFilesBounds(t *testing.T) {
	s := startServer(t, "PYEXEC_RESULTS_OUTPUT_FILES_MAX_COUNT=2", "PYEXEC_RESULTS_OUTPUT_FILES_MAX_MB=1")
	code := "for i in range(4):\n    open(f'f{i}.txt', 'w').write(str(i))\nopen('big.dat', 'wb').write(b'x' * (2 << 20))\n"
	e := s.eval(t, api.EvalRequest{Code: code, OutputFiles: []string{"*.txt"}})
	if e.Status != api.StatusCompleted || len(e.OutputFiles) != 2 || e.OutputFiles[0].Path != "f0.txt" || e.OutputFiles[1].Path != "f1.txt" {
		t.Fatalf("%s: output_files %+v, want f0.txt f1.txt", describe(e), e.OutputFiles)
	}
	if !strings.Contains(e.OutputFilesNote, "2 matching file(s) not kept") {
		t.Errorf("output_files_note %q", e.OutputFilesNote)
	}
	e = s.eval(t, api.EvalRequest{Code: code, OutputFiles: []string{"big.dat", "f3.txt"}})
	if e.Status != api.StatusCompleted || len(e.OutputFiles) != 1 || e.OutputFiles[0].Path != "f3.txt" {
		t.Fatalf("%s: output_files %+v, want f3.txt only (big.dat is over 1 MiB)", describe(e), e.OutputFiles)
	}
	if !strings.Contains(e.OutputFilesNote, "1 matching file(s) not kept") {
		t.Errorf("output_files_note %q", e.OutputFilesNote)
	}
}

// TestOutputFilesRestart: the files stay downloadable after a restart,
// through the Go client too.
func TestOutputFilesRestart(t *testing.T) {
	s := startServer(t)
	e := s.eval(t, api.EvalRequest{Code: writeFilesCode, OutputFiles: []string{"out/**", "*.log"}})
	checkKept(t, s, e)
	s.restart(t, syscall.SIGTERM)
	_, got := s.get(t, e.ExecutionID, 0)
	if len(got.OutputFiles) != len(e.OutputFiles) {
		t.Fatalf("after the restart: output_files %+v, want %+v", got.OutputFiles, e.OutputFiles)
	}
	checkKept(t, s, got)
	c, err := client.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.DownloadFile(context.Background(), e.ExecutionID, "out/sub/deeper/c.csv")
	if err != nil || string(b) != wantFiles["out/sub/deeper/c.csv"] {
		t.Errorf("client.DownloadFile: %q, %v", b, err)
	}
	if _, err := c.DownloadFile(context.Background(), e.ExecutionID, "out/passwd"); !client.IsNotFound(err) {
		t.Errorf("client.DownloadFile of a link: %v, want not found", err)
	}
}

// TestOutputFilesMemory: a file near the bound is sent from a run whose
// memory limit holds it (in /work's tmpfs, charged to the run) and one
// copy more: the bootstrap reads and sends one file at a time, in a
// buffer of its size.
func TestOutputFilesMemory(t *testing.T) {
	s := sharedServer(t)
	code := "import os\nopen('big.bin', 'wb').write(os.urandom(14 << 20))\nprint('ok')\n"
	e := s.eval(t, api.EvalRequest{Code: code, OutputFiles: []string{"*.bin"}, Config: &api.Config{MemoryMB: ptr(64)}})
	if e.Status != api.StatusCompleted || e.OOMKilled || len(e.OutputFiles) != 1 || e.OutputFiles[0].Size != 14<<20 {
		t.Fatalf("%s: output_files %+v, note %q", describe(e), e.OutputFiles, e.OutputFilesNote)
	}
	r := s.download(t, e.ExecutionID, "big.bin")
	sum := sha256.Sum256(r.Body)
	if r.Status != 200 || len(r.Body) != 14<<20 || hex.EncodeToString(sum[:]) != e.OutputFiles[0].SHA256 {
		t.Errorf("GET big.bin: %d, %d bytes", r.Status, len(r.Body))
	}
}
