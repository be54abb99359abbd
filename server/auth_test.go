package server

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

const (
	userToken  = "user-0123456789abcdef"
	userToken2 = "user2-0123456789abcdef"
	adminToken = "admin-0123456789abcdef"
)

// doAuth sends a request with an Authorization header (none when auth is
// "").
func doAuth(t *testing.T, method, url, auth, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(res.Body); err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

func TestAuthMatrix(t *testing.T) {
	var logs bytes.Buffer
	s := newTestServer(t, Options{
		Tokens: Tokens{User: []string{userToken, userToken2}, Admin: []string{adminToken}},
		Logger: newTextLogger(&logs),
	}, nil)
	const (
		none  = ""
		user  = "Bearer " + userToken
		user2 = "bearer   " + userToken2 // the scheme in any case, spaces around
		admin = "Bearer " + adminToken
		wrong = "Bearer " + userToken + "x"
		basic = "Basic dXNlcjpwYXNz"
		empty = "Bearer "
	)
	eval := `{"code":"1"}`
	tests := []struct {
		name, method, path, auth, body string
		status                         int
		challenge                      string // WWW-Authenticate, when the status is 401 or 403
	}{
		{"health open", "GET", "/health", none, "", 200, ""},
		{"health with a wrong token", "GET", "/health", wrong, "", 200, ""},
		{"metrics without token", "GET", "/metrics", none, "", 401, `Bearer realm="pyexec"`},
		{"metrics wrong token", "GET", "/metrics", wrong, "", 401, `Bearer realm="pyexec", error="invalid_token"`},
		{"metrics user", "GET", "/metrics", user, "", 200, ""},
		{"eval without token", "POST", "/api/v1/eval", none, eval, 401, `Bearer realm="pyexec"`},
		{"eval basic auth", "POST", "/api/v1/eval", basic, eval, 401, `Bearer realm="pyexec"`},
		{"eval empty bearer", "POST", "/api/v1/eval", empty, eval, 401, `Bearer realm="pyexec"`},
		{"eval wrong token", "POST", "/api/v1/eval", wrong, eval, 401, `Bearer realm="pyexec", error="invalid_token"`},
		{"eval user", "POST", "/api/v1/eval", user, eval, 200, ""},
		{"eval second user, lower-case scheme", "POST", "/api/v1/eval", user2, eval, 200, ""},
		{"eval admin", "POST", "/api/v1/eval", admin, eval, 200, ""},
		{"interpreters without token", "GET", "/api/v1/interpreters", none, "", 401, `Bearer realm="pyexec"`},
		{"interpreters user", "GET", "/api/v1/interpreters", user, "", 200, ""},
		{"execution without token", "GET", "/api/v1/executions/exe_x", none, "", 401, `Bearer realm="pyexec"`},
		{"execution user", "GET", "/api/v1/executions/exe_x", user, "", 404, ""},
		{"spec without token", "GET", "/openapi.json", none, "", 401, `Bearer realm="pyexec"`},
		{"spec user", "GET", "/openapi.json", user, "", 200, ""},
		{"unknown path without token", "GET", "/nope", none, "", 401, `Bearer realm="pyexec"`},
		{"unknown path user", "GET", "/nope", user, "", 404, ""},
		{"deps list without token", "GET", "/api/v1/deps", none, "", 401, `Bearer realm="pyexec"`},
		{"deps list user", "GET", "/api/v1/deps", user, "", 403, `Bearer realm="pyexec", error="insufficient_scope"`},
		{"deps list admin", "GET", "/api/v1/deps", admin, "", 200, ""},
		{"deps delete without token", "DELETE", "/api/v1/deps/abc", none, "", 401, `Bearer realm="pyexec"`},
		{"deps delete user", "DELETE", "/api/v1/deps/abc", user, "", 403, `Bearer realm="pyexec", error="insufficient_scope"`},
		{"deps delete admin", "DELETE", "/api/v1/deps/abc", admin, "", 404, ""}, // no such layer
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := ""
			if tt.body != "" {
				ct = "application/json"
			}
			res := doAuth(t, tt.method, s.URL+tt.path, tt.auth, ct, tt.body)
			if res.status != tt.status {
				t.Fatalf("%s %s: %d %s, want %d", tt.method, tt.path, res.status, res.body, tt.status)
			}
			if got := res.header.Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if res.status == 401 || res.status == 403 {
				res.errorMsg(t) // a JSON error body
			}
		})
	}
	metrics := doAuth(t, "GET", s.URL+"/metrics", admin, "", "")
	if !strings.Contains(string(metrics.body), "pyexec_http_unauthorized_total 12\n") {
		t.Errorf("metrics do not count 12 refusals:\n%s", metrics.body)
	}
	for _, tok := range []string{userToken, userToken2, adminToken} {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("a token is in the logs:\n%s", logs.String())
		}
	}
}

// TestAuthOpen: without tokens every endpoint, the admin ones included, is
// served to anyone, and an Authorization header changes nothing.
func TestAuthOpen(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	for _, auth := range []string{"", "Bearer whatever-token-0123456789"} {
		for _, tt := range []struct {
			method, path string
			status       int
		}{
			{"GET", "/health", 200},
			{"GET", "/metrics", 200},
			{"GET", "/api/v1/interpreters", 200},
			{"GET", "/api/v1/deps", 200},
			{"DELETE", "/api/v1/deps/abc", 404},
		} {
			res := doAuth(t, tt.method, s.URL+tt.path, auth, "", "")
			if res.status != tt.status || res.header.Get("WWW-Authenticate") != "" {
				t.Errorf("%s %s (auth %q): %d %s", tt.method, tt.path, auth, res.status, res.body)
			}
		}
	}
	if res := doAuth(t, "POST", s.URL+"/api/v1/eval", "", "application/json", `{"code":"1"}`); res.status != 200 {
		t.Errorf("eval: %d %s", res.status, res.body)
	}
}

// TestAdminOnlyServer: with admin tokens only, an admin token is needed
// everywhere but /health.
func TestAdminOnlyServer(t *testing.T) {
	s := newTestServer(t, Options{Tokens: Tokens{Admin: []string{adminToken}}}, nil)
	if res := doAuth(t, "GET", s.URL+"/api/v1/interpreters", "", "", ""); res.status != 401 {
		t.Errorf("no token: %d", res.status)
	}
	if res := doAuth(t, "GET", s.URL+"/api/v1/deps", "Bearer "+adminToken, "", ""); res.status != 200 {
		t.Errorf("admin: %d %s", res.status, res.body)
	}
}

func TestAuthenticatorCheck(t *testing.T) {
	a := newAuthenticator(Tokens{User: []string{"u1", "both", "u1"}, Admin: []string{"a1", "both"}})
	if a.open || len(a.entries) != 3 {
		t.Fatalf("open %v, %d entries, want 3 (duplicates merged)", a.open, len(a.entries))
	}
	for _, tt := range []struct {
		tok       string
		ok, admin bool
	}{{"u1", true, false}, {"a1", true, true}, {"both", true, true}, {"u", false, false}, {"", false, false}, {"u1 ", false, false}} {
		c, ok := a.check(tt.tok)
		if ok != tt.ok || c.admin != tt.admin || ok && (c.id == "" || strings.Contains(c.id, tt.tok)) {
			t.Errorf("check(%q) = %+v, %v", tt.tok, c, ok)
		}
	}
	u1, _ := a.check("u1")
	a1, _ := a.check("a1")
	if u1.id == a1.id {
		t.Errorf("two tokens share the id %q", u1.id)
	}
	if !newAuthenticator(Tokens{}).open {
		t.Error("no tokens is not open")
	}
}

func TestBearerToken(t *testing.T) {
	for _, tt := range []struct {
		header, tok string
		ok          bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER  abc ", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic abc", "", false},
		{"abc", "", false},
		{"", "", false},
	} {
		tok, ok := bearerToken(tt.header)
		if tok != tt.tok || ok != tt.ok {
			t.Errorf("bearerToken(%q) = %q, %v", tt.header, tok, ok)
		}
	}
}
