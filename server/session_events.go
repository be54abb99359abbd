package server

import (
	"errors"
	"net/http"

	"github.com/pyexec/pyexec/api"
)

// cellEvents serves a cell as an event stream (POST
// /api/v1/sessions/{id}/eval with "Accept: text/event-stream"): a
// "status" event (running, with the cell's execution id), its stdout and
// stderr as the code writes them, through a bounded buffer (a slow client
// loses chunks, counted in "dropped" events, and never holds the cell
// back), then "done" with the cell's result (api.CellResult). A cell that
// could not run (the session had ended) ends failed, with why. A client
// that goes away interrupts the cell, as one that leaves a plain request.
func (s *Server) cellEvents(w http.ResponseWriter, r *http.Request, ss *session, req CellRequest) {
	id := newID()
	c := s.sess.cells.add(id)
	end := make(chan struct{})
	var res api.CellResult
	go func() {
		defer close(end)
		var err error
		if res, err = s.runCell(r.Context(), ss, id, req); err != nil {
			res = s.unrunCell(ss, id, err)
		}
	}()
	select { // its record is there before its first event
	case <-c.put:
	case <-end:
	}
	// The cell goes on until the request's context interrupts it.
	s.stream(w, r, followed{
		id: id, live: c.live, done: end, status: cellStatus(c),
		end: func(ew *eventWriter, streamed bool) {
			if !streamed {
				ew.output(false, []byte(res.Stdout))
				ew.output(true, []byte(res.Stderr))
			}
			ew.endOutput()
			ew.event(api.EventDone, res)
		},
	})
}

// unrunCell is the result of a streamed cell that did not run: err is
// runCell's.
func (s *Server) unrunCell(ss *session, id string, err error) api.CellResult {
	e := api.Execution{ExecutionID: id, Status: api.StatusFailed, ExitCode: new(int), PythonVersion: ss.interp.Version}
	v := ss.view()
	res := api.CellResult{SessionID: ss.id, SessionState: v.State}
	if errors.Is(err, ErrSessionEnded) {
		e.Error = endedMessage(v)
		res.SessionReason = v.Reason
	} else {
		s.log.Error("session cell failed", "session", ss.id, "err", err)
		e.Error = msgInternal
	}
	res.Execution = e
	return res
}

// cellStatus is the first status event of a stream that follows c.
func cellStatus(c *liveCell) string {
	select {
	case <-c.live.ready:
		return api.StatusRunning
	default:
		return api.StatusPending
	}
}

// streamCell serves GET /api/v1/executions/{id}/events of a waiting or
// running session cell: as a run's stream, pending until an earlier cell
// of its session ended, then running with its output live, then done with
// its record. The reader going away leaves the cell alone.
func (s *Server) streamCell(w http.ResponseWriter, r *http.Request, c *liveCell) {
	s.stream(w, r, followed{
		id: c.id, live: c.live, done: c.done, status: cellStatus(c),
		end: func(ew *eventWriter, streamed bool) { finishEvents(ew, c.record(), streamed) },
	})
}
