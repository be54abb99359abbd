package test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// leaks are what no error message may contain: host paths and the
// prefixes of Go's own error texts.
var leaks = []string{"/run/", "/root/", "/sys/", "/tmp/", "/proc/",
	"json: ", "http: ", "multipart: ", "archive/tar", "tar: ", "gzip: ", "strconv.", "unexpected EOF",
	"runtime error", "goroutine ", "%!", "open ", "read tcp", "libcontainer", "cgroup"}

// errorBody asserts an error response: the status, a JSON body of the form
// {"error": "..."} with a message free of leaks. It returns the message.
func errorBody(t testing.TB, r response, status int) string {
	t.Helper()
	if r.Status != status {
		t.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("content type %q, want application/json", ct)
	}
	var body map[string]any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("error body is not JSON: %v: %s", err, r.Body)
	}
	msg, ok := body["error"].(string)
	if !ok || msg == "" || len(body) != 1 {
		t.Errorf(`error body %s, want {"error": "<message>"}`, r.Body)
	}
	for _, l := range leaks {
		if strings.Contains(msg, l) {
			t.Errorf("error message %q shows %q", msg, l)
		}
	}
	return msg
}

// stillServes asserts the server still runs code after a bad request.
func stillServes(t testing.TB, s *Server) {
	t.Helper()
	wantRun(t, s.eval(t, api.EvalRequest{Code: "print('ok')"}), "ok\n")
}

func TestBadEvalRequests(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name   string
		body   string
		status int
		want   []string // substrings of the message (case-insensitive)
	}{
		{"bad JSON", `{"code": "print(1)"`, 400, []string{"json"}},
		{"not an object", `["print(1)"]`, 400, []string{"json"}},
		{"wrong type", `{"code": 42}`, 400, []string{"code"}},
		{"no code or files", `{}`, 400, []string{"code", "files"}},
		{"empty code", `{"code": ""}`, 400, []string{"code"}},
		{"code over 100 KiB", jsonOf(t, api.EvalRequest{Code: "#" + strings.Repeat("x", 100<<10)}), 413, nil},
		{"files over 100 KiB", jsonOf(t, api.EvalRequest{Files: []api.File{
			{Name: "main.py", Content: strings.Repeat("#", 60<<10)}, {Name: "b.py", Content: strings.Repeat("#", 60<<10)}}}), 413, nil},
		{"unsupported python_version", `{"code": "print(1)", "python_version": "3.99"}`, 400, []string{"3.99", "3.12", "3.11", "3.10"}},
		{"python 2", `{"code": "print(1)", "python_version": "2.7"}`, 400, []string{"3.12"}},
		{"file name with ..", jsonOf(t, api.EvalRequest{Files: []api.File{{Name: "../x.py", Content: "print(1)"}}}), 400, []string{"../x.py"}},
		{"absolute file name", jsonOf(t, api.EvalRequest{Files: []api.File{{Name: "/etc/x.py", Content: "print(1)"}}}), 400, []string{"/etc/x.py"}},
		{"entrypoint not a file", jsonOf(t, api.EvalRequest{Code: "print(1)", Entrypoint: "other.py"}), 400, []string{"other.py"}},
	}
	limits := []struct {
		field string
		cfg   api.Config
	}{
		{"memory_mb", api.Config{MemoryMB: ptr(1)}},
		{"disk_mb", api.Config{DiskMB: ptr(100000)}},
		{"cpu_shares", api.Config{CPUShares: ptr(1)}},
		{"pids_limit", api.Config{PidsLimit: ptr(1)}},
		{"timeout_seconds", api.Config{TimeoutSeconds: ptr(0)}},
		{"max_output_bytes", api.Config{MaxOutputBytes: ptr[int64](10)}},
	}
	for _, l := range limits {
		cases = append(cases, struct {
			name   string
			body   string
			status int
			want   []string
		}{"config " + l.field, jsonOf(t, api.EvalRequest{Code: "print(1)", Config: &l.cfg}), 400, []string{l.field}})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.do(t, http.MethodPost, "/api/v1/eval", "application/json", strings.NewReader(c.body))
			msg := errorBody(t, r, c.status)
			for _, w := range c.want {
				if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
					t.Errorf("message %q does not mention %q", msg, w)
				}
			}
			stillServes(t, s)
		})
	}
	t.Run("body over 100 MiB", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"code": "#`), io.LimitReader(repeat('x'), 101<<20), strings.NewReader(`"}`))
		r, err := s.request(context.Background(), http.MethodPost, "/api/v1/eval", "application/json", body)
		if err != nil {
			t.Fatalf("no answer to a body over the limit: %v", err)
		}
		errorBody(t, r, http.StatusRequestEntityTooLarge)
		stillServes(t, s)
	})
}

func TestBadExecRequests(t *testing.T) {
	s := sharedServer(t)
	okMain := map[string]string{"main.py": "print('ok')"}
	withMain := func(hdrs ...*tar.Header) []byte {
		return tarOf(t, append([]*tar.Header{{Name: "main.py", Typeflag: tar.TypeReg, Mode: 0o644}}, hdrs...), okMain)
	}
	meta := metaPart(t, entry)
	cases := []struct {
		name   string
		parts  []part
		status int
		want   []string
	}{
		{"env var without =", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{Entrypoint: "main.py", EnvVars: []string{"NOEQUALS"}})}, 400, []string{"env_vars", "NOEQUALS"}},
		{"missing entrypoint", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{})}, 400, []string{"entrypoint"}},
		{"entrypoint not in archive", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{Entrypoint: "app.py"})}, 400, []string{"app.py"}},
		{"entrypoint is a directory", []part{tarPart(tarFiles(t, map[string]string{"main.py": "", "pkg/a.py": ""})), metaPart(t, api.Metadata{Entrypoint: "pkg"})}, 400, []string{"pkg"}},
		{"docker_image without a version", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{Entrypoint: "main.py", DockerImage: "python:3.99-slim"})}, 400, []string{"3.12"}},
		{"docker_image not python", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{Entrypoint: "main.py", DockerImage: "node:20"})}, 400, []string{"3.12"}},
		{"config out of range", []part{tarPart(tarFiles(t, okMain)), metaPart(t, api.Metadata{Entrypoint: "main.py", Config: &api.Config{MemoryMB: ptr(1)}})}, 400, []string{"memory_mb"}},
		{"absolute entry", []part{tarPart(withMain(&tar.Header{Name: "/etc/evil.py", Typeflag: tar.TypeReg, Mode: 0o644})), meta}, 400, []string{"/etc/evil.py"}},
		{"dot-dot entry", []part{tarPart(withMain(&tar.Header{Name: "../evil.py", Typeflag: tar.TypeReg, Mode: 0o644})), meta}, 400, []string{"../evil.py"}},
		{"inner dot-dot entry", []part{tarPart(withMain(&tar.Header{Name: "a/../../evil.py", Typeflag: tar.TypeReg, Mode: 0o644})), meta}, 400, []string{"a/../../evil.py"}},
		{"symlink escaping", []part{tarPart(withMain(&tar.Header{Name: "link", Typeflag: tar.TypeSymlink, Linkname: "../../../etc/passwd"})), meta}, 400, []string{"link"}},
		{"absolute symlink", []part{tarPart(withMain(&tar.Header{Name: "abs", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"})), meta}, 400, []string{"abs"}},
		{"symlink chain escaping", []part{tarPart(withMain(
			&tar.Header{Name: "d/up", Typeflag: tar.TypeSymlink, Linkname: ".."},
			&tar.Header{Name: "d/out", Typeflag: tar.TypeSymlink, Linkname: "up/../x"})), meta}, 400, []string{"d/out"}},
		{"hardlink outside", []part{tarPart(withMain(&tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: "/etc/shadow"})), meta}, 400, []string{"hl"}},
		{"hardlink dot-dot", []part{tarPart(withMain(&tar.Header{Name: "hl2", Typeflag: tar.TypeLink, Linkname: "../outside"})), meta}, 400, []string{"hl2"}},
		{"fifo", []part{tarPart(withMain(&tar.Header{Name: "pipe", Typeflag: tar.TypeFifo, Mode: 0o644})), meta}, 400, []string{"pipe"}},
		{"char device", []part{tarPart(withMain(&tar.Header{Name: "null", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3})), meta}, 400, []string{"null"}},
		{"block device", []part{tarPart(withMain(&tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Mode: 0o660, Devmajor: 8})), meta}, 400, []string{"sda"}},
		{"not a tar", []part{tarPart([]byte("this is not a tar archive, not at all, not even close")), meta}, 400, []string{"tar"}},
		{"missing tar part", []part{meta}, 400, []string{"tar"}},
		{"missing metadata part", []part{tarPart(tarFiles(t, okMain))}, 400, []string{"metadata"}},
		{"metadata not JSON", []part{tarPart(tarFiles(t, okMain)), {name: "metadata", data: []byte("entrypoint=main.py")}}, 400, []string{"metadata"}},
		{"no parts", nil, 400, []string{"tar"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, path := range []string{"/api/v1/exec/sync", "/api/v1/exec/async"} {
				msg := errorBody(t, s.postMultipart(t, path, c.parts...), c.status)
				for _, w := range c.want {
					if !strings.Contains(strings.ToLower(msg), strings.ToLower(w)) {
						t.Errorf("%s: message %q does not mention %q", path, msg, w)
					}
				}
			}
			stillServes(t, s)
		})
	}

	t.Run("not multipart", func(t *testing.T) {
		errorBody(t, s.do(t, http.MethodPost, "/api/v1/exec/sync", "application/json", strings.NewReader(`{"entrypoint":"main.py"}`)), 400)
		stillServes(t, s)
	})

	t.Run("symlink inside accepted", func(t *testing.T) {
		files := map[string]string{"main.py": "import os\nprint(open('alias.txt').read(), os.readlink('alias.txt'))", "data/real.txt": "real"}
		hdrs := []*tar.Header{
			{Name: "main.py", Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755},
			{Name: "data/real.txt", Typeflag: tar.TypeReg, Mode: 0o644},
			{Name: "alias.txt", Typeflag: tar.TypeSymlink, Linkname: "data/real.txt"},
		}
		r := s.postMultipart(t, "/api/v1/exec/sync", tarPart(tarOf(t, hdrs, files)), meta)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		e := decode[api.Execution](t, r.Body)
		wantRun(t, e, "real data/real.txt\n")
	})

	t.Run("gzip accepted", func(t *testing.T) {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write(tarFiles(t, map[string]string{"main.py": "import helper\nhelper.hi()", "helper.py": "def hi():\n    print('from gzip')"}))
		zw.Close()
		r := s.postMultipart(t, "/api/v1/exec/sync", tarPart(gz.Bytes()), meta)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		wantRun(t, decode[api.Execution](t, r.Body), "from gzip\n")
	})

	t.Run("body over 100 MiB", func(t *testing.T) {
		body, ct := hugeMultipart(101 << 20)
		r, err := s.request(context.Background(), http.MethodPost, "/api/v1/exec/sync", ct, body)
		if err != nil {
			t.Fatalf("no answer to a body over the limit: %v", err)
		}
		errorBody(t, r, http.StatusRequestEntityTooLarge)
		stillServes(t, s)
	})
}

// hugeMultipart streams a valid /exec body whose tar holds size bytes of
// files (1 MiB each), produced as it is read, never held in memory.
func hugeMultipart(size int64) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			fw, err := mw.CreateFormFile("tar", "huge.tar")
			if err != nil {
				return err
			}
			tw := tar.NewWriter(fw)
			for i := int64(0); i*(1<<20) < size; i++ {
				if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("blob%04d.bin", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 20}); err != nil {
					return err
				}
				if _, err := io.CopyN(tw, repeat(0), 1<<20); err != nil {
					return err
				}
			}
			if err := tw.Close(); err != nil {
				return err
			}
			mf, err := mw.CreateFormField("metadata")
			if err != nil {
				return err
			}
			if _, err := mf.Write([]byte(`{"entrypoint":"blob0000.bin"}`)); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	return pr, mw.FormDataContentType()
}

// repeat is an endless reader of one byte.
type repeat byte

func (r repeat) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}

func jsonOf(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
