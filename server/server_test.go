package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func TestHealth(t *testing.T) {
	s := newTestServer(t, Options{Version: "1.2.3", Enforcement: api.Enforcement{Seccomp: true, CgroupMode: "hybrid"}}, nil)
	res := s.get(t, "/health")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", res.status, res.header.Get("Content-Type"), res.body)
	}
	var h api.Health
	res.decode(t, &h)
	if h.Status != "ok" || h.Version != "1.2.3" || len(h.Interpreters) != 3 || h.Enforced == nil ||
		!h.Enforced.Seccomp || h.Enforced.CgroupMode != "hybrid" {
		t.Errorf("health = %+v", h)
	}
}

func TestInterpretersEndpoint(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	var got api.Interpreters
	s.get(t, "/api/v1/interpreters").decode(t, &got)
	if got.Default != "3.12" || len(got.Interpreters) != 3 || got.Interpreters[1].Version != "3.11.7" {
		t.Errorf("interpreters = %+v", got)
	}
}

func TestEval(t *testing.T) {
	runner := &fakeRunner{}
	s := newTestServer(t, Options{}, runner)
	res := s.postJSON(t, "/api/v1/eval", `{"code":"print('ok')","stdin":"x"}`)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	var e api.Execution
	res.decode(t, &e)
	if !strings.HasPrefix(e.ExecutionID, "exe_") || len(e.ExecutionID) != 40 || e.Status != api.StatusCompleted ||
		e.Stdout != "ok\n" || e.ExitCode == nil || *e.ExitCode != 0 || e.DurationMS != 3 || e.PythonVersion != "3.12.1" ||
		e.StartedAt == nil || e.FinishedAt == nil || e.Usage == nil {
		t.Errorf("record = %s", res.body)
	}
	if got := s.execution(t, e.ExecutionID); got.Status != api.StatusCompleted || got.Stdout != "ok\n" {
		t.Errorf("stored record = %+v", got)
	}
	jobs := runner.Jobs()
	if len(jobs) != 1 || jobs[0].ID != e.ExecutionID || string(jobs[0].Stdin) != "x" {
		t.Errorf("jobs = %+v", jobs)
	}
}

func TestEvalResultField(t *testing.T) {
	runner := &fakeRunner{fn: func(_ context.Context, job Job) (Outcome, error) {
		code := string(job.Files[0].Data)
		if code == "x + y" {
			r := "15"
			return Outcome{HasResult: true, Result: &r}, nil
		}
		return Outcome{HasResult: job.EvalLastExpr}, nil
	}}
	s := newTestServer(t, Options{}, runner)
	tests := []struct {
		name, body, want string // want: raw JSON of "result", "" for absent
	}{
		{"absent without eval_last_expr", `{"code":"x + y"}`, ""},
		{"null", `{"code":"x = 1","eval_last_expr":true}`, "null"},
		{"string", `{"code":"x + y","eval_last_expr":true}`, `"15"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.postJSON(t, "/api/v1/eval", tt.body)
			var m map[string]json.RawMessage
			res.decode(t, &m)
			got, ok := m["result"]
			if (tt.want == "") == ok || string(got) != tt.want {
				t.Errorf("result = %s (present %v), want %q", got, ok, tt.want)
			}
			var e api.Execution
			res.decode(t, &e)
			if s, ok := e.ResultString(); ok != (tt.want == `"15"`) || (ok && s != "15") {
				t.Errorf("ResultString = %q, %v", s, ok)
			}
		})
	}
}

func TestEvalBadInputOverHTTP(t *testing.T) {
	runner := &fakeRunner{}
	s := newTestServer(t, Options{MaxRequestBytes: 200 << 10}, runner)
	tests := []struct {
		name   string
		body   string
		status int
	}{
		{"bad JSON", `{`, 400},
		{"nothing to run", `{}`, 400},
		{"bad name", `{"files":[{"name":"../x","content":""}]}`, 400},
		{"bad version", `{"code":"1","python_version":"4.0"}`, 400},
		{"bad limit", `{"code":"1","config":{"memory_mb":100000}}`, 400},
		{"code over 100 KiB", `{"code":"` + strings.Repeat("x", 101<<10) + `"}`, 413},
		{"body over the request limit", `{"stdin":"` + strings.Repeat("x", 201<<10) + `","code":"1"}`, 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.postJSON(t, "/api/v1/eval", tt.body)
			if res.status != tt.status {
				t.Fatalf("status %d %s, want %d", res.status, res.body, tt.status)
			}
			if msg := res.errorMsg(t); msg == "" {
				t.Error("empty error message")
			}
			s.requireHealthy(t)
		})
	}
	if n := len(runner.Jobs()); n != 0 {
		t.Errorf("%d jobs reached the runner", n)
	}
}

func TestEvalBodyLimit(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	// 100 KiB of code and 16 MiB for the rest: 16,879,616 bytes.
	tests := []struct {
		name   string
		stdin  int
		status int
	}{
		{"16 MiB of stdin", 16<<20 - 1000, http.StatusOK},
		{"past the /eval limit", 16<<20 + 100<<10, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := s.postJSON(t, "/api/v1/eval", `{"code":"1","stdin":"`+strings.Repeat("x", tt.stdin)+`"}`)
			if res.status != tt.status {
				t.Fatalf("%d %.200s, want %d", res.status, res.body, tt.status)
			}
			if tt.status != http.StatusOK && !strings.Contains(res.errorMsg(t), "limit of 16879616 bytes") {
				t.Errorf("message %s", res.body)
			}
		})
	}
}

func TestExec(t *testing.T) {
	runner := &fakeRunner{}
	s := newTestServer(t, Options{}, runner)
	archive := makeTar(t, tarEntry{name: "main.py", body: "print(1)"}, tarEntry{name: "pkg/a.py", body: "A=1"})
	meta := `{"entrypoint":"main.py","docker_image":"python:3.11-slim","env_vars":["K=v"],"script_args":["1"],
		"pre_commands":["true"],"stdin":"s","requirements_txt":"six"}`

	t.Run("sync", func(t *testing.T) {
		res := s.postExec(t, "/api/v1/exec/sync", archive, meta)
		if res.status != http.StatusOK {
			t.Fatalf("%d %s", res.status, res.body)
		}
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusCompleted || e.Stdout != "ok\n" || e.PythonVersion != "3.11.7" {
			t.Errorf("record = %s", res.body)
		}
		jobs := runner.Jobs()
		j := jobs[len(jobs)-1]
		if j.Entrypoint != "main.py" || len(j.Files) != 3 || j.Env[0] != "K=v" || j.Args[0] != "1" ||
			j.PreCommands[0] != "true" || string(j.Stdin) != "s" || j.Requirements.Text() != "six\n" {
			t.Errorf("job = %+v", j)
		}
	})
	t.Run("async gzip", func(t *testing.T) {
		res := s.postExec(t, "/api/v1/exec/async", gzipped(t, archive), `{"entrypoint":"pkg/a.py"}`)
		if res.status != http.StatusAccepted {
			t.Fatalf("%d %s", res.status, res.body)
		}
		var acc api.Accepted
		res.decode(t, &acc)
		if !strings.HasPrefix(acc.ExecutionID, "exe_") {
			t.Fatalf("accepted = %s", res.body)
		}
		res = s.get(t, "/api/v1/executions/"+acc.ExecutionID+"?wait=5")
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusCompleted {
			t.Errorf("record = %s", res.body)
		}
	})
}

func TestExecBadInputOverHTTP(t *testing.T) {
	runner := &fakeRunner{}
	s := newTestServer(t, Options{MaxRequestBytes: 64 << 10}, runner)
	good := makeTar(t, tarEntry{name: "main.py", body: "print(1)"})
	big := makeTar(t, tarEntry{name: "main.py", body: strings.Repeat("x", 65<<10)})
	tests := []struct {
		name     string
		archive  []byte
		metadata string
		status   int
	}{
		{"missing tar", nil, `{"entrypoint":"main.py"}`, 400},
		{"missing metadata", good, "-", 400},
		{"entrypoint missing", good, `{"entrypoint":"nope.py"}`, 400},
		{"bad env", good, `{"entrypoint":"main.py","env_vars":["X"]}`, 400},
		{"network", good, `{"entrypoint":"main.py","config":{"network_disabled":false}}`, 400},
		{"absolute entry", makeTar(t, tarEntry{name: "/abs.py"}), `{"entrypoint":"main.py"}`, 400},
		{"fifo", makeTar(t, tarEntry{name: "main.py"}, tarEntry{name: "p", typ: '6'}), `{"entrypoint":"main.py"}`, 400},
		{"body too large", big, `{"entrypoint":"main.py"}`, 413},
	}
	for _, tt := range tests {
		for _, path := range []string{"/api/v1/exec/sync", "/api/v1/exec/async"} {
			t.Run(tt.name+path, func(t *testing.T) {
				res := s.postExec(t, path, tt.archive, tt.metadata)
				if res.status != tt.status {
					t.Fatalf("status %d %s, want %d", res.status, res.body, tt.status)
				}
				res.errorMsg(t)
				s.requireHealthy(t)
			})
		}
	}
	t.Run("not multipart", func(t *testing.T) {
		res := s.postJSON(t, "/api/v1/exec/sync", `{"entrypoint":"main.py"}`)
		if res.status != 400 || !strings.Contains(res.errorMsg(t), "multipart/form-data") {
			t.Errorf("%d %s", res.status, res.body)
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		bomb := gzipped(t, makeTar(t, tarEntry{name: "main.py", body: strings.Repeat("\x00", 1<<20)}))
		res := s.postExec(t, "/api/v1/exec/sync", bomb, `{"entrypoint":"main.py"}`)
		if len(bomb) > 64<<10 || res.status != 413 {
			t.Errorf("%d bytes compressed: %d %s", len(bomb), res.status, res.body)
		}
	})
	if n := len(runner.Jobs()); n != 0 {
		t.Errorf("%d jobs reached the runner", n)
	}
}

func TestRouterErrorsAreJSON(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nope", 404},
		{http.MethodGet, "/api/v1/executions", 404},
		{http.MethodGet, "/api/v1/executions/exe_unknown", 404},
		{http.MethodDelete, "/api/v1/executions/exe_unknown", 404},
		{http.MethodGet, "/api/v1/eval", 405},
		{http.MethodPut, "/health", 405},
		{http.MethodPost, "/api/v1/executions/x", 405},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			res := do(t, tt.method, s.URL+tt.path, "", nil)
			if res.status != tt.status {
				t.Fatalf("status %d, want %d", res.status, tt.status)
			}
			res.errorMsg(t)
			if tt.status == 405 && res.header.Get("Allow") == "" {
				t.Error("no Allow header")
			}
		})
	}
}

func TestPanicsAreHidden(t *testing.T) {
	t.Run("handler", func(t *testing.T) {
		var logs bytes.Buffer
		srv, err := New(Options{Logger: newTextLogger(&logs)}, &fakeRunner{}, &fakeInterps{panicList: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { srv.Shutdown(context.Background()) })
		rec := recordRequest(srv.Handler(), http.MethodGet, "/health")
		if rec.status != 500 || strings.Contains(string(rec.body), "/srv") || rec.errorMsg(t) != "internal server error" {
			t.Errorf("%d %s", rec.status, rec.body)
		}
		if !strings.Contains(logs.String(), "list exploded") {
			t.Error("the panic was not logged")
		}
		if rec := recordRequest(srv.Handler(), http.MethodGet, "/metrics"); rec.status != 200 {
			t.Errorf("after the panic: %d", rec.status)
		}
	})
	t.Run("runner", func(t *testing.T) {
		s := newTestServer(t, Options{}, &fakeRunner{fn: func(context.Context, Job) (Outcome, error) {
			panic("boom in /var/lib/pyexec")
		}})
		res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
		var e api.Execution
		res.decode(t, &e)
		if res.status != 200 || e.Status != api.StatusFailed || e.Error != msgInternal || strings.Contains(string(res.body), "/var") {
			t.Errorf("%d %s", res.status, res.body)
		}
		s.requireHealthy(t)
	})
	t.Run("runner error", func(t *testing.T) {
		s := newTestServer(t, Options{}, &fakeRunner{fn: func(context.Context, Job) (Outcome, error) {
			return Outcome{}, errors.New("open /var/lib/pyexec/jail: permission denied")
		}})
		res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusFailed || e.Error != msgInternal || e.ExitCode == nil || *e.ExitCode != 0 || strings.Contains(string(res.body), "/var") {
			t.Errorf("%s", res.body)
		}
	})
}

func TestMetricsEndpoint(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
	res := s.get(t, "/metrics")
	body := string(res.body)
	if !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("content type %q", res.header.Get("Content-Type"))
	}
	for _, want := range []string{
		"# TYPE pyexec_executions_total counter",
		`pyexec_executions_total{status="completed"} 1`,
		`pyexec_executions_total{status="failed"} 0`,
		"# TYPE pyexec_execution_duration_seconds histogram",
		`pyexec_execution_duration_seconds_bucket{le="0.005"} 1`,
		`pyexec_execution_duration_seconds_bucket{le="+Inf"} 1`,
		"pyexec_execution_duration_seconds_count 1",
		"pyexec_execution_duration_seconds_sum 0.003",
		"pyexec_executions_running 0",
		"pyexec_executions_queued 0",
		"pyexec_queue_rejections_total 0",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

func TestTTLOverHTTP(t *testing.T) {
	s := newTestServer(t, Options{RecordTTL: 50 * time.Millisecond}, nil)
	var e api.Execution
	s.postJSON(t, "/api/v1/eval", `{"code":"1"}`).decode(t, &e)
	// No GET: a GET would expire the record itself, the sweeper must.
	eventually(t, "the sweeper to free the record", func() bool { return s.store.Len() == 0 })
	if res := s.get(t, "/api/v1/executions/"+e.ExecutionID); res.status != http.StatusNotFound {
		t.Errorf("GET after the TTL: %d %s", res.status, res.body)
	}
}

func TestMaxRecordsOverHTTP(t *testing.T) {
	s := newTestServer(t, Options{MaxConcurrent: 1, QueueSize: 1, MaxRecords: 3}, nil)
	var ids []string
	for range 5 {
		var e api.Execution
		s.postJSON(t, "/api/v1/eval", `{"code":"1"}`).decode(t, &e)
		ids = append(ids, e.ExecutionID)
	}
	for i, id := range ids {
		want := http.StatusOK
		if i < 2 {
			want = http.StatusNotFound
		}
		if got := s.get(t, "/api/v1/executions/"+id).status; got != want {
			t.Errorf("record %d: %d, want %d", i, got, want)
		}
	}
}
