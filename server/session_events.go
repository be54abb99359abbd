package server

import (
	"context"
	"errors"
	"net/http"
	"time"

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
	buf := newOutputBuffer(readerBufferBytes)
	req.Output = buf.push
	end := make(chan struct{})
	var res api.CellResult
	go func() {
		defer close(end)
		var err error
		if res, err = s.runCell(r.Context(), ss, id, req); err != nil {
			res = s.unrunCell(ss, id, err)
		}
	}()
	ew := newEventWriter(w)
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: id, Status: api.StatusRunning})
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	if !follow(r.Context(), ew, buf, end, keepAlive.C) {
		return // the cell goes on until ctx interrupts it
	}
	ew.endOutput()
	ew.event(api.EventDone, res)
	_ = ew.flush()
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

// cellPoll is how often a request that waits for a running cell's
// record looks for its end.
const cellPoll = 100 * time.Millisecond

// awaitRecord waits until the record with the id is final or gone (true),
// polling the store: a session cell's record is unfinished while no task
// runs it. false: ctx ended or until fired first.
func (s *Server) awaitRecord(ctx context.Context, id string, until <-chan time.Time) bool {
	var poll *time.Ticker
	for {
		st, ok := s.store.Status(id)
		if !ok || (st != api.StatusPending && st != api.StatusRunning) {
			return true
		}
		if poll == nil {
			poll = time.NewTicker(cellPoll)
			defer poll.Stop()
		}
		select {
		case <-ctx.Done():
			return false
		case <-until:
			return false
		case <-poll.C:
		}
	}
}

// awaitCellRecord waits for the end of a running cell's record, sending
// keep-alives meanwhile, and returns the final record: its output comes
// with it (a cell streams live only to its own request). false: the
// client went away, or the record did (then the stream just ends).
func (s *Server) awaitCellRecord(ctx context.Context, ew *eventWriter, id string) (api.Execution, bool) {
	if ew.flush() != nil {
		return api.Execution{}, false
	}
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()
	for !s.awaitRecord(ctx, id, keepAlive.C) {
		if ctx.Err() != nil {
			return api.Execution{}, false
		}
		ew.comment()
		if ew.flush() != nil {
			return api.Execution{}, false
		}
	}
	e, ok := s.store.Get(id)
	return e, ok && e.Finished()
}
