package test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// consulToken is a secret a python-executor deployment may pass; the
// warning names the variable, never its value.
const consulToken = "tok-5e3b91c2-never-logged"

// TestPythonExecutorEnv starts the server the way a python-executor
// deployment would (its docker-compose/nomad variables): the default image
// selects the default interpreter, and the variables that mean nothing
// here get one warning line naming them.
func TestPythonExecutorEnv(t *testing.T) {
	s := startServer(t,
		"PYEXEC_DEFAULT_IMAGE=python:3.11-slim",
		"PYEXEC_DOCKER_SOCKET=/var/run/docker.sock",
		"PYEXEC_NETWORK_MODE=host",
		"PYEXEC_DNS_SERVERS=8.8.8.8,8.8.4.4",
		"PYEXEC_CONSUL_ADDR=consul.service.consul:8500",
		"PYEXEC_CONSUL_TOKEN="+consulToken,
		"PYEXEC_CONSUL_PREFIX=python-executor",
	)

	r := s.do(t, http.MethodGet, "/api/v1/interpreters", "", nil)
	if list := decode[api.Interpreters](t, r.Body); list.Default != "3.11" {
		t.Errorf("default %q, want 3.11: %s", list.Default, r.Body)
	}
	const code = "import sys; print('%d.%d' % sys.version_info[:2])"
	e := s.eval(t, api.EvalRequest{Code: code})
	if e.Status != api.StatusCompleted || e.Stdout != "3.11\n" || !strings.HasPrefix(e.PythonVersion, "3.11.") {
		t.Errorf("/eval naming no version: %s, stdout %q, python %s; want 3.11", e.Status, e.Stdout, e.PythonVersion)
	}
	status, raw := s.execSync(t, map[string]string{"main.py": code}, api.Metadata{Entrypoint: "main.py"})
	if ex := decode[api.Execution](t, raw); status != http.StatusOK || ex.Stdout != "3.11\n" {
		t.Errorf("/exec/sync naming no image: %d, stdout %q; want 3.11", status, ex.Stdout)
	}
	if e := s.eval(t, api.EvalRequest{Code: code, PythonVersion: "3.12"}); e.Stdout != "3.12\n" {
		t.Errorf("python_version 3.12: stdout %q", e.Stdout)
	}
	// The warm pool follows the default (pool.sizes is not configured).
	h := decode[api.Health](t, s.do(t, http.MethodGet, "/health", "", nil).Body)
	if len(h.Pool) != 1 || !strings.HasPrefix(h.Pool[0].Version, "3.11.") {
		t.Errorf("pool %+v, want one of 3.11", h.Pool)
	}

	logs := s.Stderr()
	var warnings []string
	for line := range strings.SplitSeq(logs, "\n") {
		if strings.Contains(line, "PYEXEC_DOCKER_SOCKET") {
			warnings = append(warnings, line)
		}
	}
	if len(warnings) != 1 {
		t.Fatalf("%d log lines name PYEXEC_DOCKER_SOCKET, want 1:\n%s", len(warnings), strings.Join(warnings, "\n"))
	}
	t.Logf("warning: %s", warnings[0])
	want := "vars=PYEXEC_CONSUL_ADDR,PYEXEC_CONSUL_PREFIX,PYEXEC_CONSUL_TOKEN,PYEXEC_DNS_SERVERS,PYEXEC_DOCKER_SOCKET,PYEXEC_NETWORK_MODE"
	if w := warnings[0]; !strings.Contains(w, "level=WARN") || !strings.Contains(w, want) {
		t.Errorf("warning %q, want a WARN line with %s", w, want)
	}
	if strings.Contains(logs, consulToken) {
		t.Error("the log shows the value of PYEXEC_CONSUL_TOKEN")
	}
	if strings.Contains(logs, "PYEXEC_DEFAULT_IMAGE") {
		t.Error("the log names PYEXEC_DEFAULT_IMAGE, which is used, among the ignored")
	}
}

// TestDefaultImageRefused: an image naming no interpreter this machine
// has, or no version at all, stops the start-up with a message saying so.
func TestDefaultImageRefused(t *testing.T) {
	requireJail(t)
	for image, want := range map[string][]string{
		// 3.7 is older than the oldest interpreter pyexec runs (3.8).
		"python:3.7-slim": {"default interpreter", "python:3.7-slim", "names no available Python; available versions: 3."},
		"python:latest":   {"interpreters.default: must name a version series", "PYEXEC_DEFAULT_IMAGE", `got "python:latest"`},
		"ubuntu:22.04":    {"interpreters.default: must name a version series", `got "ubuntu:22.04"`},
	} {
		t.Run(image, func(t *testing.T) {
			s, err := launch([]string{"PYEXEC_DEFAULT_IMAGE=" + image})
			if err == nil {
				s.stop()
				t.Fatal("the server started")
			}
			t.Logf("start-up error: %v", err)
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("start-up error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
