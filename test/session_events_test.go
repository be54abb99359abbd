package test

// Live output of session cells (ours): POST /api/v1/sessions/{id}/eval
// with "Accept: text/event-stream" on the real pyexecd.

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// openSession starts a session with req, closed when the test ends, and
// returns its id.
func (s *Server) openSession(t *testing.T, req api.SessionRequest) string {
	t.Helper()
	id := s.newSession(t, req).SessionID
	t.Cleanup(func() { s.closeSession(t, id) })
	return id
}

// TestSessionCellEvents: a streamed cell's ticks arrive as they are
// printed (the Go client's RunCellStream), then its result, whose stdout
// is the events'; the session's state is kept across streamed and plain
// cells.
func TestSessionCellEvents(t *testing.T) {
	s := sharedServer(t)
	id := s.openSession(t, api.SessionRequest{})
	if c := s.cell(t, id, "n = 5", 0); c.Status != api.StatusCompleted {
		t.Fatalf("n = 5: %s", describeCell(c))
	}
	c := newClient(t, s)
	col := &collectTicks{t: t}
	code := strings.Replace(tickCode, "range(5)", "range(n)", 1) + "n * 2"
	// A follower of the cell's execution id gets its ticks live too, then
	// its record.
	followed := make(chan *api.Execution, 1)
	fcol := &collectTicks{t: t}
	var fdone time.Time
	first := true
	res, err := c.RunCellStream(context.Background(), id, api.CellRequest{Code: code}, func(ev client.Event) error {
		if ev.Name == api.EventStatus && first {
			first = false
			go func() {
				rec, err := c.Events(context.Background(), ev.Status.ExecutionID, fcol.add)
				fdone = time.Now()
				if err != nil {
					t.Errorf("GET .../events of the cell: %v", err)
				}
				followed <- rec
			}()
		}
		return col.add(ev)
	})
	done := time.Now()
	if err != nil {
		t.Fatalf("streamed cell: %v", err)
	}
	if res.Status != api.StatusCompleted || cellResult(*res) != "10" || res.Cell != 2 || res.SessionID != id {
		t.Fatalf("streamed cell: %s", describeCell(*res))
	}
	if len(col.events) == 0 || col.events[0] != api.EventStatus || col.events[len(col.events)-1] != api.EventDone {
		t.Fatalf("events %v", col.events)
	}
	checkLive(t, col.ticks, done)
	if got := len(parseTicks(t, res.Stdout, done)); got != 5 {
		t.Errorf("the result's stdout has %d ticks, want 5: %q", got, res.Stdout)
	}
	if rec := <-followed; rec == nil || rec.ExecutionID != res.ExecutionID || rec.Stdout != res.Stdout || rec.Status != api.StatusCompleted {
		t.Errorf("the followed record %+v, want the cell's", rec)
	}
	t.Log("the follower of the cell's execution id:")
	checkLive(t, fcol.ticks, fdone)
	if c := s.cell(t, id, "n", 0); cellResult(c) != "5" {
		t.Fatalf("after the streamed cell: %s", describeCell(c))
	}
}

// TestSessionCellStuckReader: a client that stops reading a streamed
// cell's events does not stall the cell: it ends, completed, and the
// session takes the next cell; the reader then learns what it missed and
// gets the result.
func TestSessionCellStuckReader(t *testing.T) {
	s := sharedServer(t)
	sid := s.openSession(t, api.SessionRequest{Config: &api.SessionConfig{Config: api.Config{MaxOutputBytes: ptr(int64(16 << 20))}}})
	code := stuckReaderCode
	resp := openStream(t, s, http.MethodPost, "/api/v1/sessions/"+sid+"/eval", jsonOf(t, api.CellRequest{Code: code, TimeoutSeconds: ptr(60)}))
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	ev, data := readEvent(t, br)
	if ev != api.EventStatus {
		t.Fatalf("first event %q %s", ev, data)
	}
	id := decode[api.StatusEvent](t, []byte(data)).ExecutionID
	// Nothing more is read until the cell is over.
	start := time.Now()
	deadline := start.Add(45 * time.Second)
	for {
		if got := s.session(t, sid); got.CellsRun == 1 && got.State == api.SessionIdle {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cell did not end while its reader was stuck: %+v", s.session(t, sid))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the cell ended %s after its stream opened, with a stuck reader", time.Since(start).Round(time.Millisecond))
	if c := s.cell(t, sid, "1 + 1", 0); cellResult(c) != "2" {
		t.Fatalf("the next cell: %s", describeCell(c))
	}
	final := decode[api.CellResult](t, []byte(readMissed(t, br)))
	if final.ExecutionID != id || final.Status != api.StatusCompleted || final.Cell != 1 || !strings.HasSuffix(final.Stdout, "end\n") {
		t.Fatalf("final result %s", describeCell(final))
	}
}

// TestSessionCellQueued: a cell sent while another runs is pending (its
// stream's first status, its record) until that one ends, then running;
// ?wait= on the first returns at its end.
func TestSessionCellQueued(t *testing.T) {
	s := sharedServer(t)
	id := s.openSession(t, api.SessionRequest{})
	c := newClient(t, s)
	ctx := context.Background()
	firstID := make(chan string, 1)
	firstDone := make(chan *api.CellResult, 1)
	go func() {
		sent := false
		r, err := c.RunCellStream(ctx, id, api.CellRequest{Code: "import time\ntime.sleep(1.5)\n'slept'"}, func(ev client.Event) error {
			if ev.Name == api.EventStatus && !sent {
				sent = true
				firstID <- ev.Status.ExecutionID
			}
			return nil
		})
		if err != nil {
			t.Errorf("the first cell: %v", err)
		}
		firstDone <- r
	}()
	a := <-firstID
	for _, e := s.get(t, a, 0); e.Status != api.StatusRunning; _, e = s.get(t, a, 0) {
		time.Sleep(5 * time.Millisecond)
	}
	waited := make(chan api.Execution, 1)
	go func() {
		_, e := s.get(t, a, 30*time.Second)
		waited <- e
	}()
	var statuses []string
	var second string
	res, err := c.RunCellStream(ctx, id, api.CellRequest{Code: "'second'"}, func(ev client.Event) error {
		if ev.Name == api.EventStatus {
			statuses = append(statuses, ev.Status.Status)
			if second == "" {
				second = ev.Status.ExecutionID
				if _, e := s.get(t, second, 0); e.Status != api.StatusPending {
					t.Errorf("the waiting cell's record: %s", e.Status)
				}
			}
		}
		return nil
	})
	if err != nil || res.Status != api.StatusCompleted || cellResult(*res) != "'second'" {
		t.Fatalf("the second cell: %+v %v", res, err)
	}
	if strings.Join(statuses, ",") != "pending,running" {
		t.Errorf("the second cell's statuses %v, want pending then running", statuses)
	}
	r := <-firstDone
	if r == nil || cellResult(*r) != "'slept'" {
		t.Fatalf("the first cell: %+v", r)
	}
	if e := <-waited; e.Status != api.StatusCompleted || e.ExecutionID != a {
		t.Errorf("?wait= of the first cell: %+v", e)
	}
	if res.QueuedMS < 500 {
		t.Errorf("the second cell waited %d ms, want about the first's 1.5 s", res.QueuedMS)
	}
}

// TestSessionCellKill: DELETE /api/v1/executions/{id} of a running cell
// interrupts it (KeyboardInterrupt, status killed) and the session keeps
// its state for the next cell.
func TestSessionCellKill(t *testing.T) {
	s := sharedServer(t)
	id := s.openSession(t, api.SessionRequest{})
	if c := s.cell(t, id, "x = 41", 0); c.Status != api.StatusCompleted {
		t.Fatalf("x = 41: %s", describeCell(c))
	}
	c := newClient(t, s)
	ctx := context.Background()
	cellID := make(chan string, 1)
	done := make(chan *api.CellResult, 1)
	go func() {
		var eid string
		r, err := c.RunCellStream(ctx, id, api.CellRequest{Code: "print('looping', flush=True)\nwhile True:\n    pass", TimeoutSeconds: ptr(60)}, func(ev client.Event) error {
			switch {
			case ev.Name == api.EventStatus:
				eid = ev.Status.ExecutionID
			case ev.Name == api.EventStdout && strings.Contains(ev.Text, "looping"):
				cellID <- eid // it runs
			}
			return nil
		})
		if err != nil {
			t.Errorf("the looping cell: %v", err)
		}
		done <- r
	}()
	a := <-cellID
	start := time.Now()
	st, err := c.Kill(ctx, a)
	if err != nil || st != api.StatusKilled {
		t.Fatalf("DELETE of the running cell: %q %v", st, err)
	}
	r := <-done
	t.Logf("the cell ended %s after its DELETE", time.Since(start).Round(time.Millisecond))
	if r == nil || r.Status != api.StatusKilled || r.ErrorType != "KeyboardInterrupt" || r.SessionState != api.SessionIdle || r.TimedOut {
		t.Fatalf("the interrupted cell: %+v", r)
	}
	if _, e := s.get(t, a, 0); e.Status != api.StatusKilled {
		t.Errorf("its record: %+v", e)
	}
	if c := s.cell(t, id, "x + 1", 0); cellResult(c) != "42" {
		t.Fatalf("after the kill: %s", describeCell(c))
	}
}
