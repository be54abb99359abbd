package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestWithToken: every call carries the bearer token; without the option
// none is sent, and a server's 401 is an *APIError.
func TestWithToken(t *testing.T) {
	const token = "tok-0123456789abcdef"
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pyexec"`)
			writeJSON(w, http.StatusUnauthorized, api.Error{Error: "this server needs a token"})
			return
		}
		switch r.URL.Path {
		case "/api/v1/eval":
			writeJSON(w, http.StatusOK, api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted})
		case "/api/v1/executions/exe_1":
			writeJSON(w, http.StatusOK, api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted})
		default:
			writeJSON(w, http.StatusOK, api.Interpreters{Default: "3.12", Interpreters: []api.Interpreter{}})
		}
	}))
	defer srv.Close()
	ctx := context.Background()

	c, err := New(srv.URL, WithToken(" "+token+" "))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Eval(ctx, api.EvalRequest{Code: "1"}); err != nil {
		t.Fatalf("Eval with the token: %v", err)
	}
	if _, err := c.Get(ctx, "exe_1"); err != nil {
		t.Fatalf("Get with the token: %v", err)
	}
	if _, err := c.Interpreters(ctx); err != nil {
		t.Fatalf("Interpreters with the token: %v", err)
	}

	anon, _ := New(srv.URL)
	_, err = anon.Eval(ctx, api.EvalRequest{Code: "1"})
	if StatusCode(err) != http.StatusUnauthorized {
		t.Fatalf("Eval without a token: %v, want a 401 APIError", err)
	}
	empty, _ := New(srv.URL, WithToken(""))
	if _, err := empty.Eval(ctx, api.EvalRequest{Code: "1"}); StatusCode(err) != http.StatusUnauthorized {
		t.Fatalf("Eval with an empty token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"Bearer " + token, "Bearer " + token, "Bearer " + token, "", ""}
	if len(seen) != len(want) {
		t.Fatalf("Authorization headers %q, want %q", seen, want)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Errorf("request %d: Authorization %q, want %q", i, seen[i], want[i])
		}
	}
}
