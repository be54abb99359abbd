package server

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyexec/pyexec/api"
)

type taskState int

const (
	taskQueued taskState = iota
	taskRunning
	taskDone
)

// task is one accepted job on its way through the queue and a worker.
type task struct {
	job      Job
	enqueued time.Time
	ctx      context.Context // cancelled with errKilled, errClientGone or errShutdown
	cancel   context.CancelCauseFunc
	done     chan struct{}                 // closed once the record is final
	final    api.Execution                 // the final record; read only after done is closed
	output   atomic.Pointer[func() Output] // the Runner's view of the output so far (Job.Watch)
	live     *liveFeed                     // the Runner's live output (Job.Stream)
	queued   int64                         // what it holds while queued (Job.queuedBytes)
	stored   <-chan struct{}               // closed once the pending record is on disk

	state taskState // guarded by dispatcher.mu
}

// memory is what the task takes from the memory budget while it runs.
func (t *task) memory() int64 { return t.job.Limits.MemoryBytes }

// caller is the token holder who submitted the task, whose quota it
// counts against ("" in an open server: no quota).
func (t *task) caller() string { return t.job.caller }

// result returns the final record once the task is done.
func (t *task) result() (api.Execution, bool) {
	select {
	case <-t.done:
		return t.final, true
	default:
		return api.Execution{}, false
	}
}

// admission bounds what the dispatcher starts and accepts beyond its
// number of workers and the size of its queue. A zero field means no bound.
type admission struct {
	// memBudget bounds, in bytes, the sum of the memory limits of the
	// running tasks. A task whose limit does not fit waits, and the tasks
	// behind it wait too (no task passes one waiting for memory).
	memBudget int64
	// callerRunning bounds the running tasks of one caller; a caller's
	// task waiting for it is passed by the others' tasks.
	callerRunning int
	// callerQueued bounds how many tasks of one caller may wait on top
	// of its callerRunning running ones; past both, submit refuses.
	callerQueued int
}

// dispatcher runs tasks on a fixed number of workers, with a bounded FIFO
// of waiting tasks in front of them. A worker starts the first waiting
// task whose caller is under its quota and whose memory fits the budget.
type dispatcher struct {
	workers  int
	queueCap int
	admit    admission
	// run executes a running task and returns its final record.
	run func(*task) api.Execution
	// drop finalises the record of a task that leaves the queue without
	// running; it is called with mu held and must not call back.
	drop func(t *task, cause error) api.Execution

	// maxQueuedBytes bounds the sum of the queued tasks' queued bytes; a
	// task is refused past it unless the queue is empty. Zero: no bound.
	// Set before the first submit.
	maxQueuedBytes int64
	queuedBytes    int64 // of the tasks in queue; guarded by mu

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*task
	active  map[string]*task // queued and running tasks by job id
	running int
	closed  bool
	wg      sync.WaitGroup

	memUsed      int64          // memory limits of the running tasks, bytes
	callerHeld   map[string]int // queued and running tasks per caller (not "")
	callerActive map[string]int // running tasks per caller (not "")
}

func newDispatcher(workers, queueCap int, admit admission, run func(*task) api.Execution, drop func(*task, error) api.Execution) *dispatcher {
	d := &dispatcher{
		workers:      workers,
		queueCap:     queueCap,
		admit:        admit,
		run:          run,
		drop:         drop,
		active:       make(map[string]*task),
		callerHeld:   make(map[string]int),
		callerActive: make(map[string]int),
	}
	d.cond = sync.NewCond(&d.mu)
	d.wg.Add(workers)
	for range workers {
		go d.worker()
	}
	return d
}

// submit queues t. put is called with the lock held, after the capacity
// check and before any worker can see t, to create the task's record.
func (d *dispatcher) submit(t *task, put func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errClosed
	}
	if d.running+len(d.queue) >= d.workers+d.queueCap {
		return errQueueFull
	}
	c := t.caller()
	if c != "" && d.admit.callerQueued > 0 && d.callerHeld[c] >= d.admit.callerRunning+d.admit.callerQueued {
		return errCallerFull
	}
	if d.maxQueuedBytes > 0 && len(d.queue) > 0 && d.queuedBytes+t.queued > d.maxQueuedBytes {
		return errQueueBytes
	}
	if err := put(); err != nil {
		return err
	}
	t.state = taskQueued
	d.queue = append(d.queue, t)
	d.queuedBytes += t.queued
	d.active[t.job.ID] = t
	if c != "" {
		d.callerHeld[c]++
	}
	d.cond.Broadcast()
	return nil
}

// nextLocked returns the index in the queue of the task to start now, or
// -1 when none may start: the first task whose caller is under its
// quota, if its memory fits the budget.
func (d *dispatcher) nextLocked() int {
	for i, t := range d.queue {
		if c := t.caller(); c != "" && d.admit.callerRunning > 0 && d.callerActive[c] >= d.admit.callerRunning {
			continue
		}
		if d.admit.memBudget > 0 && d.memUsed+t.memory() > d.admit.memBudget {
			return -1 // it waits for memory, and nobody passes it
		}
		return i
	}
	return -1
}

// releaseLocked returns what a task held, from the queue or from a worker, and
// wakes the workers: another task may fit now.
func (d *dispatcher) releaseLocked(t *task, wasRunning bool) {
	c := t.caller()
	if wasRunning {
		d.running--
		d.memUsed -= t.memory()
		if c != "" {
			if d.callerActive[c]--; d.callerActive[c] <= 0 {
				delete(d.callerActive, c)
			}
		}
	}
	if c != "" {
		if d.callerHeld[c]--; d.callerHeld[c] <= 0 {
			delete(d.callerHeld, c)
		}
	}
	d.cond.Broadcast()
}

// lookup returns the queued or running task with the id.
func (d *dispatcher) lookup(id string) (*task, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.active[id]
	return t, ok
}

// cancel stops the task with the id: a queued one leaves the queue and is
// finalised at once, a running one has its context cancelled with cause
// (the worker finalises it when the Runner returns). It returns the task,
// or false when no such task is queued or running.
func (d *dispatcher) cancel(id string, cause error) (*task, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.active[id]
	if !ok {
		return nil, false
	}
	switch t.state {
	case taskQueued:
		d.dropLocked(t, cause)
	case taskRunning:
		t.cancel(cause)
	}
	return t, true
}

func (d *dispatcher) dropLocked(t *task, cause error) {
	if i := slices.Index(d.queue, t); i >= 0 {
		d.queue = slices.Delete(d.queue, i, i+1)
		d.queuedBytes -= t.queued
	}
	t.cancel(cause)
	t.final = d.drop(t, cause)
	t.state = taskDone
	delete(d.active, t.job.ID)
	d.releaseLocked(t, false)
	close(t.done)
}

// counts returns the number of running and queued tasks.
func (d *dispatcher) counts() (running, queued int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, len(d.queue)
}

// reserve takes mem from the memory budget for a live session (which
// holds it for its life, as a running task does while it runs): false
// when it does not fit now. unreserve gives it back.
func (d *dispatcher) reserve(mem int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.admit.memBudget > 0 && d.memUsed+mem > d.admit.memBudget {
		return false
	}
	d.memUsed += mem
	return true
}

func (d *dispatcher) unreserve(mem int64) {
	d.mu.Lock()
	d.memUsed -= mem
	d.cond.Broadcast() // a task waiting for memory may fit now
	d.mu.Unlock()
}

// memoryInUse returns the sum of the memory limits of the running tasks.
func (d *dispatcher) memoryInUse() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.memUsed
}

func (d *dispatcher) worker() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		i := d.nextLocked()
		for i < 0 && !(d.closed && len(d.queue) == 0) {
			d.cond.Wait()
			i = d.nextLocked()
		}
		if i < 0 {
			d.mu.Unlock()
			return
		}
		t := d.queue[i]
		d.queue = slices.Delete(d.queue, i, i+1)
		t.state = taskRunning
		d.queuedBytes -= t.queued
		d.running++
		d.memUsed += t.memory()
		if c := t.caller(); c != "" {
			d.callerActive[c]++
		}
		d.mu.Unlock()

		final := d.run(t)

		d.mu.Lock()
		t.final = final
		t.state = taskDone
		delete(d.active, t.job.ID)
		d.releaseLocked(t, true)
		d.mu.Unlock()
		t.cancel(nil) // release the context's resources
		close(t.done)
	}
}

// close stops accepting tasks; the workers finish the queue and exit.
func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.cond.Broadcast()
	d.mu.Unlock()
}

// abort drops every queued task and cancels every running one with cause.
func (d *dispatcher) abort(cause error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closed = true
	for len(d.queue) > 0 {
		d.dropLocked(d.queue[0], cause)
	}
	for _, t := range d.active {
		if t.state == taskRunning {
			t.cancel(cause)
		}
	}
	d.cond.Broadcast()
}

// wait blocks until every worker has exited or ctx ends.
func (d *dispatcher) wait(ctx context.Context) error {
	idle := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
