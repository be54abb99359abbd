package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/pyexec/pyexec/api"
)

func TestFinishExecution(t *testing.T) {
	limits := Limits{Timeout: 2 * time.Second, MemoryBytes: 64 << 20, MaxOutputBytes: 4096}
	job := Job{ID: "exe_1", Interpreter: api.Interpreter{Version: "3.12.1", Series: "3.12"}, Limits: limits}
	str := func(s string) *string { return &s }
	tests := []struct {
		name      string
		evalLast  bool
		res       runResult
		status    string
		errMsg    string
		exit      *int
		errType   string
		errLine   int
		result    string // JSON; "" = absent
		truncated bool
		noRunTime bool // the Runner measured no Duration
	}{
		{name: "completed", res: runResult{outcome: Outcome{Stdout: []byte("hi")}},
			status: api.StatusCompleted, exit: new(int)},
		{name: "non-zero exit is still completed",
			res:    runResult{outcome: Outcome{ExitCode: 1, ErrorType: "NameError", ErrorLine: 3}},
			status: api.StatusCompleted, exit: ptr(1), errType: "NameError", errLine: 3},
		{name: "error type ignored on success",
			res:    runResult{outcome: Outcome{ErrorType: "NameError", ErrorLine: 3}},
			status: api.StatusCompleted, exit: new(int)},
		{name: "runner error", res: runResult{err: errors.New("mount /var/lib/pyexec/x: EPERM")},
			status: api.StatusFailed, errMsg: msgInternal, exit: new(int)},
		{name: "timeout", res: runResult{outcome: Outcome{TimedOut: true, ExitCode: -1}},
			status: api.StatusFailed, errMsg: "execution timed out after 2s", exit: ptr(-1)},
		{name: "oom", res: runResult{outcome: Outcome{OOMKilled: true, ExitCode: 137}},
			status: api.StatusFailed, errMsg: "memory limit of 64 MB exceeded", exit: ptr(137)},
		{name: "output limit", res: runResult{outcome: Outcome{OutputLimit: true, StdoutTruncated: true}},
			status: api.StatusFailed, errMsg: "output limit of 4096 bytes exceeded", exit: new(int), truncated: true},
		{name: "failure", res: runResult{outcome: Outcome{Failure: "pre_command 1 failed", ExitCode: 2}},
			status: api.StatusFailed, errMsg: "pre_command 1 failed", exit: ptr(2)},
		{name: "failure before the code ran", res: runResult{outcome: Outcome{Failure: "could not install numpy", ExitCode: 1}},
			status: api.StatusFailed, errMsg: "could not install numpy", exit: ptr(1), noRunTime: true},
		{name: "killed", res: runResult{outcome: Outcome{Killed: true, ExitCode: -1}, cause: errKilled},
			status: api.StatusKilled, exit: ptr(-1)},
		{name: "killed by a gone client", res: runResult{outcome: Outcome{Killed: true}, cause: errClientGone},
			status: api.StatusKilled, exit: new(int)},
		{name: "killed with a runner error", res: runResult{err: errors.New("x"), cause: errKilled},
			status: api.StatusKilled, exit: new(int)},
		{name: "shutdown", res: runResult{outcome: Outcome{Killed: true}, cause: errShutdown},
			status: api.StatusFailed, errMsg: msgShutdown, exit: new(int)},
		{name: "finished just before the kill", res: runResult{outcome: Outcome{}, cause: errKilled},
			status: api.StatusCompleted, exit: new(int)},
		{name: "no result without eval_last_expr",
			res:    runResult{outcome: Outcome{HasResult: true, Result: str("15")}},
			status: api.StatusCompleted, exit: new(int)},
		{name: "result", evalLast: true,
			res:    runResult{outcome: Outcome{HasResult: true, Result: str("15")}},
			status: api.StatusCompleted, exit: new(int), result: `"15"`},
		{name: "result needing escapes", evalLast: true,
			res:    runResult{outcome: Outcome{HasResult: true, Result: str(`'a"b'`)}},
			status: api.StatusCompleted, exit: new(int), result: `"'a\"b'"`},
		{name: "null result", evalLast: true,
			res:    runResult{outcome: Outcome{HasResult: true}},
			status: api.StatusCompleted, exit: new(int), result: `null`},
		{name: "null result on error", evalLast: true,
			res:    runResult{outcome: Outcome{ExitCode: 1}},
			status: api.StatusCompleted, exit: ptr(1), result: `null`},
		{name: "null result when killed", evalLast: true,
			res:    runResult{outcome: Outcome{Killed: true}, cause: errKilled},
			status: api.StatusKilled, exit: new(int), result: `null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job
			j.EvalLastExpr = tt.evalLast
			e := pendingExecution(j)
			start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
			startExecution(&e, start, start.Add(-time.Second))
			tt.res.started, tt.res.finished = start, start.Add(1500*time.Millisecond)
			if !tt.noRunTime {
				tt.res.outcome.Duration = 1200 * time.Millisecond
			}
			finishExecution(&e, j, tt.res)

			if e.Status != tt.status || e.Error != tt.errMsg {
				t.Errorf("status %q error %q, want %q %q", e.Status, e.Error, tt.status, tt.errMsg)
			}
			if (e.ExitCode == nil) != (tt.exit == nil) || (e.ExitCode != nil && *e.ExitCode != *tt.exit) {
				t.Errorf("exit_code = %v, want %v", e.ExitCode, tt.exit)
			}
			if e.ErrorType != tt.errType || (e.ErrorLine == nil && tt.errLine != 0) || (e.ErrorLine != nil && *e.ErrorLine != tt.errLine) {
				t.Errorf("error_type %q error_line %v", e.ErrorType, e.ErrorLine)
			}
			if string(e.Result) != tt.result {
				t.Errorf("result = %s, want %s", e.Result, tt.result)
			}
			if e.StdoutTruncated != tt.truncated {
				t.Errorf("stdout_truncated = %v", e.StdoutTruncated)
			}
			if e.QueuedMS != 1000 || e.StartedAt.Location() != time.UTC || e.FinishedAt.Location() != time.UTC {
				t.Errorf("queued_ms %d started %v finished %v", e.QueuedMS, e.StartedAt, e.FinishedAt)
			}
			if tt.res.err == nil && !tt.noRunTime && e.DurationMS != 1200 {
				t.Errorf("duration_ms = %d, want the runner's 1200", e.DurationMS)
			}
			if (tt.res.err != nil || tt.noRunTime) && e.DurationMS != 1500 {
				t.Errorf("duration_ms = %d, want the wall clock's 1500", e.DurationMS)
			}
		})
	}
}

func ptr(n int) *int { return &n }

func TestExecutionJSON(t *testing.T) {
	job := Job{ID: "exe_1", Interpreter: api.Interpreter{Version: "3.12.1"}}
	e := pendingExecution(job)
	startExecution(&e, time.Now(), time.Now())
	finishExecution(&e, job, runResult{outcome: Outcome{
		Stdout: []byte("ok \xff\xfe done"), PythonVersion: "3.12.1", CPU: 7 * time.Millisecond, MemoryPeak: 1 << 20,
	}, started: time.Now(), finished: time.Now()})
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if !utf8.Valid(b) {
		t.Error("record JSON is not valid UTF-8")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m["result"]; ok {
		t.Error("result present without eval_last_expr")
	}
	if !strings.HasPrefix(m["stdout"].(string), "ok ") || m["python_version"] != "3.12.1" {
		t.Errorf("record = %s", b)
	}
	usage := m["usage"].(map[string]any)
	if usage["cpu_ms"] != 7.0 || usage["memory_peak_bytes"] != float64(1<<20) {
		t.Errorf("usage = %v", usage)
	}
	if !strings.HasSuffix(m["started_at"].(string), "Z") {
		t.Errorf("started_at = %v, want UTC", m["started_at"])
	}
}

func TestDropExecution(t *testing.T) {
	job := Job{ID: "exe_1", EvalLastExpr: true}
	now := time.Now()
	for _, tt := range []struct {
		cause  error
		status string
	}{{errKilled, api.StatusKilled}, {errClientGone, api.StatusKilled}, {errShutdown, api.StatusFailed}} {
		t.Run(tt.cause.Error(), func(t *testing.T) {
			e := pendingExecution(job)
			dropExecution(&e, job, tt.cause, now, now.Add(-250*time.Millisecond))
			if e.Status != tt.status || e.ExitCode == nil || *e.ExitCode != 0 || e.StartedAt != nil || e.FinishedAt == nil ||
				e.QueuedMS != 250 || string(e.Result) != "null" {
				t.Errorf("record = %+v", e)
			}
		})
	}
}
