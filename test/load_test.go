package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// TestConcurrentEval sends 100 /eval requests at once to the shared server:
// the default queue (256) holds them all, so every one must run.
func TestConcurrentEval(t *testing.T) {
	s := sharedServer(t)
	const n = 100
	type answer struct {
		status int
		exec   api.Execution
		err    error
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(api.EvalRequest{Code: fmt.Sprintf("print(%d)", i)})
			<-start
			r, err := s.request(context.Background(), http.MethodPost, "/api/v1/eval", "application/json", bytes.NewReader(body))
			a := answer{status: r.Status, err: err}
			if err == nil && r.Status == http.StatusOK {
				a.err = json.Unmarshal(r.Body, &a.exec)
			} else if err == nil {
				a.err = fmt.Errorf("status %d: %s", r.Status, r.Body)
			}
			answers[i] = a
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d concurrent evals took %v", n, time.Since(began))

	counts := map[int]int{}
	for i, a := range answers {
		counts[a.status]++
		switch {
		case a.err != nil:
			t.Errorf("eval %d: %v", i, a.err)
		case a.exec.Status != api.StatusCompleted || a.exec.Stdout != strconv.Itoa(i)+"\n":
			t.Errorf("eval %d: %s", i, describe(a.exec))
		}
	}
	if counts[http.StatusOK] != n {
		t.Errorf("statuses %v, want %d x 200 (no 429, no 5xx)", counts, n)
	}
}

// TestQueueFull fills a server with one worker and a queue of one, and
// expects the next submission to be refused with 429 and Retry-After.
func TestQueueFull(t *testing.T) {
	s := startServer(t, "PYEXEC_EXECUTION_MAX_CONCURRENT=1", "PYEXEC_EXECUTION_QUEUE_SIZE=1")
	sleeper := mainPy(tagged("e2e-hold", "import time\nprint('holding', flush=True)\ntime.sleep(60)"))
	running := s.execAsync(t, sleeper, entry)
	waitRunning(t, s, running)
	queued := s.execAsync(t, sleeper, entry)
	if status, e := s.get(t, queued, 0); status != http.StatusOK || e.Status != api.StatusPending {
		t.Fatalf("second job: %d %s, want pending", status, describe(e))
	}

	body, ct := multipartBody(t, tarPart(tarFiles(t, sleeper)), metaPart(t, entry))
	for _, c := range []struct {
		path, ct string
		body     []byte
	}{
		{"/api/v1/exec/async", ct, body},
		{"/api/v1/exec/sync", ct, body},
		{"/api/v1/eval", "application/json", []byte(`{"code": "print(1)"}`)},
	} {
		r := s.do(t, http.MethodPost, c.path, c.ct, bytes.NewReader(c.body))
		errorBody(t, r, http.StatusTooManyRequests)
		if ra := r.Header.Get("Retry-After"); ra == "" {
			t.Errorf("%s: 429 without Retry-After", c.path)
		} else if n, err := strconv.Atoi(ra); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q is not a positive number of seconds", c.path, ra)
		}
	}
	if n := metric(s.metrics(t), "pyexec_queue_rejections_total"); n != 3 {
		t.Errorf("pyexec_queue_rejections_total = %v, want 3", n)
	}

	for _, id := range []string{queued, running} {
		r := s.kill(t, id)
		if r.Status != http.StatusOK || decode[api.KillResponse](t, r.Body).Status != api.StatusKilled {
			t.Errorf("DELETE %s: %d %s", id, r.Status, r.Body)
		}
		if e := s.waitDone(t, id); e.Status != api.StatusKilled {
			t.Errorf("%s: %s, want killed", id, describe(e))
		}
	}
	waitGone(t, s, "e2e-hold", 2*time.Second)
	stillServes(t, s) // the slots are free again
}
