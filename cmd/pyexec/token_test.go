package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestToken: the CLI sends --token, else PYEXEC_TOKEN, as a bearer token;
// without one, a protected server's 401 is a server error (exit 2).
func TestToken(t *testing.T) {
	const token = "tok-0123456789abcdef"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pyexec"`)
			reply(w, http.StatusUnauthorized, api.Error{Error: "this server needs a token"})
			return
		}
		reply(w, http.StatusOK, api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted, Stdout: "ok\n", ExitCode: new(int)})
	}))
	defer srv.Close()
	env := []string{"PYEXEC_SERVER=" + srv.URL}
	for _, tt := range []struct {
		name    string
		environ []string
		args    []string
		code    int
		stderr  string
	}{
		{"flag", env, []string{"--token", token, "eval", "--no-result", "1"}, 0, ""},
		{"env", append(env, "PYEXEC_TOKEN="+token), []string{"eval", "--no-result", "1"}, 0, ""},
		{"flag wins over env", append(env, "PYEXEC_TOKEN=wrong-token-0123456789"), []string{"eval", "--token=" + token, "--no-result", "1"}, 0, ""},
		{"none", env, []string{"eval", "--no-result", "1"}, 2, "pyexec: server said: this server needs a token (401)\n"},
		{"wrong", append(env, "PYEXEC_TOKEN=wrong-token-0123456789"), []string{"eval", "--no-result", "1"}, 2, "pyexec: server said: this server needs a token (401)\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", tt.environ, tt.args...)
			if r.code != tt.code || r.stderr != tt.stderr || (tt.code == 0 && r.stdout != "ok\n") {
				t.Errorf("%+v", r)
			}
			if strings.Contains(r.stderr, token) {
				t.Errorf("the token is in stderr: %q", r.stderr)
			}
		})
	}
}
