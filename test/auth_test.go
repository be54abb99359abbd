package test

// Bearer tokens against the real binary: a protected server answers 401
// without a valid token (everything but /health, /metrics included), lets
// the Go client and the CLI in with one, and keeps the dependency cache's
// admin endpoints to admin tokens. An open server on a non-loopback
// address warns at start-up.

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

const (
	e2eUserToken  = "e2e-user-0123456789abcdef"
	e2eAdminToken = "e2e-admin-0123456789abcdef"
)

// requestAuth is request with an Authorization header ("" for none).
func (s *Server) requestAuth(t *testing.T, method, path, auth, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: raw}
}

func TestAuth(t *testing.T) {
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# e2e\n"+e2eUserToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "PYEXEC_SERVER_AUTH_TOKENS_FILE="+tokens, "PYEXEC_SERVER_ADMIN_TOKENS="+e2eAdminToken)
	user, admin := "Bearer "+e2eUserToken, "Bearer "+e2eAdminToken
	eval := `{"code": "print('hi')"}`

	for _, tt := range []struct {
		name, method, path, auth, body string
		status                         int
	}{
		{"health without token", "GET", "/health", "", "", 200},
		{"eval without token", "POST", "/api/v1/eval", "", eval, 401},
		{"eval wrong token", "POST", "/api/v1/eval", "Bearer " + e2eUserToken + "x", eval, 401},
		{"metrics without token", "GET", "/metrics", "", "", 401},
		{"metrics with token", "GET", "/metrics", user, "", 200},
		{"interpreters without token", "GET", "/api/v1/interpreters", "", "", 401},
		{"spec without token", "GET", "/openapi.json", "", "", 401},
		{"deps list user", "GET", "/api/v1/deps", user, "", 403},
		{"deps list admin", "GET", "/api/v1/deps", admin, "", 200},
		{"deps delete user", "DELETE", "/api/v1/deps/" + strings.Repeat("0", 32), user, "", 403},
		{"deps delete admin", "DELETE", "/api/v1/deps/" + strings.Repeat("0", 32), admin, "", 404},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			r := s.requestAuth(t, tt.method, tt.path, tt.auth, ct, tt.body)
			if r.Status != tt.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, tt.status)
			}
			if tt.status == 401 || tt.status == 403 {
				if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
					t.Errorf("WWW-Authenticate %q", r.Header.Get("WWW-Authenticate"))
				}
				if e := decode[api.Error](t, r.Body); e.Error == "" {
					t.Errorf("body %s is not a JSON error", r.Body)
				}
			}
		})
	}

	t.Run("Go client", func(t *testing.T) {
		ctx := context.Background()
		anon, err := client.New(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := anon.Eval(ctx, api.EvalRequest{Code: "1"}); client.StatusCode(err) != http.StatusUnauthorized {
			t.Fatalf("without a token: %v, want 401", err)
		}
		if _, err := anon.Health(ctx); err != nil {
			t.Fatalf("health without a token: %v", err)
		}
		c, err := client.New(s.URL, client.WithToken(e2eUserToken))
		if err != nil {
			t.Fatal(err)
		}
		e, err := c.Eval(ctx, api.EvalRequest{Code: "print('hi')"})
		if err != nil {
			t.Fatalf("with the token: %v", err)
		}
		wantRun(t, *e, "hi\n")
		if got, err := c.Get(ctx, e.ExecutionID); err != nil || got.Status != api.StatusCompleted {
			t.Fatalf("get: %+v %v", got, err)
		}
	})

	t.Run("CLI", func(t *testing.T) {
		cli(t, s.URL, cliRun{args: []string{"eval", "--no-result", "print('hi')"}}).
			want(t, 2, "", "", "401")
		cli(t, s.URL, cliRun{args: []string{"eval", "--no-result", "print('hi')"}, env: []string{"PYEXEC_TOKEN=" + e2eUserToken}}).
			want(t, 0, "hi\n", "")
		cli(t, s.URL, cliRun{args: []string{"--token", e2eUserToken, "eval", "--no-result", "print('hi')"}}).
			want(t, 0, "hi\n", "")
	})

	out := s.Stderr()
	if !strings.Contains(out, "the API needs a bearer token") {
		t.Errorf("no start-up line about tokens:\n%s", out)
	}
	if strings.Contains(out, e2eUserToken) || strings.Contains(out, e2eAdminToken) {
		t.Errorf("a token is in the server's log:\n%s", out)
	}
}

// TestOpenServerWarns: no tokens and a non-loopback address: one warning
// at start-up. (The harness reaches it on 127.0.0.1.)
func TestOpenServerWarns(t *testing.T) {
	s := startServer(t, "PYEXEC_SERVER_HOST=0.0.0.0", "PYEXEC_POOL_SIZES=")
	if out := s.Stderr(); !strings.Contains(out, "the API is open to anyone who can reach this address") {
		t.Errorf("no warning:\n%s", out)
	}
	stillServes(t, s)
}
