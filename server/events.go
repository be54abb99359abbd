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
	if c, ok := s.sess.cells.get(id); ok {
		s.streamCell(w, r, c)
		return
	}
	// Not queued or running: the record, if any, is final.
	e, ok := s.store.Get(id)
	if !ok {
		writeError(w, http.StatusNotFound, "execution not found")
		return
	}
	ew := newEventWriter(w)
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: e.ExecutionID, Status: e.Status})
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
	status := api.StatusPending
	if e, ok := s.store.Get(t.job.ID); ok {
		status = e.Status
	}
	s.stream(w, r, followed{
		id: t.job.ID, live: t.live, done: t.done, status: status,
		end: func(ew *eventWriter, streamed bool) {
			final, _ := t.result()
			finishEvents(ew, final, streamed)
		},
		gone: func() {
			if kill {
				s.disp.cancel(t.job.ID, errClientGone)
			}
		},
	})
}

// followed is what an event stream follows: a task or a session cell.
type followed struct {
	id     string
	live   *liveFeed       // its Feed once the code runs
	done   <-chan struct{} // closed once it ended (its Feed pushed its last chunk)
	status string          // the first status event's
	// end queues the last events (streamed: the output was sent).
	end  func(ew *eventWriter, streamed bool)
	gone func() // the client went away (nil: nothing to do)
}

// stream serves f as an event stream: its status, "running" and its
// output once its code runs, then its end.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, f followed) {
	if !f.live.join() {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many event streams follow this execution")
		return
	}
	defer f.live.leave()
	gone := func() {
		if f.gone != nil {
			f.gone()
		}
	}
	ew := newEventWriter(w)
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: f.id, Status: f.status})
	if ew.flush() != nil {
		gone()
		return
	}
	keepAlive := time.NewTicker(keepAliveEvery)
	defer keepAlive.Stop()

	// Until the code runs: only the end can come. A run that started is
	// streamed even when it ended too (its Feed has all its output).
	for streaming := false; !streaming; {
		select {
		case <-f.live.ready:
			streaming = true
			continue
		default:
		}
		select {
		case <-f.live.ready:
			streaming = true
		case <-f.done:
			f.end(ew, false)
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
	before, cancel := f.live.feed.Subscribe(buf.push)
	defer cancel()
	ew.event(api.EventStatus, api.StatusEvent{ExecutionID: f.id, Status: api.StatusRunning})
	ew.output(false, []byte(before.Stdout))
	ew.output(true, []byte(before.Stderr))
	if !follow(r.Context(), ew, buf, f.done, keepAlive.C) {
		gone()
		return
	}
	cancel()
	f.end(ew, true)
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
