package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// shutdownGrace is how long Shutdown waits for the Runners to return once
// it has cancelled them.
const shutdownGrace = 5 * time.Second

// Server is pyexec's HTTP service. Create it with New, serve Handler, and
// call Shutdown once.
type Server struct {
	opts    Options
	log     *slog.Logger
	runner  Runner
	interps Interpreters
	dec     decoder
	store   *recordStore
	disp    *dispatcher
	sess    *sessions
	auth    *authenticator
	metrics *metrics
	handler http.Handler
	idle    idleTrim

	stopping  chan struct{} // closed when Shutdown starts
	stopOnce  sync.Once
	sweepStop chan struct{}
	sweepDone chan struct{}
	sweepOnce sync.Once
}

// New checks opts, fills its zero fields with their defaults and starts the
// workers and the record sweeper. The server runs jobs with runner and
// resolves interpreter selectors with interps.
func New(opts Options, runner Runner, interps Interpreters) (*Server, error) {
	if runner == nil || interps == nil {
		return nil, errors.New("server: a runner and interpreters are required")
	}
	opts = opts.withDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("server options: %w", err)
	}
	if err := opts.Sessions.validate(); err != nil {
		return nil, fmt.Errorf("server options: %w", err)
	}
	store, spool, err := openRecords(opts)
	if err != nil {
		return nil, fmt.Errorf("execution records: %w", err)
	}
	s := &Server{
		opts:    opts,
		log:     opts.Logger,
		runner:  runner,
		interps: interps,
		dec: decoder{
			limits:        limitPolicy{defaults: opts.Defaults, max: opts.Max, allowNetwork: opts.AllowNetwork, netUnavailable: opts.NetworkUnavailable},
			interps:       interps,
			maxCodeBytes:  opts.MaxCodeBytes,
			archive:       archiveLimits{maxBytes: opts.MaxRequestBytes, maxEntries: opts.MaxArchiveEntries},
			detectImports: opts.AutoDetectImports,
			results:       opts.Results,
			spoolDir:      spool,
		},
		store:     store,
		auth:      newAuthenticator(opts.Tokens),
		metrics:   newMetrics(),
		stopping:  make(chan struct{}),
		sweepStop: make(chan struct{}),
		sweepDone: make(chan struct{}),
	}
	s.disp = newDispatcher(opts.MaxConcurrent, opts.QueueSize, opts.admission(), s.execute, s.dropped)
	s.disp.maxQueuedBytes = opts.MaxQueuedBytes // before any submission
	s.sess = newSessions(opts.Sessions, opts.RecordTTL, s.disp)
	s.handler = s.recoverer(s.connDeadlines(s.authenticate(s.routes())))
	go s.sweep()
	return s, nil
}

// Handler returns the HTTP handler of every endpoint.
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown stops accepting jobs and waits until the queued and running
// ones have finished or ctx ends. Then it drops what is still queued and
// cancels what is still running (their records end "failed"), waits a
// short grace for the runners to return, and stops the background
// goroutines. It returns ctx's error if ctx ended first.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		close(s.stopping)
		s.disp.close()
		s.sess.shutdown(ctx.Done()) // sessions do not end by themselves
	})
	err := s.disp.wait(ctx)
	if err != nil {
		s.disp.abort(errShutdown)
		grace, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if s.disp.wait(grace) != nil {
			s.log.Error("executions still running after shutdown")
		}
	}
	s.sweepOnce.Do(func() { close(s.sweepStop) })
	<-s.sweepDone
	s.store.Flush() // every final record is on disk
	return err
}

// Close releases the execution records (their database) once the handler
// serves no more requests: after Shutdown, and after the HTTP server has
// stopped.
func (s *Server) Close() error {
	return s.store.Close()
}

// enqueue gives job an id, creates its pending record and queues it.
func (s *Server) enqueue(job Job) (*task, error) {
	job.ID = newID()
	ctx, cancel := context.WithCancelCause(context.Background())
	t := &task{job: job, enqueued: time.Now(), ctx: ctx, cancel: cancel, done: make(chan struct{}), live: newLiveFeed()}
	t.job.Watch = t.watch
	t.job.Stream = t.live.set
	t.queued = job.queuedBytes()
	err := s.disp.submit(t, func() (err error) {
		t.stored, err = s.store.Put(pendingExecution(job))
		return err
	})
	if err != nil {
		cancel(nil)
		job.archive.Close()
		return nil, err
	}
	return t, nil
}

// execute runs a task that a worker took from the queue and returns its
// final record.
func (s *Server) execute(t *task) api.Execution {
	id := t.job.ID
	started := time.Now()
	s.idle.work(started)
	s.store.Update(id, func(e *api.Execution) { startExecution(e, started, t.enqueued) })

	out, err := s.runSafely(t)
	res := runResult{outcome: out, err: err, started: started, finished: time.Now()}
	s.idle.work(res.finished)
	if t.ctx.Err() != nil {
		res.cause = context.Cause(t.ctx)
	}
	if err != nil && res.cause == nil {
		s.log.Error("runner failed", "id", id, "err", err)
	}
	if err == nil {
		res.files, res.filesNote = s.keepFiles(t.job, out)
	}
	// The record is there: the store never evicts unfinished records.
	final, durable, _ := s.store.Update(id, func(e *api.Execution) { finishExecution(e, t.job, res) })
	<-durable // a final record is on disk before anyone sees it final
	s.finished(t.job, final)
	return final
}

// runSafely calls the Runner, turning a panic into an error. A job whose
// upload was spooled gets its files first, and lets them go after.
func (s *Server) runSafely(t *task) (out Outcome, err error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("runner panicked", "id", t.job.ID, "panic", v, "stack", string(debug.Stack()))
			err = fmt.Errorf("runner panicked: %v", v)
		}
	}()
	if t.job.archive != nil {
		if err := s.dec.loadFiles(&t.job); err != nil {
			return Outcome{}, err
		}
		defer func() { t.job.Files = nil }()
	}
	return s.runner.Run(t.ctx, t.job)
}

// dropped ends the record of a task that leaves the queue without running.
// The dispatcher calls it with its lock held.
func (s *Server) dropped(t *task, cause error) api.Execution {
	now := time.Now()
	// The record is there: the store never evicts unfinished records. It
	// is on disk soon after: this runs under the dispatcher's lock.
	final, _, _ := s.store.Update(t.job.ID, func(e *api.Execution) { dropExecution(e, t.job, cause, now, t.enqueued) })
	t.job.archive.Close()
	s.finished(t.job, final)
	return final
}

// finished counts and logs one final record. User code is never logged.
func (s *Server) finished(job Job, e api.Execution) {
	s.metrics.finished(e)
	attrs := []any{
		"id", e.ExecutionID,
		"interpreter", job.Interpreter.Version,
		"duration_ms", e.DurationMS,
		"queued_ms", e.QueuedMS,
		"status", e.Status,
	}
	if e.ExitCode != nil {
		attrs = append(attrs, "exit_code", *e.ExitCode)
	}
	if e.Error != "" {
		attrs = append(attrs, "error", e.Error)
	}
	s.log.Info("execution finished", attrs...)
}

// sweep drops expired records and, once the server is idle, gives free
// heap memory back (idleTrim), until Shutdown.
func (s *Server) sweep() {
	defer close(s.sweepDone)
	every := min(max(s.opts.RecordTTL/2, 10*time.Millisecond), time.Minute)
	tick := time.NewTicker(every)
	defer tick.Stop()
	trim := time.NewTicker(idleTrimAfter / 2)
	defer trim.Stop()
	for {
		select {
		case <-tick.C:
			s.store.Sweep()
		case now := <-trim.C:
			if s.idle.due(now) {
				debug.FreeOSMemory()
				if err := s.store.Release(); err != nil {
					s.log.Warn("idle trim of the records database failed", "err", err)
				}
			}
		case <-s.sweepStop:
			return
		}
	}
}

func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.GET("/health", s.handleHealth)
	r.POST("/api/v1/eval", s.handleEval)
	r.POST("/api/v1/exec/sync", s.handleExecSync)
	r.POST("/api/v1/exec/async", s.handleExecAsync)
	r.GET("/api/v1/executions/:id", s.handleGetExecution)
	r.GET("/api/v1/executions/:id/events", s.handleEvents)
	r.GET("/api/v1/executions/:id/files/*path", s.handleGetFile)
	r.DELETE("/api/v1/executions/:id", s.handleKill)
	r.GET("/api/v1/interpreters", s.handleInterpreters)
	r.GET("/api/v1/deps", s.adminOnly(s.handleListLayers))
	r.DELETE("/api/v1/deps/:key", s.adminOnly(s.handleRemoveLayer))
	r.GET("/metrics", s.handleMetrics)
	r.POST("/mcp", s.handleMCP())
	s.sessionRoutes(r)
	s.docsRoutes(r)
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not found")
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, http.StatusMethodNotAllowed,
			fmt.Sprintf("method %s is not allowed here; allowed: %s", req.Method, w.Header().Get("Allow")))
	})
	return r
}
