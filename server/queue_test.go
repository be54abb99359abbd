package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func simpleTar(t *testing.T) []byte { return makeTar(t, tarEntry{name: "main.py", body: "print(1)"}) }

// submit posts an async job and returns its id.
func (s *testServer) submit(t *testing.T) string {
	t.Helper()
	res := s.postExec(t, "/api/v1/exec/async", simpleTar(t), `{"entrypoint":"main.py"}`)
	if res.status != http.StatusAccepted {
		t.Fatalf("submit: %d %s", res.status, res.body)
	}
	var acc api.Accepted
	res.decode(t, &acc)
	return acc.ExecutionID
}

func TestQueueFull(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{MaxConcurrent: 1, QueueSize: 1}, runner)
	first := s.submit(t)
	runner.waitStarted(t)
	second := s.submit(t)

	for _, tt := range []struct{ name, path string }{
		{"async", "/api/v1/exec/async"},
		{"sync", "/api/v1/exec/sync"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := s.postExec(t, tt.path, simpleTar(t), `{"entrypoint":"main.py"}`)
			if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "1" {
				t.Fatalf("%d Retry-After %q %s", res.status, res.header.Get("Retry-After"), res.body)
			}
			res.errorMsg(t)
		})
	}
	t.Run("eval", func(t *testing.T) {
		res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
		if res.status != http.StatusTooManyRequests {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})
	if got := s.execution(t, second).Status; got != api.StatusPending {
		t.Errorf("second = %s, want pending", got)
	}
	metrics := string(s.get(t, "/metrics").body)
	for _, want := range []string{"pyexec_executions_running 1\n", "pyexec_executions_queued 1\n", "pyexec_queue_rejections_total 3\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}

	close(runner.release)
	for _, id := range []string{first, second} {
		res := s.get(t, "/api/v1/executions/"+id+"?wait=5")
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusCompleted {
			t.Errorf("%s = %s", id, res.body)
		}
	}
	if res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`); res.status != http.StatusOK {
		t.Errorf("after the queue drained: %d", res.status)
	}
}

func TestKill(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{MaxConcurrent: 1, QueueSize: 5}, runner)
	running := s.submit(t)
	runner.waitStarted(t)
	pending := s.submit(t)

	t.Run("pending", func(t *testing.T) {
		res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+pending, "", nil)
		var k api.KillResponse
		res.decode(t, &k)
		if res.status != 200 || k.Status != api.StatusKilled {
			t.Fatalf("%d %s", res.status, res.body)
		}
		e := s.execution(t, pending)
		if e.Status != api.StatusKilled || e.ExitCode == nil || *e.ExitCode != 0 || e.FinishedAt == nil || e.StartedAt != nil {
			t.Errorf("record = %+v", e)
		}
	})
	t.Run("running", func(t *testing.T) {
		start := time.Now()
		res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+running, "", nil)
		var k api.KillResponse
		res.decode(t, &k)
		if res.status != 200 || k.Status != api.StatusKilled {
			t.Fatalf("%d %s", res.status, res.body)
		}
		if time.Since(start) > killWait {
			t.Errorf("kill took %s", time.Since(start))
		}
		e := s.execution(t, running)
		if e.Status != api.StatusKilled || e.Stdout != "partial" || e.Error != "" {
			t.Errorf("record = %+v", e)
		}
		if c := runner.cause(running); !errors.Is(c, errKilled) {
			t.Errorf("cause = %v", c)
		}
	})
	t.Run("finished", func(t *testing.T) {
		res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+running, "", nil)
		var k api.KillResponse
		res.decode(t, &k)
		if res.status != 200 || k.Status != api.StatusKilled {
			t.Errorf("%d %s", res.status, res.body)
		}
	})
	t.Run("completed", func(t *testing.T) {
		close(runner.release)
		var e api.Execution
		s.postJSON(t, "/api/v1/eval", `{"code":"1"}`).decode(t, &e)
		res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+e.ExecutionID, "", nil)
		var k api.KillResponse
		res.decode(t, &k)
		if k.Status != api.StatusCompleted {
			t.Errorf("%d %s", res.status, res.body)
		}
	})
	select {
	case id := <-runner.started:
		if id == pending {
			t.Error("the killed pending job reached the runner")
		}
	default:
	}
}

func TestKillRacingCompletion(t *testing.T) {
	// The job completes at the moment the kill arrives: its Runner sees
	// the cancellation but reports a normal end.
	started := make(chan string, 1)
	runner := &fakeRunner{fn: func(ctx context.Context, job Job) (Outcome, error) {
		started <- job.ID
		<-ctx.Done()
		return Outcome{Stdout: []byte("done\n"), Duration: time.Millisecond}, nil
	}}
	s := newTestServer(t, Options{}, runner)
	id := s.submit(t)
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("no job started")
	}
	res := do(t, http.MethodDelete, s.URL+"/api/v1/executions/"+id, "", nil)
	var k api.KillResponse
	res.decode(t, &k)
	if res.status != http.StatusOK || k.Status != api.StatusCompleted {
		t.Errorf("kill answered %d %s, want the real final status completed", res.status, res.body)
	}
	if e := s.execution(t, id); e.Status != api.StatusCompleted {
		t.Errorf("record status %s", e.Status)
	}
}

func TestLongPollShutdown(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{}, runner)
	id := s.submit(t)
	runner.waitStarted(t)

	polled := make(chan response, 1)
	go func() {
		res, err := http.Get(s.URL + "/api/v1/executions/" + id + "?wait=30")
		if err != nil {
			polled <- response{body: []byte(err.Error())}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		polled <- response{status: res.StatusCode, body: b}
	}()
	time.Sleep(100 * time.Millisecond) // let the poll start waiting
	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }() // waits for the running job

	select {
	case res := <-polled:
		var e api.Execution
		if res.status != http.StatusOK || json.Unmarshal(res.body, &e) != nil || e.Status != api.StatusRunning {
			t.Errorf("%d %s", res.status, res.body)
		}
	case <-time.After(10 * time.Second):
		t.Error("the long-poll did not return when Shutdown started")
	}
	close(runner.release)
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

func TestLongPoll(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{}, runner)
	id := s.submit(t)
	runner.waitStarted(t)

	t.Run("wait ends first", func(t *testing.T) {
		start := time.Now()
		e := s.execution(t, id+"?wait=0.1")
		if e.Status != api.StatusRunning || time.Since(start) < 100*time.Millisecond {
			t.Errorf("status %s after %s", e.Status, time.Since(start))
		}
	})
	t.Run("no wait", func(t *testing.T) {
		if e := s.execution(t, id); e.Status != api.StatusRunning || e.StartedAt == nil {
			t.Errorf("record = %+v", e)
		}
	})
	t.Run("bad wait", func(t *testing.T) {
		for _, w := range []string{"abc", "-1", "NaN", "", "1s"} {
			res := s.get(t, "/api/v1/executions/"+id+"?wait="+w)
			if res.status != http.StatusBadRequest || !strings.Contains(res.errorMsg(t), "wait") {
				t.Errorf("wait=%q: %d %s", w, res.status, res.body)
			}
		}
	})
	t.Run("unknown", func(t *testing.T) {
		if res := s.get(t, "/api/v1/executions/exe_nope?wait=1"); res.status != http.StatusNotFound {
			t.Errorf("%d", res.status)
		}
	})
	t.Run("finishes while waiting", func(t *testing.T) {
		go func() {
			time.Sleep(50 * time.Millisecond)
			close(runner.release)
		}()
		start := time.Now()
		e := s.execution(t, id+"?wait=1000")
		if e.Status != api.StatusCompleted || time.Since(start) > 5*time.Second {
			t.Errorf("status %s after %s", e.Status, time.Since(start))
		}
	})
	if got, _ := parseWait(map[string][]string{"wait": {"1e9"}}); got != maxWait {
		t.Errorf("wait is not capped: %s", got)
	}
}

func TestSyncClientDisconnect(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{}, runner)
	t.Cleanup(func() { close(runner.release) }) // before the server's: a job the kill missed ends
	execBody, execType := multipartBody(t, simpleTar(t), `{"entrypoint":"main.py"}`)
	tests := []struct {
		name, path, contentType string
		body                    []byte
	}{
		{"eval", "/api/v1/eval", "application/json", []byte(`{"code":"1"}`)},
		{"exec sync", "/api/v1/exec/sync", execType, execBody},
		// net/http notices the client going away only once the body is
		// read to its end: the server must drain what follows the parts.
		{"exec sync with a large epilogue", "/api/v1/exec/sync", execType,
			append(bytes.Clone(execBody), strings.Repeat("epilogue ", 64<<10)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+tt.path, bytes.NewReader(tt.body))
				req.Header.Set("Content-Type", tt.contentType)
				res, err := http.DefaultClient.Do(req)
				if err == nil {
					res.Body.Close()
				}
				done <- err
			}()
			id := runner.waitStarted(t)
			cancel()
			if err := <-done; err == nil {
				t.Fatal("the request finished although its client went away")
			}
			eventually(t, "the job to end killed", func() bool {
				return s.execution(t, id).Status == api.StatusKilled
			})
			if c := runner.cause(id); !errors.Is(c, errClientGone) {
				t.Errorf("cause = %v", c)
			}
		})
	}
}

func TestConcurrentEval(t *testing.T) {
	runner := &fakeRunner{fn: func(_ context.Context, job Job) (Outcome, error) {
		time.Sleep(time.Millisecond)
		return Outcome{Stdout: job.Files[0].Data, Duration: time.Millisecond}, nil
	}}
	s := newTestServer(t, Options{MaxConcurrent: 8, QueueSize: 128}, runner)
	const n = 100
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code := "print(" + strings.Repeat("1", i+1) + ")"
			req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/eval", strings.NewReader(`{"code":"`+code+`"}`))
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer res.Body.Close()
			var e api.Execution
			if res.StatusCode != http.StatusOK {
				errs <- res.Status
				return
			}
			if err := decodeBody(res, &e); err != nil || e.Status != api.StatusCompleted || e.Stdout != code {
				errs <- "bad record for " + code
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if got := len(runner.Jobs()); got != n {
		t.Errorf("runner ran %d jobs", got)
	}
}

func TestShutdown(t *testing.T) {
	t.Run("waits for running jobs", func(t *testing.T) {
		runner := newBlockingRunner()
		s := newTestServer(t, Options{MaxConcurrent: 1}, runner)
		running := s.submit(t)
		runner.waitStarted(t)
		queued := s.submit(t)
		go func() {
			time.Sleep(50 * time.Millisecond)
			close(runner.release)
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		for _, id := range []string{running, queued} {
			if e := s.execution(t, id); e.Status != api.StatusCompleted {
				t.Errorf("%s: %s", id, e.Status)
			}
		}
		res := s.postJSON(t, "/api/v1/eval", `{"code":"1"}`)
		if res.status != http.StatusServiceUnavailable {
			t.Errorf("eval after shutdown: %d %s", res.status, res.body)
		}
		res.errorMsg(t)
		if res := s.get(t, "/health"); res.status != http.StatusServiceUnavailable {
			t.Errorf("health after shutdown: %d", res.status)
		}
	})
	t.Run("cancels what is left", func(t *testing.T) {
		runner := newBlockingRunner()
		s := newTestServer(t, Options{MaxConcurrent: 1}, runner)
		running := s.submit(t)
		runner.waitStarted(t)
		queued := s.submit(t)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown = %v", err)
		}
		for _, id := range []string{running, queued} {
			if e := s.execution(t, id); e.Status != api.StatusFailed || e.Error != msgShutdown {
				t.Errorf("%s: %+v", id, e)
			}
		}
		if c := runner.cause(running); !errors.Is(c, errShutdown) {
			t.Errorf("cause = %v", c)
		}
	})
}
