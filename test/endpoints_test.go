package test

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// hostCgroupMode tells how the host mounts cgroups, the way /health should.
func hostCgroupMode() string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "v2"
	}
	if _, err := os.Stat("/sys/fs/cgroup/unified/cgroup.controllers"); err == nil {
		return "hybrid"
	}
	return "v1"
}

func TestInfoEndpoints(t *testing.T) {
	s := sharedServer(t)

	t.Run("health", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/health", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		h := decode[api.Health](t, r.Body)
		if h.Status != "ok" {
			t.Errorf("status %q, want ok", h.Status)
		}
		if len(h.Interpreters) == 0 {
			t.Error("no interpreters listed")
		}
		e := h.Enforced
		if e == nil {
			t.Fatalf("no enforced field: %s", r.Body)
		}
		for name, on := range map[string]bool{
			"user_namespace": e.UserNamespace, "seccomp": e.Seccomp, "no_new_privs": e.NoNewPrivs,
			"memory_limit": e.MemoryLimit, "cpu_limit": e.CPULimit, "pids_limit": e.PidsLimit,
		} {
			if !on {
				t.Errorf("enforced.%s is false", name)
			}
		}
		if want := hostCgroupMode(); e.CgroupMode != want {
			t.Errorf("cgroup_mode %q, want %q (this host)", e.CgroupMode, want)
		}
		for _, ns := range []string{"user", "mount", "pid", "net"} {
			if !strings.Contains(strings.Join(e.Namespaces, ","), ns) {
				t.Errorf("namespaces %v lack %q", e.Namespaces, ns)
			}
		}
	})

	t.Run("interpreters", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/api/v1/interpreters", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), "/") {
			t.Errorf("the list shows a path: %s", r.Body)
		}
		list := decode[api.Interpreters](t, r.Body)
		if list.Default != "3.12" {
			t.Errorf("default %q, want 3.12", list.Default)
		}
		defaults := 0
		for _, in := range list.Interpreters {
			if !strings.HasPrefix(in.Version, in.Series+".") {
				t.Errorf("version %q is not in series %q", in.Version, in.Series)
			}
			if in.Default {
				defaults++
			}
		}
		if defaults != 1 {
			t.Errorf("%d interpreters marked default, want 1: %s", defaults, r.Body)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		s.eval(t, api.EvalRequest{Code: "print('count me')"})
		r := s.do(t, http.MethodGet, "/metrics", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("content type %q, want text/plain", ct)
		}
		text := string(r.Body)
		if !strings.Contains(text, "# TYPE pyexec_executions_total counter") {
			t.Errorf("no executions counter:\n%s", text)
		}
		if n := metric(text, `pyexec_executions_total{status="completed"}`); n < 1 {
			t.Errorf("completed executions = %v after a run, want >= 1:\n%s", n, text)
		}
	})

	t.Run("openapi", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/openapi.json", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		var doc struct {
			OpenAPI string         `json:"openapi"`
			Paths   map[string]any `json:"paths"`
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if doc.OpenAPI == "" || doc.Paths["/api/v1/eval"] == nil {
			t.Errorf("openapi %q, paths without /api/v1/eval", doc.OpenAPI)
		}
	})

	t.Run("docs", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/docs", "", nil)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d", r.Status)
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("content type %q, want text/html", ct)
		}
		if !strings.Contains(strings.ToLower(string(r.Body)), "<html") {
			t.Errorf("not an HTML page: %.200s", r.Body)
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, c := range []struct{ method, path string }{
			{http.MethodGet, "/api/v1/executions/exe_00000000-0000-0000-0000-000000000000"},
			{http.MethodDelete, "/api/v1/executions/exe_00000000-0000-0000-0000-000000000000"},
			{http.MethodGet, "/api/v1/executions/nonsense"},
			{http.MethodGet, "/api/v1/nope"},
			{http.MethodPost, "/nope"},
		} {
			r := s.do(t, c.method, c.path, "", nil)
			errorBody(t, r, http.StatusNotFound)
		}
	})

	t.Run("method not allowed", func(t *testing.T) {
		r := s.do(t, http.MethodGet, "/api/v1/eval", "", nil)
		errorBody(t, r, http.StatusMethodNotAllowed)
		if !strings.Contains(r.Header.Get("Allow"), http.MethodPost) {
			t.Errorf("Allow %q lacks POST", r.Header.Get("Allow"))
		}
	})

	t.Run("bad wait", func(t *testing.T) {
		errorBody(t, s.do(t, http.MethodGet, "/api/v1/executions/exe_x?wait=soon", "", nil), http.StatusBadRequest)
	})
}

func TestRunEndpoints(t *testing.T) {
	s := sharedServer(t)
	hello := map[string]string{"main.py": "print('hello')"}

	t.Run("eval", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "print('hello')"})
		wantRun(t, e, "hello\n")
		if !strings.HasPrefix(e.ExecutionID, "exe_") || e.StartedAt == nil || e.FinishedAt == nil || e.PythonVersion == "" {
			t.Errorf("incomplete record: %+v", e)
		}
		// A sync run's record stays readable.
		status, got := s.get(t, e.ExecutionID, 0)
		if status != http.StatusOK || got.Stdout != "hello\n" || got.Status != api.StatusCompleted {
			t.Errorf("GET after eval: %d %s", status, describe(got))
		}
	})

	t.Run("exec sync", func(t *testing.T) {
		status, raw := s.execSync(t, hello, api.Metadata{Entrypoint: "main.py"})
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		wantRun(t, decode[api.Execution](t, raw), "hello\n")
	})

	t.Run("exec async", func(t *testing.T) {
		id := s.execAsync(t, map[string]string{"main.py": "import time\ntime.sleep(0.5)\nprint('late')"}, api.Metadata{Entrypoint: "main.py"})
		status, e := s.get(t, id, 0)
		if status != http.StatusOK || e.ExecutionID != id {
			t.Fatalf("GET at once: %d %+v", status, e)
		}
		start := time.Now()
		status, e = s.get(t, id, 20*time.Second)
		if took := time.Since(start); status != http.StatusOK || !e.Finished() || took > 10*time.Second {
			t.Fatalf("long-poll: status %d after %v: %s", status, took, describe(e))
		}
		wantRun(t, e, "late\n")
	})

	t.Run("kill", func(t *testing.T) {
		// The job forks: the kill must take its whole tree.
		code := tagged("e2e-kill", "import os, time\nprint('before', flush=True)\nos.fork()\ntime.sleep(60)\nprint('after')")
		id := s.execAsync(t, map[string]string{"main.py": code}, api.Metadata{Entrypoint: "main.py"})
		waitRunning(t, s, id)
		// Python printed before it forked.
		for deadline := time.Now().Add(10 * time.Second); len(s.procsNamed("e2e-kill")) < 2; {
			if time.Now().After(deadline) {
				t.Fatalf("the job's processes: %v, want 2 (python and its fork)", s.procsNamed("e2e-kill"))
			}
			time.Sleep(20 * time.Millisecond)
		}
		start := time.Now()
		r := s.kill(t, id)
		if took := time.Since(start); took > time.Second {
			t.Errorf("DELETE took %v, want < 1s", took)
		}
		if r.Status != http.StatusOK || decode[api.KillResponse](t, r.Body).Status != api.StatusKilled {
			t.Fatalf("DELETE: %d %s, want 200 killed", r.Status, r.Body)
		}
		e := s.waitDone(t, id)
		if e.Status != api.StatusKilled || e.Stdout != "before\n" {
			t.Errorf("killed record: %s, want killed with stdout \"before\\n\"", describe(e))
		}
		waitGone(t, s, "e2e-kill", 2*time.Second)
	})

	t.Run("delete finished", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "print('done')"})
		r := s.kill(t, e.ExecutionID)
		if r.Status != http.StatusOK || decode[api.KillResponse](t, r.Body).Status != api.StatusCompleted {
			t.Errorf("DELETE of a finished run: %d %s, want 200 completed", r.Status, r.Body)
		}
		if _, got := s.get(t, e.ExecutionID, 0); got.Status != api.StatusCompleted {
			t.Errorf("after DELETE the record is %s", describe(got))
		}
	})
}

// wantRun asserts a run completed with exit code 0 and exactly stdout.
func wantRun(t testing.TB, e api.Execution, stdout string) {
	t.Helper()
	if e.Status != api.StatusCompleted || e.ExitCode == nil || *e.ExitCode != 0 || e.Stdout != stdout {
		t.Errorf("got %s; want completed, exit 0, stdout %q", describe(e), tail(stdout, 300))
	}
}

// waitRunning polls until the execution is running (at most 10 s).
func waitRunning(t testing.TB, s *Server, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		status, e := s.get(t, id, 0)
		if status != http.StatusOK {
			t.Fatalf("GET %s: status %d", id, status)
		}
		switch e.Status {
		case api.StatusRunning:
			return
		case api.StatusPending:
			time.Sleep(20 * time.Millisecond)
		default:
			t.Fatalf("execution %s ended before it was seen running: %s", id, describe(e))
		}
	}
	t.Fatalf("execution %s not running after 10s", id)
}

// tagged prefixes code so that the jail's Python process, and any child
// it forks, is named tag (at most 15 bytes) in /proc/<pid>/comm: a test can
// then tell its job's processes from the idle pooled jails of the server.
func tagged(tag, code string) string {
	return "import ctypes\nctypes.CDLL(None).prctl(15, b'" + tag + "', 0, 0, 0)\n" + code
}

// procsNamed lists the server's jail processes named tag.
func (s *Server) procsNamed(tag string) []string {
	var out []string
	for _, p := range s.jailProcs() {
		if strings.HasSuffix(p, ":"+tag) {
			out = append(out, p)
		}
	}
	return out
}

// waitGone asserts that no process of the job tagged tag is left within d.
func waitGone(t testing.TB, s *Server, tag string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for len(s.procsNamed(tag)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if procs := s.procsNamed(tag); len(procs) > 0 {
		t.Errorf("processes of the job %s alive %v after it ended: %v", tag, d, procs)
	}
}
