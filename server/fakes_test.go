package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// fakeRunner records the jobs it gets and answers with fn, or with a
// successful run printing "ok" when fn is nil.
type fakeRunner struct {
	fn func(ctx context.Context, job Job) (Outcome, error)

	mu   sync.Mutex
	jobs []Job
}

var _ Runner = (*fakeRunner)(nil)

func (f *fakeRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	f.mu.Lock()
	f.jobs = append(f.jobs, job)
	f.mu.Unlock()
	if f.fn != nil {
		return f.fn(ctx, job)
	}
	return Outcome{Stdout: []byte("ok\n"), Duration: 3 * time.Millisecond, PythonVersion: job.Interpreter.Version}, nil
}

func (f *fakeRunner) Jobs() []Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Job(nil), f.jobs...)
}

// blockingRunner reports each job's id on started and returns when release
// is closed (a normal run) or when the job's context is cancelled (a
// killed run, as the real Runner reports it).
type blockingRunner struct {
	started chan string
	release chan struct{}

	mu     sync.Mutex
	causes map[string]error
}

func newBlockingRunner() *blockingRunner {
	return &blockingRunner{
		started: make(chan string, 256),
		release: make(chan struct{}),
		causes:  make(map[string]error),
	}
}

func (b *blockingRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	b.started <- job.ID
	select {
	case <-b.release:
		return Outcome{Stdout: []byte("done\n"), Duration: time.Millisecond}, nil
	case <-ctx.Done():
		b.mu.Lock()
		b.causes[job.ID] = context.Cause(ctx)
		b.mu.Unlock()
		return Outcome{Killed: true, ExitCode: -1, Stdout: []byte("partial")}, nil
	}
}

func (b *blockingRunner) cause(id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.causes[id]
}

// waitStarted returns the id of the next job the runner started.
func (b *blockingRunner) waitStarted(t *testing.T) string {
	t.Helper()
	select {
	case id := <-b.started:
		return id
	case <-time.After(5 * time.Second):
		t.Fatal("no job started")
		return ""
	}
}

// fakeInterps knows 3.12.1 (default), 3.11.7 and 3.10.13.
type fakeInterps struct {
	panicList bool
}

var _ Interpreters = (*fakeInterps)(nil)

func (f *fakeInterps) List() []api.Interpreter {
	if f.panicList {
		panic("list exploded at /srv/secret/path")
	}
	return []api.Interpreter{
		{Version: "3.12.1", Series: "3.12", Default: true},
		{Version: "3.11.7", Series: "3.11"},
		{Version: "3.10.13", Series: "3.10"},
	}
}

var imageRE = regexp.MustCompile(`^python:(\d+\.\d+)([.-].*)?$`)

func (f *fakeInterps) Resolve(sel string) (api.Interpreter, error) {
	list := f.List()
	if sel == "" {
		return list[0], nil
	}
	if m := imageRE.FindStringSubmatch(sel); m != nil {
		sel = m[1]
	}
	for _, in := range list {
		if sel == in.Series || sel == in.Version {
			return in, nil
		}
	}
	return api.Interpreter{}, fmt.Errorf("unsupported python version %q; available: 3.12, 3.11, 3.10", sel)
}

// testServer is a Server behind a real HTTP listener.
type testServer struct {
	*Server
	URL string
}

func newTestServer(t *testing.T, opts Options, r Runner) *testServer {
	t.Helper()
	if r == nil {
		r = &fakeRunner{}
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 4
	}
	s, err := New(opts, r, &fakeInterps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testServer{Server: s, URL: hs.URL}
}

// response is a read HTTP response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.body, err)
	}
}

// errorMsg returns the "error" of a JSON error body, failing the test if the
// body is not one.
func (r response) errorMsg(t *testing.T) string {
	t.Helper()
	var e map[string]any
	r.decode(t, &e)
	msg, ok := e["error"].(string)
	if !ok || len(e) != 1 {
		t.Fatalf("body %q is not {\"error\": ...}", r.body)
	}
	return msg
}

func do(t *testing.T, method, url, contentType string, body io.Reader) response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (s *testServer) get(t *testing.T, path string) response {
	t.Helper()
	return do(t, http.MethodGet, s.URL+path, "", nil)
}

func (s *testServer) postJSON(t *testing.T, path, body string) response {
	t.Helper()
	return do(t, http.MethodPost, s.URL+path, "application/json", strings.NewReader(body))
}

func (s *testServer) postExec(t *testing.T, path string, archive []byte, metadata string) response {
	t.Helper()
	body, ct := multipartBody(t, archive, metadata)
	return do(t, http.MethodPost, s.URL+path, ct, bytes.NewReader(body))
}

// execution fetches a record and decodes it.
func (s *testServer) execution(t *testing.T, id string) api.Execution {
	t.Helper()
	res := s.get(t, "/api/v1/executions/"+id)
	if res.status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", id, res.status, res.body)
	}
	var e api.Execution
	res.decode(t, &e)
	return e
}

// requireHealthy checks that the server still answers.
func (s *testServer) requireHealthy(t *testing.T) {
	t.Helper()
	if res := s.get(t, "/health"); res.status != http.StatusOK {
		t.Fatalf("health after the request: %d %s", res.status, res.body)
	}
}

// tarEntry describes one entry of a test archive.
type tarEntry struct {
	name     string
	typ      byte // tar.TypeReg when zero
	body     string
	linkname string
	mode     int64
	pax      map[string]string // PAXRecords, e.g. of a global header
}

func makeTar(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.linkname, Mode: e.mode, PAXRecords: e.pax, Format: tar.FormatPAX}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Mode == 0 && h.Typeflag != tar.TypeXGlobalHeader {
			h.Mode = 0o644
		}
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil && h.Typeflag == tar.TypeReg {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartBody builds a body with a "tar" file part (when archive is not
// nil) and a "metadata" field (when metadata is not "-").
func multipartBody(t *testing.T, archive []byte, metadata string) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if archive != nil {
		fw, err := mw.CreateFormFile("tar", "code.tar")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(archive); err != nil {
			t.Fatal(err)
		}
	}
	if metadata != "-" {
		if err := mw.WriteField("metadata", metadata); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// testDecoder is a decoder with the default options.
func testDecoder(t *testing.T) *decoder {
	t.Helper()
	o := Options{}.withDefaults()
	if err := o.validate(); err != nil {
		t.Fatal(err)
	}
	return &decoder{
		limits:       limitPolicy{defaults: o.Defaults, max: o.Max},
		interps:      &fakeInterps{},
		maxCodeBytes: o.MaxCodeBytes,
		archive:      archiveLimits{maxBytes: o.MaxRequestBytes, maxEntries: o.MaxArchiveEntries},
	}
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// recordRequest serves one body-less request in process.
func recordRequest(h http.Handler, method, path string) response {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func decodeBody(res *http.Response, v any) error {
	return json.NewDecoder(res.Body).Decode(v)
}
