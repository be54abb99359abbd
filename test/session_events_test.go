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
	// A follower of the cell's execution record gets it when the cell ends.
	followed := make(chan *api.Execution, 1)
	res, err := c.RunCellStream(context.Background(), id, api.CellRequest{Code: code}, func(ev client.Event) error {
		if ev.Name == api.EventStatus {
			go func() {
				rec, err := c.Events(context.Background(), ev.Status.ExecutionID, nil)
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
