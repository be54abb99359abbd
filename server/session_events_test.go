package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

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
	if len(events) != 3 || events[0].Status == nil || events[0].Status.ExecutionID != cell.ExecutionID ||
		events[1].Name != api.EventStdout || events[1].Text != "hello" || events[2].Name != api.EventDone {
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
// output files its patterns match; bad patterns are a 400.
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
}

// TestCellRecordEvents: a running cell's record is running, and GET
// .../events of it gives its output and final record once it ends.
func TestCellRecordEvents(t *testing.T) {
	s, _ := sessionServer(t, SessionOptions{})
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	var ses api.Session
	res.decode(t, &ses)
	c := newTestClient(t, s.URL)
	ctx := context.Background()
	followed := make(chan *api.Execution, 1)
	_, err := c.RunCellStream(ctx, ses.SessionID, api.CellRequest{Code: "slow"}, func(ev client.Event) error {
		if ev.Name != api.EventStatus {
			return nil
		}
		id := ev.Status.ExecutionID
		if e := s.execution(t, id); e.Status != api.StatusRunning {
			t.Errorf("the running cell's record: %+v", e)
		}
		go func() {
			if res := s.get(t, "/api/v1/executions/"+id+"?wait=5"); !strings.Contains(string(res.body), `"status":"completed"`) {
				t.Errorf("long-poll of the cell's record: %s", res.body)
			}
			rec, err := c.Events(ctx, id, nil)
			if err != nil {
				t.Errorf("events of the cell: %v", err)
			}
			followed <- rec
		}()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec := <-followed; rec == nil || rec.Status != api.StatusCompleted || rec.Stdout != "slow" {
		t.Fatalf("followed record: %+v", rec)
	}
}
