package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// newTestClient starts h behind an httptest server and returns a Client
// for base URL srv.URL+suffix.
func newTestClient(t *testing.T, suffix string, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL + suffix)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func TestNewBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"http://localhost:8080", "http://localhost:8080"},
		{"http://localhost:8080/", "http://localhost:8080"},
		{"localhost:8080", "http://localhost:8080"},
		{"https://example.org/pyexec/", "https://example.org/pyexec"},
		{" http://h//", "http://h"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := New(tt.in)
			if err != nil {
				t.Fatalf("New(%q): %v", tt.in, err)
			}
			if got := c.BaseURL(); got != tt.want {
				t.Errorf("BaseURL() = %q, want %q", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "ftp://h", "http://", "http://h/?a=1", "http://h/#x"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := New(bad); err == nil {
				t.Errorf("New(%q) succeeded, want an error", bad)
			}
		})
	}
}

func TestURLBuilding(t *testing.T) {
	tests := []struct {
		name, suffix, prefix string
	}{
		{"bare", "", ""},
		{"trailing slash", "/", ""},
		{"prefix", "/pyexec", "/pyexec"},
		{"prefix trailing slash", "/pyexec/", "/pyexec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var paths []string
			c := newTestClient(t, tt.suffix, func(w http.ResponseWriter, r *http.Request) {
				paths = append(paths, r.Method+" "+r.URL.EscapedPath())
				switch {
				case r.Method == http.MethodDelete:
					writeJSON(w, 200, api.KillResponse{Status: "killed"})
				case strings.HasSuffix(r.URL.Path, "/health"):
					writeJSON(w, 200, api.Health{Status: "ok"})
				default:
					writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted})
				}
			})
			ctx := context.Background()
			if _, err := c.Health(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, "exe_1"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Kill(ctx, "a/b"); err != nil {
				t.Fatal(err)
			}
			want := []string{
				"GET " + tt.prefix + "/health",
				"GET " + tt.prefix + "/api/v1/executions/exe_1",
				"DELETE " + tt.prefix + "/api/v1/executions/a%2Fb",
			}
			if strings.Join(paths, "|") != strings.Join(want, "|") {
				t.Errorf("paths = %q, want %q", paths, want)
			}
		})
	}
}

func TestErrorDecoding(t *testing.T) {
	tests := []struct {
		name        string
		code        int
		contentType string
		body        string
		wantMsg     string
	}{
		{"json error", 400, "application/json", `{"error":"config.memory_mb must be between 16 and 8192"}`, "config.memory_mb must be between 16 and 8192"},
		{"plain text", 502, "text/plain", "upstream down\n", "Bad Gateway"},
		{"empty json error", 500, "application/json", `{"error":""}`, "Internal Server Error"},
		{"not found", 404, "application/json", `{"error":"execution not found"}`, "execution not found"},
		{"unknown status", 599, "text/plain", "", "HTTP status 599"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.code)
				_, _ = w.Write([]byte(tt.body))
			})
			_, err := c.Get(context.Background(), "exe_x")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("error %v (%T) is not an *APIError", err, err)
			}
			if ae.StatusCode != tt.code || ae.Message != tt.wantMsg {
				t.Errorf("got {%d %q}, want {%d %q}", ae.StatusCode, ae.Message, tt.code, tt.wantMsg)
			}
			if IsNotFound(err) != (tt.code == 404) {
				t.Errorf("IsNotFound = %v for %d", IsNotFound(err), tt.code)
			}
			if StatusCode(err) != tt.code {
				t.Errorf("StatusCode = %d, want %d", StatusCode(err), tt.code)
			}
		})
	}
}

func TestEval(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/eval" {
			t.Errorf("got %s %s", r.Method, r.URL.Path)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q", ct)
		}
		if ua := r.Header.Get("User-Agent"); ua != "test-agent" {
			t.Errorf("User-Agent = %q", ua)
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("decode: %v", err)
		}
		if req["code"] != "2+2" || req["eval_last_expr"] != true || req["python_version"] != "3.11" {
			t.Errorf("request = %v", req)
		}
		cfg, _ := req["config"].(map[string]any)
		if cfg["timeout_seconds"] != 5.0 || len(cfg) != 1 {
			t.Errorf("config = %v", cfg)
		}
		writeJSON(w, 200, map[string]any{"execution_id": "exe_1", "status": "completed", "exit_code": 0, "result": "4"})
	})
	c.userAgent = "test-agent"
	timeout := 5
	rec, err := c.Eval(context.Background(), api.EvalRequest{
		Code: "2+2", EvalLastExpr: true, PythonVersion: "3.11",
		Config: &api.Config{TimeoutSeconds: &timeout},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := rec.ResultString(); !ok || got != "4" {
		t.Errorf("ResultString() = %q, %v", got, ok)
	}
}

func TestWithOptions(t *testing.T) {
	var ua string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ua = r.Header.Get("User-Agent")
		writeJSON(w, 200, api.Health{Status: "ok"})
	}))
	t.Cleanup(srv.Close)
	hc := &http.Client{Timeout: 5 * time.Second}
	c, err := New(srv.URL, WithHTTPClient(hc), WithUserAgent("me/1"), WithHTTPClient(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.hc != hc {
		t.Error("WithHTTPClient not applied")
	}
	if _, err := c.Health(context.Background()); err != nil {
		t.Fatal(err)
	}
	if ua != "me/1" {
		t.Errorf("User-Agent = %q", ua)
	}
}

func TestInfo(t *testing.T) {
	c := newTestClient(t, "/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			writeJSON(w, 200, api.Health{Status: "ok", Version: "1.2.3"})
		case "/api/v1/interpreters":
			writeJSON(w, 200, api.Interpreters{Default: "3.12", Interpreters: []api.Interpreter{{Version: "3.12.1", Series: "3.12", Default: true}}})
		default:
			http.NotFound(w, r)
		}
	})
	h, err := c.Health(context.Background())
	if err != nil || h.Status != "ok" || h.Version != "1.2.3" {
		t.Errorf("Health() = %+v, %v", h, err)
	}
	is, err := c.Interpreters(context.Background())
	if err != nil || is.Default != "3.12" || len(is.Interpreters) != 1 {
		t.Errorf("Interpreters() = %+v, %v", is, err)
	}
}

func TestEmptyID(t *testing.T) {
	c, err := New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(context.Background(), ""); err == nil {
		t.Error("Get(\"\") succeeded")
	}
	if _, err := c.Kill(context.Background(), ""); err == nil {
		t.Error("Kill(\"\") succeeded")
	}
}

func TestConnectionRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, err := New(url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Health(context.Background())
	if err == nil || StatusCode(err) != 0 {
		t.Errorf("Health() error = %v, want a transport error", err)
	}
}

func TestContextCancel(t *testing.T) {
	release := make(chan struct{})
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the server's Close
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.Eval(ctx, api.EvalRequest{Code: "1"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Eval error = %v, want context.DeadlineExceeded", err)
	}
}
