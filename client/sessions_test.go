package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pyexec/pyexec/api"
)

func TestSessionCalls(t *testing.T) {
	var seen []string
	files := map[string][]byte{}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.EscapedPath())
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sessions":
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(api.Session{SessionID: "ses_1", State: api.SessionIdle})
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/sessions/ses_1/eval":
			var req api.CellRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			_ = json.NewEncoder(w).Encode(api.CellResult{Execution: api.Execution{Stdout: req.Code}, Cell: 1, SessionState: api.SessionIdle})
		case r.Method == http.MethodPut:
			b, _ := io.ReadAll(r.Body)
			files[r.URL.Path] = b
			_ = json.NewEncoder(w).Encode(api.SessionFilePut{Size: int64(len(b))})
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/sessions/ses_1/files/a b/c.txt":
			_, _ = w.Write(files["/api/v1/sessions/ses_1/files/a b/c.txt"])
		case r.Method == http.MethodGet && r.URL.Path == "/api/v1/sessions/ses_1/files":
			_ = json.NewEncoder(w).Encode(api.SessionFiles{Files: []api.SessionFile{{Path: "a b/c.txt", Kind: "file", Size: 2}}})
		case r.Method == http.MethodDelete:
			_ = json.NewEncoder(w).Encode(api.Session{SessionID: "ses_1", State: api.SessionClosed})
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"no such session"}`))
		}
	}))
	defer ts.Close()
	c, err := New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ses, err := c.CreateSession(ctx, api.SessionRequest{})
	if err != nil || ses.SessionID != "ses_1" {
		t.Fatalf("create: %+v %v", ses, err)
	}
	if res, err := c.RunCell(ctx, "ses_1", api.CellRequest{Code: "x"}); err != nil || res.Stdout != "x" || res.Cell != 1 {
		t.Fatalf("cell: %+v %v", res, err)
	}
	if err := c.PutSessionFile(ctx, "ses_1", "a b/c.txt", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if b, err := c.GetSessionFile(ctx, "ses_1", "a b/c.txt"); err != nil || string(b) != "hi" {
		t.Fatalf("get: %q %v", b, err)
	}
	if fs, err := c.SessionFiles(ctx, "ses_1"); err != nil || len(fs) != 1 {
		t.Fatalf("list: %+v %v", fs, err)
	}
	if ses, err := c.CloseSession(ctx, "ses_1"); err != nil || ses.State != api.SessionClosed {
		t.Fatalf("close: %+v %v", ses, err)
	}
	if _, err := c.Session(ctx, "ses_2"); !IsNotFound(err) {
		t.Fatalf("unknown: %v", err)
	}
	if _, err := c.GetSessionFile(ctx, "ses_1", "/etc/passwd"); err == nil {
		t.Fatal("an absolute path was sent")
	}
	if seen[2] != "PUT /api/v1/sessions/ses_1/files/a%20b/c.txt" {
		t.Errorf("requests: %v", seen)
	}
}

func TestRunCellStream(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "text/event-stream" {
			_ = json.NewEncoder(w).Encode(api.CellResult{Execution: api.Execution{Stdout: "all\n"}, Cell: 1, SessionState: api.SessionIdle})
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "event: status\ndata: {\"execution_id\":\"exe_1\",\"status\":\"running\"}\n\n"+
			"event: stdout\ndata: {\"text\":\"0\\n\"}\n\n"+
			"event: done\ndata: {\"execution_id\":\"exe_1\",\"status\":\"completed\",\"stdout\":\"0\\n\",\"session_id\":\"ses_1\",\"cell\":2,\"session_state\":\"idle\"}\n\n")
	}))
	defer ts.Close()
	c, err := New(ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	res, err := c.RunCellStream(context.Background(), "ses_1", api.CellRequest{Code: "print(0)"}, func(ev Event) error {
		names = append(names, ev.Name+":"+ev.Text)
		return nil
	})
	if err != nil || res.Cell != 2 || res.SessionID != "ses_1" || res.ExecutionID != "exe_1" || res.Stdout != "0\n" {
		t.Fatalf("streamed cell: %+v %v", res, err)
	}
	if len(names) != 3 || names[1] != "stdout:0\n" || names[2] != "done:" {
		t.Errorf("events %q", names)
	}
	// A server that answers with JSON: the record's output as events.
	c2, _ := New(ts.URL)
	c2.hc = &http.Client{Transport: plainJSON{}}
	res, err = c2.RunCellStream(context.Background(), "ses_1", api.CellRequest{Code: "x"}, nil)
	if err != nil || res.Cell != 1 || res.Stdout != "all\n" {
		t.Fatalf("plain JSON cell: %+v %v", res, err)
	}
}

// plainJSON drops the Accept header, as a server without event streams
// answers.
type plainJSON struct{}

func (plainJSON) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Del("Accept")
	return http.DefaultTransport.RoundTrip(r)
}
