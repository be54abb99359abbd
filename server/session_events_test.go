package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// TestCellEvents: a streamed cell sends its output as events, then its
// result; a cell of an ended session ends failed, with why.
func TestCellEvents(t *testing.T) {
	s, _ := sessionServer(t, SessionOptions{})
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var ses api.Session
	res.decode(t, &ses)
	c := newTestClient(t, s.URL)
	ctx := context.Background()
	var events []client.Event
	cell, err := c.RunCellStream(ctx, ses.SessionID, api.CellRequest{Code: "hello"}, func(ev client.Event) error {
		events = append(events, ev)
		return nil
	})
	if err != nil || cell.Stdout != "hello" || cell.Cell != 1 || cell.SessionID != ses.SessionID ||
		cell.SessionState != api.SessionIdle || cell.Status != api.StatusCompleted {
		t.Fatalf("cell: %+v %v", cell, err)
	}
	if len(events) != 4 || events[0].Status == nil || events[0].Status.ExecutionID != cell.ExecutionID ||
		events[1].Status == nil || events[1].Status.Status != api.StatusRunning ||
		events[2].Name != api.EventStdout || events[2].Text != "hello" || events[3].Name != api.EventDone {
		t.Fatalf("events %+v", events)
	}
	if _, err := c.RunCell(ctx, ses.SessionID, api.CellRequest{Code: "exit"}); err != nil {
		t.Fatal(err)
	}
	// An ended session's cell is a 410, before any event.
	var apiErr *client.APIError
	if _, err := c.RunCellStream(ctx, ses.SessionID, api.CellRequest{Code: "x"}, nil); !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusGone {
		t.Fatalf("after the end: %v", err)
	}
	// One that ends while the cell waits: a failed result that says why.
	ss, _ := s.sess.get(ses.SessionID, "")
	if r := s.unrunCell(ss, "exe_x", ErrSessionEnded); r.Status != api.StatusFailed || !strings.Contains(r.Error, "the session has ended (exited)") || r.ExecutionID != "exe_x" {
		t.Errorf("unrun cell: %+v", r)
	}
}

// TestCellRecords: a cell's record is kept as an execution's, with the
// output files its patterns match, and counted in the metrics; bad
// patterns are a 400.
func TestCellRecords(t *testing.T) {
	s, _ := sessionServer(t, SessionOptions{})
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	var ses api.Session
	res.decode(t, &ses)
	base := "/api/v1/sessions/" + ses.SessionID
	res = s.postJSON(t, base+"/eval", `{"code":"data","output_files":["out.*"]}`)
	if res.status != http.StatusOK {
		t.Fatalf("cell: %d %s", res.status, res.body)
	}
	var cell api.CellResult
	res.decode(t, &cell)
	if len(cell.OutputFiles) != 1 || cell.OutputFiles[0].Path != "out.txt" || cell.OutputFiles[0].Size != 4 {
		t.Fatalf("output files %+v", cell.OutputFiles)
	}
	if e := s.execution(t, cell.ExecutionID); e.Status != api.StatusCompleted || e.Stdout != "data" || len(e.OutputFiles) != 1 {
		t.Fatalf("the cell's record: %+v", e)
	}
	if f := s.get(t, "/api/v1/executions/"+cell.ExecutionID+"/files/out.txt"); f.status != http.StatusOK || string(f.body) != "data" {
		t.Fatalf("download: %d %q", f.status, f.body)
	}
	if f := s.get(t, "/api/v1/executions/"+cell.ExecutionID+"/files/other.txt"); f.status != http.StatusNotFound {
		t.Fatalf("a file the patterns do not match: %d %q", f.status, f.body)
	}
	// Without patterns: kept, with no files.
	res = s.postJSON(t, base+"/eval", `{"code":"plain"}`)
	res.decode(t, &cell)
	if e := s.execution(t, cell.ExecutionID); e.Stdout != "plain" || len(e.OutputFiles) != 0 {
		t.Fatalf("plain cell's record: %+v", e)
	}
	for _, bad := range []string{`["/etc/*"]`, `["../x"]`, `["a/[b"]`} {
		if res := s.postJSON(t, base+"/eval", `{"code":"x","output_files":`+bad+`}`); res.status != http.StatusBadRequest ||
			!strings.Contains(res.errorMsg(t), "output_files") {
			t.Errorf("output_files %s: %d %s", bad, res.status, res.body)
		}
	}
	// The two cells that ran are counted, as executions and as cells.
	metrics := string(s.get(t, "/metrics").body)
	for _, want := range []string{`pyexec_session_cells_total{status="completed"} 2`, `pyexec_executions_total{status="completed"} 2`,
		"pyexec_execution_duration_seconds_count 2"} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestCellRecordEvents: GET .../events of a running cell streams its
// output live and ends with its record; ?wait= wakes on its end; a cell
// waiting for another is pending, then running; DELETE interrupts a
// running cell (killed, the session kept) and a waiting one (killed
// before it ran).
func TestCellRecordEvents(t *testing.T) {
	s, f := sessionServer(t, SessionOptions{})
	gate := make(chan struct{})
	f.gate = gate
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	var ses api.Session
	res.decode(t, &ses)
	c := newTestClient(t, s.URL)
	ctx := context.Background()

	a, _, aDone := startCell(t, c, ses.SessionID, "gate")
	live := make(chan string, 8)
	followed := make(chan *api.Execution, 1)
	go func() {
		rec, err := c.Events(ctx, a, func(ev client.Event) error {
			switch {
			case ev.Name == api.EventStdout:
				live <- ev.Text
			case ev.Name == api.EventStatus:
				live <- "status " + ev.Status.Status
			}
			return nil
		})
		if err != nil {
			t.Errorf("events of the cell: %v", err)
		}
		followed <- rec
	}()
	if got := <-live; got != "status running" {
		t.Fatalf("first event of the running cell: %q", got)
	}
	if got := <-live + <-live; got != "status runninga" {
		t.Fatalf("live events before the cell's end: %q", got)
	}
	// A cell behind it waits: pending, its record too.
	b, bStatus, bDone := startCell(t, c, ses.SessionID, "after")
	if bStatus != api.StatusPending || s.execution(t, b).Status != api.StatusPending {
		t.Fatalf("a waiting cell: %s, record %+v", bStatus, s.execution(t, b))
	}
	waited := make(chan string, 1)
	go func() { waited <- string(s.get(t, "/api/v1/executions/"+a+"?wait=30").body) }()
	gate <- struct{}{}
	if got := <-live; got != "b" {
		t.Fatalf("the output after the gate: %q", got)
	}
	if rec := <-followed; rec == nil || rec.Status != api.StatusCompleted || rec.Stdout != "ab" {
		t.Fatalf("followed record: %+v", rec)
	}
	if got := <-waited; !strings.Contains(got, `"status":"completed"`) {
		t.Fatalf("?wait= of the cell: %s", got)
	}
	if r := <-aDone; r == nil || r.Stdout != "ab" {
		t.Fatalf("the gated cell: %+v", r)
	}
	if r := <-bDone; r == nil || r.Status != api.StatusCompleted || r.Stdout != "after" {
		t.Fatalf("the cell that waited: %+v", r)
	}

}

// TestCellKill: DELETE /api/v1/executions/{id} interrupts a running cell
// (killed, the session kept) and a waiting one (killed before it ran).
func TestCellKill(t *testing.T) {
	s, f := sessionServer(t, SessionOptions{})
	f.gate = make(chan struct{}) // never opened
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	var ses api.Session
	res.decode(t, &ses)
	c := newTestClient(t, s.URL)
	ctx := context.Background()
	// DELETE: a running cell is interrupted, one behind it never runs.
	a, _, aDone := startCell(t, c, ses.SessionID, "gate")
	for s.execution(t, a).Status != api.StatusRunning {
		time.Sleep(time.Millisecond)
	}
	b, _, bDone := startCell(t, c, ses.SessionID, "never")
	if st, err := c.Kill(ctx, b); err != nil || st != api.StatusKilled {
		t.Fatalf("DELETE of a waiting cell: %q %v", st, err)
	}
	if r := <-bDone; r == nil || r.Status != api.StatusKilled || r.Stdout != "" || r.StartedAt != nil || !strings.Contains(r.Error, "before it ran") {
		t.Fatalf("the killed waiting cell: %+v", r)
	}
	if st, err := c.Kill(ctx, a); err != nil || st != api.StatusKilled {
		t.Fatalf("DELETE of a running cell: %q %v", st, err)
	}
	if r := <-aDone; r == nil || r.Status != api.StatusKilled || r.Stdout != "a" || r.SessionState != api.SessionIdle {
		t.Fatalf("the interrupted cell: %+v", r)
	}
	if r, err := c.RunCell(ctx, ses.SessionID, api.CellRequest{Code: "next"}); err != nil || r.Stdout != "next" {
		t.Fatalf("the session after the kill: %+v %v", r, err)
	}
}

// startCell streams a cell on its own and returns its execution id,
// its first status, and its result once it ends.
func startCell(t *testing.T, c *client.Client, sid, code string) (string, string, chan *api.CellResult) {
	ctx := context.Background()
	ids := make(chan [2]string, 1)
	out := make(chan *api.CellResult, 1)
	go func() {
		first := true
		cell, err := c.RunCellStream(ctx, sid, api.CellRequest{Code: code}, func(ev client.Event) error {
			if ev.Name == api.EventStatus && first {
				first = false
				ids <- [2]string{ev.Status.ExecutionID, ev.Status.Status}
			}
			return nil
		})
		if err != nil {
			t.Errorf("cell %q: %v", code, err)
		}
		out <- cell
	}()
	id := <-ids
	return id[0], id[1], out
}
