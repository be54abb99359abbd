package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// fakeServer is a hand-written stand-in for a pyexec server. It records
// what the CLI sent and answers with the records the test gives.
type fakeServer struct {
	t   *testing.T
	srv *httptest.Server

	mu       sync.Mutex
	md       api.Metadata      // last exec metadata
	files    map[string]string // last exec archive: name -> content
	rawTar   []byte
	evalReq  api.EvalRequest
	requests []string // "METHOD path?query"

	// reply answers exec/sync and eval; nil means a completed run that
	// printed "ok\n".
	reply func() (int, any)
	// gets answers GET executions/{id} in turn; the last one repeats.
	gets []api.Execution
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/exec/sync", f.exec)
	mux.HandleFunc("POST /api/v1/exec/async", f.exec)
	mux.HandleFunc("POST /api/v1/eval", f.eval)
	mux.HandleFunc("GET /api/v1/executions/{id}", f.get)
	mux.HandleFunc("DELETE /api/v1/executions/{id}", f.kill)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		req := r.Method + " " + r.URL.Path
		if r.URL.RawQuery != "" {
			req += "?" + r.URL.RawQuery
		}
		f.requests = append(f.requests, req)
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func completed(stdout, stderr string, exit int) api.Execution {
	return api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted, Stdout: stdout, Stderr: stderr, ExitCode: &exit}
}

func (f *fakeServer) answer(w http.ResponseWriter) {
	if f.reply == nil {
		reply(w, 200, completed("ok\n", "", 0))
		return
	}
	code, body := f.reply()
	reply(w, code, body)
}

func (f *fakeServer) exec(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		reply(w, 400, api.Error{Error: "bad multipart: " + err.Error()})
		return
	}
	var md api.Metadata
	if err := json.Unmarshal([]byte(r.FormValue("metadata")), &md); err != nil {
		reply(w, 400, api.Error{Error: "bad metadata"})
		return
	}
	part, _, err := r.FormFile("tar")
	if err != nil {
		reply(w, 400, api.Error{Error: "no tar part"})
		return
	}
	raw, _ := io.ReadAll(part)
	files, err := readTar(raw)
	if err != nil {
		reply(w, 400, api.Error{Error: "bad tar: " + err.Error()})
		return
	}
	f.mu.Lock()
	f.md, f.files, f.rawTar = md, files, raw
	f.mu.Unlock()
	if strings.HasSuffix(r.URL.Path, "/async") {
		reply(w, 202, api.Accepted{ExecutionID: "exe_async"})
		return
	}
	f.answer(w)
}

func (f *fakeServer) eval(w http.ResponseWriter, r *http.Request) {
	var req api.EvalRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		reply(w, 400, api.Error{Error: "bad JSON"})
		return
	}
	f.mu.Lock()
	f.evalReq = req
	f.mu.Unlock()
	f.answer(w)
}

func (f *fakeServer) get(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.PathValue("id") != "exe_async" || len(f.gets) == 0 {
		reply(w, 404, api.Error{Error: "execution not found"})
		return
	}
	rec := f.gets[0]
	if len(f.gets) > 1 {
		f.gets = f.gets[1:]
	}
	reply(w, 200, rec)
}

func (f *fakeServer) kill(w http.ResponseWriter, r *http.Request) {
	switch r.PathValue("id") {
	case "exe_async":
		reply(w, 200, api.KillResponse{Status: api.StatusKilled})
	case "exe_done":
		reply(w, 200, api.KillResponse{Status: api.StatusCompleted})
	default:
		reply(w, 404, api.Error{Error: "execution not found"})
	}
}

// readTar returns the regular files of a plain or gzip tar archive.
func readTar(raw []byte) (map[string]string, error) {
	var r io.Reader = bytes.NewReader(raw)
	if bytes.HasPrefix(raw, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	tr := tar.NewReader(bufio.NewReader(r))
	files := map[string]string{}
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			b, _ := io.ReadAll(tr)
			files[hdr.Name] = string(b)
		}
	}
}

// result is what one CLI invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process against f (nil: no server), with stdin
// and extra environment variables.
func runCLI(t *testing.T, f *fakeServer, stdin string, environ []string, args ...string) result {
	t.Helper()
	if f != nil {
		environ = append([]string{"PYEXEC_SERVER=" + f.srv.URL}, environ...)
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, environ)
	return result{code, out.String(), errOut.String()}
}
