package client

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func TestGetWaitQuery(t *testing.T) {
	var got []string
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.URL.RawQuery)
		writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusRunning})
	})
	ctx := context.Background()
	for _, d := range []time.Duration{0, 1500 * time.Millisecond, 30 * time.Second} {
		if _, err := c.GetWait(ctx, "exe_1", d); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"", "wait=2", "wait=30"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("query %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestWaitLongPoll(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Query().Get("wait") != "2" {
			t.Errorf("wait = %q, want 2", r.URL.Query().Get("wait"))
		}
		if n == 1 {
			// Hold the request like a server honouring the long-poll.
			time.Sleep(1100 * time.Millisecond)
			writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusRunning})
			return
		}
		writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted, Stdout: "done"})
	})
	start := time.Now()
	// A large PollInterval proves the second request is not delayed.
	rec, err := c.Wait(context.Background(), "exe_1", &WaitOptions{LongPoll: 2 * time.Second, PollInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Stdout != "done" || calls.Load() != 2 {
		t.Errorf("record %+v after %d calls", rec, calls.Load())
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Wait took %v", el)
	}
}

func TestWaitFallsBackToPolling(t *testing.T) {
	var calls atomic.Int32
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 4 {
			writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusPending})
			return
		}
		writeJSON(w, 200, api.Execution{ExecutionID: "exe_1", Status: api.StatusFailed, Error: "boom"})
	})
	var seen int
	rec, err := c.Wait(context.Background(), "exe_1", &WaitOptions{
		PollInterval: time.Millisecond, MaxPollInterval: 4 * time.Millisecond,
		Progress: func(*api.Execution) { seen++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != api.StatusFailed || calls.Load() != 4 || seen != 3 {
		t.Errorf("status %q after %d calls, %d progress calls", rec.Status, calls.Load(), seen)
	}
}

func TestWaitErrors(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/executions/gone" {
			writeJSON(w, 404, api.Error{Error: "execution not found"})
			return
		}
		writeJSON(w, 200, api.Execution{Status: api.StatusRunning})
	})
	_, err := c.Wait(context.Background(), "gone", nil)
	if !IsNotFound(err) {
		t.Errorf("Wait(gone) error = %v, want not found", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Wait(ctx, "forever", &WaitOptions{PollInterval: 10 * time.Millisecond})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait(forever) error = %v, want context.DeadlineExceeded", err)
	}
}

func TestLongPollFor(t *testing.T) {
	bg := context.Background()
	if got := longPollFor(bg, 30*time.Second); got != 30*time.Second {
		t.Errorf("no deadline: %v", got)
	}
	ctx, cancel := context.WithTimeout(bg, 5900*time.Millisecond) // 0.9 s of slack before it rounds to 4 s
	defer cancel()
	if got := longPollFor(ctx, 30*time.Second); got != 5*time.Second {
		t.Errorf("5.9s deadline: %v, want 5s", got)
	}
	ctx2, cancel2 := context.WithTimeout(bg, 500*time.Millisecond)
	defer cancel2()
	if got := longPollFor(ctx2, 30*time.Second); got != 0 {
		t.Errorf("0.5s deadline: %v, want 0", got)
	}
}

func TestKill(t *testing.T) {
	c := newTestClient(t, "", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodDelete {
			t.Errorf("method = %s", r.Method)
		}
		switch r.URL.Path {
		case "/api/v1/executions/exe_run":
			writeJSON(w, 200, api.KillResponse{Status: api.StatusKilled})
		case "/api/v1/executions/exe_done":
			writeJSON(w, 200, api.KillResponse{Status: api.StatusCompleted})
		default:
			writeJSON(w, 404, api.Error{Error: "execution not found"})
		}
	})
	ctx := context.Background()
	for id, want := range map[string]string{"exe_run": "killed", "exe_done": "completed"} {
		if got, err := c.Kill(ctx, id); err != nil || got != want {
			t.Errorf("Kill(%s) = %q, %v; want %q", id, got, err, want)
		}
	}
	if _, err := c.Kill(ctx, "exe_nope"); !IsNotFound(err) {
		t.Errorf("Kill(unknown) error = %v", err)
	}
}
