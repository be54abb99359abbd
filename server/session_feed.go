package server

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/pyexec/pyexec/api"
)

// liveCell is a session cell while it waits or runs: the Feed of its
// output for every event stream that follows its execution id (set once
// the cell starts, so that a stream says pending until then), its end,
// and how to interrupt it.
type liveCell struct {
	id   string
	live *liveFeed
	done chan struct{} // closed once final is set: the record is final
	put  chan struct{} // closed once the record was put in the store (or not kept)
	stop context.CancelFunc

	mu      sync.Mutex
	out     [2][]byte // stdout, stderr so far (the Outcome's, bounded by the jail)
	subs    map[int]func(Chunk)
	next    int
	final   api.Execution
	stopped bool // interrupted by a DELETE
}

// push is the cell's CellRequest.Output: it keeps the chunk and hands it
// to the subscribers (which do not block).
func (c *liveCell) push(ch Chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	if ch.Stderr {
		i = 1
	}
	c.out[i] = append(c.out[i], ch.Data...)
	for _, fn := range c.subs {
		fn(ch)
	}
}

// Subscribe is the cell's Feed (see Feed).
func (c *liveCell) Subscribe(fn func(Chunk)) (Output, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs == nil {
		c.subs = map[int]func(Chunk){}
	}
	n := c.next
	c.next++
	c.subs[n] = fn
	before := Output{Stdout: string(c.out[0]), Stderr: string(c.out[1])}
	return before, func() {
		c.mu.Lock()
		delete(c.subs, n)
		c.mu.Unlock()
	}
}

// interrupt ends the cell's context: the code gets KeyboardInterrupt, as
// at its timeout (a cell still waiting for the session does not run).
func (c *liveCell) interrupt() {
	c.mu.Lock()
	c.stopped = true
	stop := c.stop
	c.mu.Unlock()
	stop()
}

func (c *liveCell) wasStopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopped
}

// record is the final record, once done is closed.
func (c *liveCell) record() api.Execution {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.final
}

// liveCells are the server's waiting and running cells by execution id.
type liveCells struct {
	mu   sync.Mutex
	byID map[string]*liveCell
}

// begin registers the cell with the id (or returns it, when its streamed
// request registered it first) and wires req to it: its output feeds the
// cell's streams, its start sets their Feed. The returned context is
// ctx, ended by interrupt too.
func (l *liveCells) begin(ctx context.Context, id string, req *CellRequest) (*liveCell, context.Context) {
	c := l.add(id)
	ctx, stop := context.WithCancel(ctx)
	c.mu.Lock()
	c.stop = stop
	if c.stopped {
		stop()
	}
	c.mu.Unlock()
	next := req.Output
	req.Output = func(ch Chunk) {
		c.push(ch)
		if next != nil {
			next(ch)
		}
	}
	req.Started = func() { c.live.set(c) }
	return c, ctx
}

// add registers the cell with the id, or returns the registered one.
func (l *liveCells) add(id string) *liveCell {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.byID[id]; ok {
		return c
	}
	if l.byID == nil {
		l.byID = map[string]*liveCell{}
	}
	c := &liveCell{id: id, live: newLiveFeed(), done: make(chan struct{}), put: make(chan struct{}), stop: func() {}}
	l.byID[id] = c
	return c
}

// end gives the cell its final record, wakes whoever waits for it and
// forgets it. The record must be in the store first (if kept at all).
func (l *liveCells) end(c *liveCell, final api.Execution) {
	c.mu.Lock()
	c.final = final
	stop := c.stop
	c.mu.Unlock()
	l.mu.Lock()
	delete(l.byID, c.id)
	l.mu.Unlock()
	stop()
	close(c.done)
}

// get returns the waiting or running cell with the id.
func (l *liveCells) get(id string) (*liveCell, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.byID[id]
	return c, ok
}

// startCell wraps req.Started: the cell's record (kept: in the store)
// turns running when its code starts; *started is then when.
func (s *Server) startCell(c *liveCell, req *CellRequest, kept bool, enqueued time.Time, started *time.Time) {
	close(c.put)
	id := c.id
	next := req.Started
	req.Started = func() {
		*started = time.Now()
		if kept {
			s.store.Update(id, func(e *api.Execution) { startExecution(e, *started, enqueued) })
		}
		next()
	}
}

// endCell ends c with the cell's final record: the store's once final,
// else e (the record a failed cell had when it was not kept).
func (s *Server) endCell(c *liveCell, e api.Execution) {
	if r, ok := s.store.Get(c.id); ok && r.Finished() {
		e = r
	} else if !e.Finished() {
		e.Status, e.Error = api.StatusFailed, msgInternal
	}
	s.metrics.cellFinished(e)
	s.sess.cells.end(c, e)
}

// killedCell is the result of a cell interrupted by a DELETE before it
// had the session: it did not run, and its record says killed.
func (s *Server) killedCell(ss *session, e api.Execution, kept bool) api.CellResult {
	now := time.Now().UTC()
	e.Status, e.FinishedAt, e.StartedAt = api.StatusKilled, &now, nil
	e.Error = "killed (DELETE) before it ran: an earlier cell of the session held it"
	if kept {
		_, durable, _ := s.store.Update(e.ExecutionID, func(r *api.Execution) { *r = e })
		<-durable
	}
	v := ss.view()
	return api.CellResult{Execution: e, SessionID: ss.id, SessionState: v.State}
}

// killCell serves DELETE /api/v1/executions/{id} of a waiting or running
// cell: it is interrupted as at its timeout (KeyboardInterrupt, the
// session's state kept; past the grace the session is killed), or, still
// waiting, never runs. The answer waits up to killWait for its end.
func (s *Server) killCell(w http.ResponseWriter, r *http.Request, c *liveCell) {
	c.interrupt()
	timer := time.NewTimer(killWait)
	defer timer.Stop()
	status := api.StatusKilled
	select {
	case <-c.done:
		status = c.record().Status // a cell that ended just before keeps its status
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	writeJSON(w, http.StatusOK, api.KillResponse{Status: status})
}
