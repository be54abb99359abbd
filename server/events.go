package server

import (
	"context"
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// keepAliveEvery is how often an idle event stream sends a comment, so
// that proxies and clients do not take a quiet run for a dead connection.
const keepAliveEvery = 15 * time.Second

// handleEvents serves GET /api/v1/executions/:id/events: the execution's
// output as Server-Sent Events while it runs, then its final record (see
// api.EventStatus). A finished execution gets its output and record at
// once.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("id")
	if t, active := s.disp.lookup(id); active {
		s.streamTask(w, r, t, false)
		return
	}
	// Not queued or running: the record, if any, is final, or a session
	// cell's, still running (awaitCellRecord).
	e, ok := s.store.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "execution not found")
		return
	}
	ew := newEventWriter(w)
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: e.ExecutionID, Status: e.Status})
	if !e.Finished() {
		if e, ok = s.awaitCellRecord(r.Context(), ew, id); !ok {
			return
		}
	}
	finishEvents(ew, e, false)
	_ = ew.flush()
}

// runEvents serves a synchronous run as an event stream: POST
// /api/v1/eval or /api/v1/exec/sync with "Accept: text/event-stream". If
// the client goes away first, the job is killed, as in runSync.
func (s *Server) runEvents(w http.ResponseWriter, r *http.Request, job Job) {
	t, err := s.enqueue(job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.streamTask(w, r, t, true)
}

// streamTask follows a queued or running task: its status, its output as
// the Feed pushes it (into a bounded buffer: a slow client loses chunks,
// counted in "dropped" events, and never holds the run back), and its
// final record. With kill, a client that goes away kills the task.
func (s *Server) streamTask(w http.ResponseWriter, r *http.Request, t *task, kill bool) {
	if !t.live.join() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many event streams follow this execution")
		return
	}
	defer t.live.leave()
	gone := func() {
		if kill {
			s.disp.cancel(t.job.ID, errClientGone)
		}
	}
	status := api.StatusPending
	if e, ok := s.store.Get(t.job.ID); ok {
		status = e.Status
	}
	ew := newEventWriter(w)
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: t.job.ID, Status: status})
	if ew.flush() != nil {
		gone()
		return
	}
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()

	// Until the code runs: only the record's end can come.
	for streaming := false; !streaming; {
		select {
		case <-t.live.ready:
			streaming = true
		case <-t.done:
			final, _ := t.result()
			finishEvents(ew, final, false)
			_ = ew.flush()
			return
		case <-r.Context().Done():
			gone()
			return
		case <-keepAlive.C:
			ew.comment()
			if ew.flush() != nil {
				gone()
				return
			}
		}
	}

	buf := newOutputBuffer(readerBufferBytes)
	before, cancel := t.live.feed.Subscribe(buf.push)
	defer cancel()
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: t.job.ID, Status: api.StatusRunning})
	ew.output(false, []byte(before.Stdout))
	ew.output(true, []byte(before.Stderr))
	// The Runner returned at t.done: the Feed pushed its last chunk before.
	if !follow(r.Context(), ew, buf, t.done, keepAlive.C) {
		gone()
		return
	}
	cancel()
	final, _ := t.result()
	finishEvents(ew, final, true)
	_ = ew.flush()
}

// follow sends the output buf receives as events (and "dropped" events
// with the bytes it lost), with keep-alive comments, until end is closed:
// then it sends what came before and returns true. false: the client
// went away (ctx) or stopped taking events (a write failed).
func follow(ctx context.Context, ew *eventWriter, buf *outputBuffer, end <-chan struct{}, keepAlive <-chan time.Time) bool {
	var dropped [2]int64
	send := func() error {
		chunks, d := buf.take()
		for _, c := range chunks {
			ew.output(c.Stderr, c.Data)
		}
		if d != dropped {
			dropped = d
			ew.event(api.EventDropped, api.DroppedEvent{StdoutBytes: d[0], StderrBytes: d[1]})
		}
		return ew.flush()
	}
	for {
		if send() != nil {
			return false
		}
		select {
		case <-buf.wake:
		case <-end:
			return send() == nil
		case <-ctx.Done():
			return false
		case <-keepAlive:
			ew.comment()
		}
	}
}

// finishEvents queues the end of a stream: the record's output when none
// was streamed, then the "done" event with the record.
func finishEvents(ew *eventWriter, e api.Execution, streamed bool) {
	if !streamed {
		ew.output(false, []byte(e.Stdout))
		ew.output(true, []byte(e.Stderr))
	}
	ew.endOutput()
	ew.event(api.EventDone, e)
}
