package test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// httpClient is used by every helper; the request timeout is a backstop,
// tests keep their runs far shorter.
var httpClient = &http.Client{Timeout: 2 * time.Minute}

// response is what a helper got back.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// request sends one request and reads the whole answer. It does not touch
// a testing.T, so goroutines may call it.
func (s *Server) request(ctx context.Context, method, path, contentType string, body io.Reader) (response, error) {
	req, err := http.NewRequestWithContext(ctx, method, s.URL+path, body)
	if err != nil {
		return response{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// do is request for a test: a transport error fails it.
func (s *Server) do(t testing.TB, method, path, contentType string, body io.Reader) response {
	t.Helper()
	r, err := s.request(context.Background(), method, path, contentType, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// postJSON posts body as JSON; a []byte or string body is sent as is.
func (s *Server) postJSON(t testing.TB, path string, body any) (status int, raw []byte) {
	t.Helper()
	var b []byte
	switch v := body.(type) {
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	r := s.do(t, http.MethodPost, path, "application/json", bytes.NewReader(b))
	return r.Status, r.Body
}

// eval runs req with POST /api/v1/eval and asserts a 200.
func (s *Server) eval(t testing.TB, req api.EvalRequest) api.Execution {
	t.Helper()
	status, raw := s.postJSON(t, "/api/v1/eval", req)
	if status != http.StatusOK {
		t.Fatalf("POST /api/v1/eval: status %d, want 200: %s", status, raw)
	}
	return decode[api.Execution](t, raw)
}

// execSync posts files (as an uncompressed tar) and meta to /exec/sync.
func (s *Server) execSync(t testing.TB, files map[string]string, meta api.Metadata) (int, []byte) {
	t.Helper()
	r := s.postMultipart(t, "/api/v1/exec/sync", tarPart(tarFiles(t, files)), metaPart(t, meta))
	return r.Status, r.Body
}

// execAsync posts files and meta to /exec/async, asserts a 202 and returns
// the execution id.
func (s *Server) execAsync(t testing.TB, files map[string]string, meta api.Metadata) string {
	t.Helper()
	r := s.postMultipart(t, "/api/v1/exec/async", tarPart(tarFiles(t, files)), metaPart(t, meta))
	if r.Status != http.StatusAccepted {
		t.Fatalf("POST /api/v1/exec/async: status %d, want 202: %s", r.Status, r.Body)
	}
	acc := decode[api.Accepted](t, r.Body)
	if !strings.HasPrefix(acc.ExecutionID, "exe_") {
		t.Fatalf("execution id %q does not start with exe_", acc.ExecutionID)
	}
	return acc.ExecutionID
}

// get reads an execution record; wait > 0 long-polls with ?wait=.
func (s *Server) get(t testing.TB, id string, wait time.Duration) (int, api.Execution) {
	t.Helper()
	path := "/api/v1/executions/" + url.PathEscape(id)
	if wait > 0 {
		path += "?wait=" + strconv.FormatFloat(wait.Seconds(), 'f', -1, 64)
	}
	r := s.do(t, http.MethodGet, path, "", nil)
	if r.Status != http.StatusOK {
		return r.Status, api.Execution{}
	}
	return r.Status, decode[api.Execution](t, r.Body)
}

// waitDone long-polls until the execution is final (at most a minute).
func (s *Server) waitDone(t testing.TB, id string) api.Execution {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		status, e := s.get(t, id, 10*time.Second)
		if status != http.StatusOK {
			t.Fatalf("GET execution %s: status %d", id, status)
		}
		if e.Finished() {
			return e
		}
	}
	t.Fatalf("execution %s did not finish within a minute", id)
	return api.Execution{}
}

// kill sends DELETE /api/v1/executions/{id}.
func (s *Server) kill(t testing.TB, id string) response {
	t.Helper()
	return s.do(t, http.MethodDelete, "/api/v1/executions/"+url.PathEscape(id), "", nil)
}

// metrics returns the /metrics text.
func (s *Server) metrics(t testing.TB) string {
	t.Helper()
	r := s.do(t, http.MethodGet, "/metrics", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", r.Status, r.Body)
	}
	return string(r.Body)
}

// metric returns the value of the sample named exactly name (with its
// labels, e.g. `pyexec_executions_total{status="killed"}`), or -1.
func metric(text, name string) float64 {
	for line := range strings.SplitSeq(text, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// part is one multipart part; a non-empty filename makes it a file part.
type part struct {
	name, filename string
	data           []byte
}

func tarPart(b []byte) part { return part{name: "tar", filename: "project.tar", data: b} }

func metaPart(t testing.TB, meta api.Metadata) part {
	t.Helper()
	b, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	return part{name: "metadata", data: b}
}

// multipartBody builds a multipart/form-data body and its content type.
func multipartBody(t testing.TB, parts ...part) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.filename != "" {
			w, err = mw.CreateFormFile(p.name, p.filename)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err == nil {
			_, err = w.Write(p.data)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

func (s *Server) postMultipart(t testing.TB, path string, parts ...part) response {
	t.Helper()
	body, ct := multipartBody(t, parts...)
	return s.do(t, http.MethodPost, path, ct, bytes.NewReader(body))
}

// tarFiles builds an uncompressed tar of regular files, in name order.
func tarFiles(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var hdrs []*tar.Header
	for _, name := range slices.Sorted(maps.Keys(files)) {
		hdrs = append(hdrs, &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg})
	}
	return tarOf(t, hdrs, files)
}

// tarOf writes the headers in order; a regular file's data is data[Name].
func tarOf(t testing.TB, hdrs []*tar.Header, data map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data[h.Name]))
		}
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("tar header %q: %v", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(data[h.Name])); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func decode[T any](t testing.TB, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decoding %T: %v\n%s", v, err, raw)
	}
	return v
}

// resultOf returns the record's result: its repr string, or "<null>" when
// it is absent or JSON null.
func resultOf(e api.Execution) string {
	if s, ok := e.ResultString(); ok {
		return s
	}
	return "<null>"
}

// describe is a one-line summary of a record for failure messages.
func describe(e api.Execution) string {
	exit := "none"
	if e.ExitCode != nil {
		exit = strconv.Itoa(*e.ExitCode)
	}
	return fmt.Sprintf("status=%s exit=%s error=%q timed_out=%v oom=%v stdout=%q stderr=%q",
		e.Status, exit, e.Error, e.TimedOut, e.OOMKilled, tail(e.Stdout, 300), tail(e.Stderr, 600))
}

// ptr returns a pointer to v, for the optional fields of api.Config.
func ptr[T any](v T) *T { return &v }
