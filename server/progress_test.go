package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// watchingRunner shows the output its test sets through Job.Watch, then
// returns "final\n" when release is closed or a killed run when the job's
// context ends.
type watchingRunner struct {
	*blockingRunner
	watch bool // call Job.Watch

	mu  sync.Mutex
	out Output
}

func (w *watchingRunner) set(o Output) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.out = o
}

func (w *watchingRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	if w.watch {
		job.Watch(func() Output {
			w.mu.Lock()
			defer w.mu.Unlock()
			return w.out
		})
	}
	o, err := w.blockingRunner.Run(ctx, job)
	if !o.Killed {
		o.Stdout = []byte("final\n")
	}
	return o, err
}

func TestRunningRecordShowsOutput(t *testing.T) {
	runner := &watchingRunner{blockingRunner: newBlockingRunner(), watch: true}
	s := newTestServer(t, Options{MaxConcurrent: 1, QueueSize: 1}, runner)
	id := s.submit(t)
	runner.waitStarted(t)
	queued := s.submit(t)

	t.Run("nothing yet", func(t *testing.T) {
		if e := s.execution(t, id); e.Status != api.StatusRunning || e.Stdout != "" || e.Stderr != "" {
			t.Errorf("record = %+v", e)
		}
	})
	t.Run("so far", func(t *testing.T) {
		runner.set(Output{Stdout: "a\n", Stderr: "w\n"})
		if e := s.execution(t, id); e.Status != api.StatusRunning || e.Stdout != "a\n" || e.Stderr != "w\n" || e.StdoutTruncated {
			t.Errorf("record = %+v", e)
		}
		runner.set(Output{Stdout: "a\nb\n", StdoutTruncated: true})
		if e := s.execution(t, id); e.Stdout != "a\nb\n" || e.Stderr != "" || !e.StdoutTruncated {
			t.Errorf("a later GET shows %+v", e)
		}
	})
	t.Run("long-poll that times out", func(t *testing.T) {
		runner.set(Output{Stdout: "a\n"})
		if e := s.execution(t, id+"?wait=0.05"); e.Status != api.StatusRunning || e.Stdout != "a\n" {
			t.Errorf("record = %+v", e)
		}
	})
	t.Run("pending", func(t *testing.T) {
		if e := s.execution(t, queued); e.Status != api.StatusPending || e.Stdout != "" {
			t.Errorf("record = %+v", e)
		}
	})

	close(runner.release)
	for _, id := range []string{id, queued} {
		if e := s.execution(t, id+"?wait=5"); e.Status != api.StatusCompleted || e.Stdout != "final\n" || e.StdoutTruncated {
			t.Errorf("final record = %+v", e)
		}
	}
}

func TestRunningRecordWithoutWatch(t *testing.T) {
	runner := &watchingRunner{blockingRunner: newBlockingRunner()}
	s := newTestServer(t, Options{}, runner)
	t.Cleanup(func() { close(runner.release) })
	id := s.submit(t)
	runner.waitStarted(t)
	if e := s.execution(t, id); e.Status != api.StatusRunning || e.Stdout != "" || e.Stderr != "" {
		t.Errorf("record = %+v", e)
	}
}

// TestEveryRecordHasExitCode checks the wire: python-executor sends
// exit_code in every record, 0 until the code has exited.
func TestEveryRecordHasExitCode(t *testing.T) {
	exitCode := func(t *testing.T, s *testServer, path string) any {
		t.Helper()
		res := s.get(t, path)
		var m map[string]any
		res.decode(t, &m)
		v, ok := m["exit_code"]
		if !ok {
			t.Fatalf("no exit_code in %s", res.body)
		}
		return v
	}

	runner := newBlockingRunner()
	s := newTestServer(t, Options{MaxConcurrent: 1, QueueSize: 5}, runner)
	running := s.submit(t)
	runner.waitStarted(t)
	pending := s.submit(t)
	dropped := s.submit(t)
	if res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+dropped, "", nil); res.status != http.StatusOK {
		t.Fatalf("kill: %d %s", res.status, res.body)
	}
	for _, tt := range []struct{ name, id string }{
		{"running", running}, {"pending", pending}, {"killed while pending", dropped},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if v := exitCode(t, s, "/api/v1/executions/"+tt.id); v != 0.0 {
				t.Errorf("exit_code = %v, want 0", v)
			}
		})
	}
	close(runner.release)
	t.Run("completed", func(t *testing.T) {
		if v := exitCode(t, s, "/api/v1/executions/"+running+"?wait=5"); v != 0.0 {
			t.Errorf("exit_code = %v, want 0", v)
		}
	})

	t.Run("never ran", func(t *testing.T) {
		s := newTestServer(t, Options{}, &fakeRunner{fn: func(context.Context, Job) (Outcome, error) {
			return Outcome{}, errors.New("no jail")
		}})
		res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
		var m map[string]any
		res.decode(t, &m)
		if v, ok := m["exit_code"]; !ok || v != 0.0 || m["status"] != api.StatusFailed {
			t.Errorf("record = %s", res.body)
		}
	})
}
