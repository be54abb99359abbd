package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// TestSyncClientDisconnect cancels an /eval whose code sleeps: the client
// never learns the id, so the test watches what it can: the server's
// counters and its jail processes, on a server of its own. Pooled jails
// are turned off so that every jail process belongs to the request.
func TestSyncClientDisconnect(t *testing.T) {
	s := startServer(t, "PYEXEC_POOL_SIZES=")
	if procs := s.jailProcs(); len(procs) > 0 {
		t.Fatalf("jail processes before any request: %v", procs)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.request(ctx, http.MethodPost, "/api/v1/eval", "application/json",
			strings.NewReader(`{"code": "import time\ntime.sleep(30)"}`))
		done <- err
	}()

	// Cancel once the jail runs, and no sooner than 300 ms.
	began := time.Now()
	for len(s.jailProcs()) == 0 {
		if time.Since(began) > 10*time.Second {
			t.Fatal("the jail never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(max(0, 300*time.Millisecond-time.Since(began)))
	cancel()
	cancelled := time.Now()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request ended with %v, want it cancelled", err)
	}

	if left := s.waitNoLeftovers(2*time.Second, false); len(left) > 0 {
		t.Errorf("2s after the client left, the jail remains: %v", left)
	}
	t.Logf("jail gone %v after the disconnect", time.Since(cancelled))
	// The record is final and not "completed"; nothing runs or waits.
	var text string
	deadline := time.Now().Add(2 * time.Second)
	for {
		text = s.metrics(t)
		if metric(text, "pyexec_executions_running") == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for name, want := range map[string]float64{
		"pyexec_executions_running":                   0,
		"pyexec_executions_queued":                    0,
		`pyexec_executions_total{status="completed"}`: 0,
	} {
		if got := metric(text, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if got := metric(text, `pyexec_executions_total{status="killed"}`) + metric(text, `pyexec_executions_total{status="failed"}`); got != 1 {
		t.Errorf("killed + failed executions = %v, want 1:\n%s", got, text)
	}
	stillServes(t, s)
}

// TestSyncClientDisconnectShared does the same on the shared server, whose
// default pool may serve the request from a pre-started jail: the job's
// processes are told apart by their name.
func TestSyncClientDisconnectShared(t *testing.T) {
	s := sharedServer(t)
	const tag = "e2e-gone"
	body, _ := json.Marshal(api.EvalRequest{Code: tagged(tag, "import os, time\nos.fork()\ntime.sleep(30)")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.request(ctx, http.MethodPost, "/api/v1/eval", "application/json", bytes.NewReader(body))
		done <- err
	}()
	began := time.Now()
	for len(s.procsNamed(tag)) < 2 {
		if time.Since(began) > 10*time.Second {
			t.Fatalf("the job's processes never showed: %v", s.procsNamed(tag))
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(max(0, 300*time.Millisecond-time.Since(began)))
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("the request ended with %v, want it cancelled", err)
	}
	waitGone(t, s, tag, 2*time.Second)
	stillServes(t, s)
}

// TestGracefulShutdown stops a server with a job running: it refuses new
// work, kills the job when the grace period ends, exits 0 and leaves
// nothing behind (startServer's cleanup checks).
func TestGracefulShutdown(t *testing.T) {
	const grace = 2 * time.Second
	s := startServer(t, "PYEXEC_SERVER_SHUTDOWN_GRACE="+grace.String())
	id := s.execAsync(t, mainPy("import time\nprint('working', flush=True)\ntime.sleep(60)"), entry)
	waitRunning(t, s, id)
	if len(s.jailProcs()) == 0 {
		t.Fatal("the job runs but no jail process is seen: the leftover check would prove nothing")
	}

	exited := make(chan time.Duration, 1)
	go func() {
		took, _ := s.signal(syscall.SIGTERM, grace+10*time.Second)
		exited <- took
	}()

	// While it waits for the job, the server says so and takes no work.
	deadline := time.Now().Add(grace / 2)
	for {
		r, err := s.request(context.Background(), http.MethodGet, "/health", "", nil)
		if err == nil && r.Status == http.StatusServiceUnavailable {
			errorBody(t, r, http.StatusServiceUnavailable)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("/health during shutdown: %v %d, want 503", err, r.Status)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r, err := s.request(context.Background(), http.MethodPost, "/api/v1/eval", "application/json",
		bytes.NewReader([]byte(`{"code": "print(1)"}`))); err == nil {
		errorBody(t, r, http.StatusServiceUnavailable)
	} else {
		t.Errorf("eval during shutdown: %v, want a 503", err)
	}

	took := <-exited
	select {
	case <-s.exited:
	default:
		t.Fatalf("pyexecd still runs %v after SIGTERM (grace %v)", took, grace)
	}
	t.Logf("exited %v after SIGTERM", took)
	if took > grace+3*time.Second {
		t.Errorf("exit took %v, want within the grace %v + 3s", took, grace)
	}
	if took < grace-500*time.Millisecond {
		t.Errorf("exit after %v: the running job did not get its grace of %v", took, grace)
	}
	if code := s.exitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if procs := s.jailProcs(); len(procs) > 0 {
		t.Errorf("jail processes outlive the server: %v", procs)
	}
}

// TestShutdownWaitsForJob: a job that ends within the grace period runs
// to its end, and the server exits right after it.
func TestShutdownWaitsForJob(t *testing.T) {
	s := startServer(t, "PYEXEC_SERVER_SHUTDOWN_GRACE=10s")
	id := s.execAsync(t, mainPy("import time\ntime.sleep(1)\nprint('finished')"), entry)
	waitRunning(t, s, id)
	took, ok := s.signal(syscall.SIGTERM, 10*time.Second)
	if !ok {
		t.Fatalf("pyexecd did not exit within 10s of SIGTERM")
	}
	if took > 4*time.Second || took < 500*time.Millisecond {
		t.Errorf("exit took %v, want soon after the 1 s job ends, not before", took)
	}
	if code := s.exitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

// TestStopRemovesCgroupParent: a clean stop (SIGTERM) removes the server's
// parent cgroup from every hierarchy it was in, after its jails (a run's
// and the pooled ones) are gone.
func TestStopRemovesCgroupParent(t *testing.T) {
	s := startServer(t)
	if e := s.eval(t, api.EvalRequest{Code: "print('ok')"}); e.Stdout != "ok\n" {
		t.Fatalf("eval: %s", describe(e))
	}
	before := cgroupParents(s.CgroupParent)
	if len(before) == 0 {
		t.Fatal("the running server has no cgroup parent: the test proves nothing")
	}
	t.Logf("the parent is in %d hierarchies", len(before))
	if _, ok := s.signal(syscall.SIGTERM, stopTimeout); !ok {
		t.Fatalf("pyexecd did not exit within %v of SIGTERM", stopTimeout)
	}
	if code := s.exitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if left := cgroupParents(s.CgroupParent); len(left) > 0 {
		t.Errorf("after SIGTERM the cgroup parent is still in:\n  %s", strings.Join(left, "\n  "))
	}
	if strings.Contains(s.Stderr(), "cgroup parent") {
		t.Errorf("the server logged about its cgroup parent:\n%s", tail(s.Stderr(), 4<<10))
	}
}
