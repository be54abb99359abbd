package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// checkMultipart parses r the way a server does and returns the metadata
// and the names of the tar entries.
func checkMultipart(t *testing.T, r *http.Request) (api.Metadata, []string) {
	t.Helper()
	if r.ContentLength != -1 {
		t.Errorf("ContentLength = %d, want -1 (streamed body)", r.ContentLength)
	}
	if err := r.ParseMultipartForm(1 << 20); err != nil {
		t.Fatalf("ParseMultipartForm: %v", err)
	}
	var md api.Metadata
	if err := json.Unmarshal([]byte(r.FormValue("metadata")), &md); err != nil {
		t.Fatalf("metadata part: %v", err)
	}
	f, fh, err := r.FormFile("tar")
	if err != nil {
		t.Fatalf("tar part: %v", err)
	}
	defer f.Close()
	if fh.Filename != "project.tar" {
		t.Errorf("tar filename = %q", fh.Filename)
	}
	if ct := fh.Header.Get("Content-Type"); ct != "application/x-tar" {
		t.Errorf("tar Content-Type = %q", ct)
	}
	names, err := TarNames(f)
	if err != nil {
		t.Fatalf("tar part: %v", err)
	}
	return md, names
}

func TestExecSyncMultipart(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/exec/sync" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data; boundary=") {
			t.Errorf("Content-Type = %q", r.Header.Get("Content-Type"))
		}
		md, names := checkMultipart(t, r)
		if md.Entrypoint != "main.py" || md.DockerImage != "python:3.11-slim" ||
			strings.Join(md.EnvVars, ",") != "A=1" || strings.Join(md.ScriptArgs, ",") != "x,y" {
			t.Errorf("metadata = %+v", md)
		}
		if strings.Join(names, ",") != "lib/util.py,main.py" {
			t.Errorf("tar entries = %q", names)
		}
		writeJSON(w, 200, map[string]any{"execution_id": "exe_1", "status": "completed", "stdout": "hi\n", "exit_code": 3})
	})
	tb, err := TarFromMap(map[string]string{"main.py": "print('hi')", "lib/util.py": ""})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.ExecSync(context.Background(), bytes.NewReader(tb), api.Metadata{
		Entrypoint: "main.py", DockerImage: "python:3.11-slim",
		EnvVars: []string{"A=1"}, ScriptArgs: []string{"x", "y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stdout != "hi\n" || rec.ExitCode == nil || *rec.ExitCode != 3 {
		t.Errorf("record = %+v", rec)
	}
}

func TestExecAsync(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/exec/async" {
			t.Errorf("path = %s", r.URL.Path)
		}
		md, _ := checkMultipart(t, r)
		if md.Entrypoint != "a.py" {
			t.Errorf("entrypoint = %q", md.Entrypoint)
		}
		writeJSON(w, http.StatusAccepted, api.Accepted{ExecutionID: "exe_42"})
	})
	tb, _ := TarFromMap(map[string]string{"a.py": "pass"})
	id, err := c.ExecAsync(context.Background(), bytes.NewReader(tb), api.Metadata{Entrypoint: "a.py"})
	if err != nil || id != "exe_42" {
		t.Errorf("ExecAsync() = %q, %v", id, err)
	}
}

func TestExecAsyncNoID(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		writeJSON(w, http.StatusAccepted, map[string]string{})
	})
	if _, err := c.ExecAsync(context.Background(), strings.NewReader(""), api.Metadata{Entrypoint: "a.py"}); err == nil {
		t.Error("ExecAsync succeeded without an id")
	}
}

type failingReader struct{ err error }

func (f failingReader) Read([]byte) (int, error) { return 0, f.err }

func TestExecTarReadError(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err == nil {
			t.Error("server parsed a broken body")
		}
		writeJSON(w, 400, api.Error{Error: "bad multipart"})
	})
	boom := errors.New("disk on fire")
	_, err := c.ExecSync(context.Background(), failingReader{boom}, api.Metadata{Entrypoint: "a.py"})
	if err == nil {
		t.Fatal("ExecSync succeeded")
	}
	// Either the transport reports the body error, or the server answered
	// first; both must surface.
	if !errors.Is(err, boom) && StatusCode(err) != 400 {
		t.Errorf("error = %v", err)
	}
	if _, err := c.ExecSync(context.Background(), nil, api.Metadata{}); err == nil {
		t.Error("ExecSync(nil tar) succeeded")
	}
}

// blockingReader blocks until released, like a tar read from a slow pipe.
type blockingReader struct{ release chan struct{} }

func (b blockingReader) Read([]byte) (int, error) {
	<-b.release
	return 0, io.EOF
}

func TestExecContextCancel(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	})
	br := blockingReader{make(chan struct{})}
	t.Cleanup(func() { close(br.release) })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.ExecSync(ctx, br, api.Metadata{Entrypoint: "a.py"})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error = %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ExecSync did not return after the context ended")
	}
}

func TestTarPartIsUntouched(t *testing.T) {
	// The client passes the archive through byte for byte (gzip included).
	payload := []byte("\x1f\x8bnot-really-gzip")
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			t.Fatal(err)
		}
		f, _, err := r.FormFile("tar")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		if !bytes.Equal(got, payload) {
			t.Errorf("tar part = %q", got)
		}
		writeJSON(w, 200, api.Execution{Status: api.StatusCompleted})
	})
	if _, err := c.ExecSync(context.Background(), bytes.NewReader(payload), api.Metadata{Entrypoint: "a.py"}); err != nil {
		t.Fatal(err)
	}
}
