package server

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyexec/pyexec/client/api"
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

	state taskState // guarded by dispatcher.mu
}

// result returns the final record once the task is done.
func (t *task) result() (api.Execution, bool) {
	select {
	case <-t.done:
		return t.final, true
	default:
		return api.Execution{}, false
	}
}

// dispatcher runs tasks on a fixed number of workers, with a bounded FIFO
// of waiting tasks in front of them.
type dispatcher struct {
	workers  int
	queueCap int
	// run executes a running task and returns its final record.
	run func(*task) api.Execution
	// drop finalises the record of a task that leaves the queue without
	// running; it is called with mu held and must not call back.
	drop func(t *task, cause error) api.Execution

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []*task
	active  map[string]*task // queued and running tasks by job id
	running int
	closed  bool
	wg      sync.WaitGroup
}

func newDispatcher(workers, queueCap int, run func(*task) api.Execution, drop func(*task, error) api.Execution) *dispatcher {
	d := &dispatcher{
		workers:  workers,
		queueCap: queueCap,
		run:      run,
		drop:     drop,
		active:   make(map[string]*task),
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
	if err := put(); err != nil {
		return err
	}
	t.state = taskQueued
	d.queue = append(d.queue, t)
	d.active[t.job.ID] = t
	d.cond.Signal()
	return nil
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
	}
	t.cancel(cause)
	t.final = d.drop(t, cause)
	t.state = taskDone
	delete(d.active, t.job.ID)
	close(t.done)
}

// counts returns the number of running and queued tasks.
func (d *dispatcher) counts() (running, queued int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.running, len(d.queue)
}

func (d *dispatcher) worker() {
	defer d.wg.Done()
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closed {
			d.cond.Wait()
		}
		if len(d.queue) == 0 {
			d.mu.Unlock()
			return
		}
		t := d.queue[0]
		d.queue[0] = nil
		d.queue = d.queue[1:]
		t.state = taskRunning
		d.running++
		d.mu.Unlock()

		final := d.run(t)

		d.mu.Lock()
		d.running--
		t.final = final
		t.state = taskDone
		delete(d.active, t.job.ID)
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
