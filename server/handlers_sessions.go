package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// Why a session was not admitted.
var (
	errSessionsFull  = errors.New("live session limit reached")
	errSessionMemory = errors.New("memory budget full")
)

// sessionRoutes adds the session endpoints (ours) to r.
func (s *Server) sessionRoutes(r *httprouter.Router) {
	r.POST("/api/v1/sessions", s.handleCreateSession)
	r.GET("/api/v1/sessions", s.handleListSessions)
	r.GET("/api/v1/sessions/:id", s.handleGetSession)
	r.DELETE("/api/v1/sessions/:id", s.handleDeleteSession)
	r.POST("/api/v1/sessions/:id/eval", s.handleSessionEval)
	r.GET("/api/v1/sessions/:id/files", s.handleListSessionFiles)
	r.GET("/api/v1/sessions/:id/files/*path", s.handleGetSessionFile)
	r.PUT("/api/v1/sessions/:id/files/*path", s.handlePutSessionFile)
}

// handleCreateSession serves POST /api/v1/sessions: 201 with the session
// once its code waits for cells.
func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	o := s.opts.Sessions
	if o.Runner == nil {
		msg := o.Unavailable
		if msg == "" {
			msg = "sessions are not available on this server"
		}
		writeError(w, http.StatusServiceUnavailable, msg)
		return
	}
	select {
	case <-s.stopping:
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	default:
	}
	body, err := readBody(w, r, s.evalBodyBytes())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.dec.session(body, o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mem := req.spec.Limits.MemoryBytes
	switch err := s.sess.admit(mem); {
	case errors.Is(err, errSessionsFull):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests,
			fmt.Sprintf("this server has its maximum of %d live sessions; close one (DELETE /api/v1/sessions/{id}) or retry later", o.MaxLive))
		return
	case errors.Is(err, errSessionMemory):
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "the server's memory budget is taken by running executions and live sessions; retry later or ask for less memory_mb")
		return
	}
	limits := req.spec.Limits
	req.spec.ID = newSessionID()
	req.spec.Limits.Timeout = o.MaxLifetime // the session's; limits.Timeout is a cell's
	j, err := o.Runner.StartSession(r.Context(), req.spec)
	if err != nil {
		s.sess.unadmit(mem)
		var refusal *SessionRefusal
		switch {
		case errors.As(err, &refusal):
			writeError(w, http.StatusBadRequest, refusal.Msg)
		case errors.Is(err, ErrNoSessionJail):
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "no jail can take a session for Python "+req.spec.Interpreter.Version+" now; retry shortly")
		default:
			s.fail(w, r, err)
		}
		return
	}
	now := time.Now()
	ss := &session{id: req.spec.ID, caller: callerOf(r.Context()).id, created: now, lastUsed: now,
		interp: req.spec.Interpreter, limits: limits, results: req.spec.Results, idle: req.idle, j: j}
	s.sess.add(ss)
	s.log.Info("session started", "session", ss.id, "interpreter", ss.interp.Version)
	writeJSON(w, http.StatusCreated, ss.view())
}

// sessionOf finds the request's session; it answers 404 itself.
func (s *Server) sessionOf(w http.ResponseWriter, r *http.Request, ps httprouter.Params) (*session, bool) {
	ss, ok := s.sess.get(ps.ByName("id"), callerOf(r.Context()).id)
	if !ok {
		writeError(w, http.StatusNotFound, "no such session")
	}
	return ss, ok
}

// gone answers a request for a session that has ended: 410.
func gone(w http.ResponseWriter, ss *session) {
	writeError(w, http.StatusGone, endedMessage(ss.view()))
}

// endedMessage tells a client that the session v has ended, and why.
func endedMessage(v api.Session) string {
	msg := "the session has ended (" + v.State + ")"
	if v.Reason != "" {
		msg += ": " + v.Reason
	}
	return msg
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if ss, ok := s.sessionOf(w, r, ps); ok {
		writeJSON(w, http.StatusOK, ss.view())
	}
}

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	out := api.Sessions{Sessions: []api.Session{}}
	for _, ss := range s.sess.list(callerOf(r.Context()).id) {
		out.Sessions = append(out.Sessions, ss.view())
	}
	writeJSON(w, http.StatusOK, out)
}

// handleDeleteSession ends the session (a running cell with it) and
// answers with how it ended.
func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ss, ok := s.sessionOf(w, r, ps)
	if !ok {
		return
	}
	ss.j.Kill(reasonClosed)
	select {
	case <-ss.j.Done():
		ss.finish()
	case <-time.After(10 * time.Second):
		s.log.Error("session did not end after its kill", "session", ss.id)
	}
	writeJSON(w, http.StatusOK, ss.view())
}

// handleSessionEval serves POST /api/v1/sessions/{id}/eval: the cell's
// record, as /eval answers, once the cell ended; with "Accept:
// text/event-stream", its output as events while it runs, then the record
// (cellEvents). A second cell waits for the one running.
func (s *Server) handleSessionEval(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ss, ok := s.sessionOf(w, r, ps)
	if !ok {
		return
	}
	body, err := readBody(w, r, s.evalBodyBytes())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req, err := s.dec.cell(body, ss.limits.Timeout)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if ss.ended() {
		gone(w, ss)
		return
	}
	if wantsEvents(r) {
		s.cellEvents(w, r, ss, req)
		return
	}
	res, err := s.runCell(r.Context(), ss, newID(), req)
	switch {
	case errors.Is(err, ErrSessionEnded):
		gone(w, ss)
	case err != nil:
		s.fail(w, r, err)
	default:
		writeJSON(w, http.StatusOK, res)
	}
}

// runCell runs req in ss as the cell with execution id and returns its
// result. The cell's record is kept as an execution's (running while the
// cell runs, with its output files once it ended) when the store has
// room. ErrSessionEnded: the session had ended before the cell ran.
func (s *Server) runCell(ctx context.Context, ss *session, id string, req CellRequest) (api.CellResult, error) {
	limits := ss.limits
	limits.Timeout = req.Timeout
	job := Job{ID: id, Interpreter: ss.interp, EvalLastExpr: req.EvalLast, Limits: limits,
		OutputFiles: req.OutputFiles, Results: ss.results}
	lc, ctx := s.sess.cells.begin(ctx, id, &req)
	release := ss.use()
	enqueued := time.Now()
	s.idle.work(enqueued)
	e := pendingExecution(job)
	defer func() { s.idle.work(time.Now()); s.endCell(lc, e) }()
	_, err := s.store.Put(e)
	kept := err == nil
	if !kept {
		s.log.Warn("a session cell's record is not kept", "session", ss.id, "id", id, "err", err)
	}
	started := enqueued
	s.startCell(lc, &req, kept, enqueued, &started)
	out, err := ss.j.Cell(ctx, req)
	finished := time.Now()
	release()
	startExecution(&e, started, enqueued)
	if err != nil && lc.wasStopped() && started == enqueued && !errors.Is(err, ErrSessionEnded) {
		return s.killedCell(ss, e, kept), nil
	}
	if err != nil {
		ended := errors.Is(err, ErrSessionEnded)
		msg := msgInternal
		if ended {
			<-ss.j.Done()
			ss.finish()
			msg = endedMessage(ss.view())
		}
		if kept {
			s.store.Update(id, func(e *api.Execution) {
				finishExecution(e, job, runResult{err: err, started: started, finished: finished})
				e.Error = msg
			})
		}
		if ended {
			return api.CellResult{}, ErrSessionEnded
		}
		return api.CellResult{}, err
	}
	ss.mu.Lock()
	ss.cells++
	n := ss.cells
	ss.mu.Unlock()
	if out.Ended {
		<-ss.j.Done()
		ss.finish()
	}
	r := runResult{outcome: out.Outcome, started: started, finished: finished}
	switch {
	case kept:
		r.files, r.filesNote = s.keepFiles(job, out.Outcome)
	case len(job.OutputFiles) > 0:
		r.filesNote = "the output files were not kept: the server's record store is full"
	}
	finishExecution(&e, job, r)
	v := ss.view()
	res := api.CellResult{SessionID: ss.id, Cell: n, SessionState: v.State}
	if out.Ended {
		res.SessionReason = v.Reason
		if e.Error == "" {
			e.Error = "the session ended: " + v.Reason
		} else {
			e.Error += "; the session ended: " + v.Reason
		}
		if e.Status == api.StatusCompleted && v.State != api.SessionExited {
			e.Status = api.StatusFailed
		}
	}
	res.Execution = e
	if kept {
		_, durable, _ := s.store.Update(id, func(r *api.Execution) { *r = e })
		<-durable // final on disk before anyone sees it final
	}
	return res, nil
}

// sessionPath is the {path} of a file endpoint, checked like an upload's
// names.
func sessionPath(ps httprouter.Params) (string, error) {
	p := strings.TrimPrefix(ps.ByName("path"), "/")
	clean, err := cleanName(p)
	if err != nil {
		return "", badRequest("invalid file path %s: the path %v", quoteName(p), err)
	}
	return clean, nil
}

// sessionFile finds the request's session (see sessionOf) and the file
// its {path} names (see sessionPath); it answers 404 or 400 itself.
func (s *Server) sessionFile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) (*session, string, bool) {
	ss, ok := s.sessionOf(w, r, ps)
	if !ok {
		return nil, "", false
	}
	p, err := sessionPath(ps)
	if err != nil {
		s.fail(w, r, err)
		return nil, "", false
	}
	return ss, p, true
}

// fileFailed answers a failed file transfer.
func (s *Server) fileFailed(w http.ResponseWriter, r *http.Request, ss *session, err error) {
	var refusal *SessionRefusal
	switch {
	case errors.Is(err, ErrSessionEnded):
		<-ss.j.Done()
		ss.finish()
		gone(w, ss)
	case errors.As(err, &refusal) && strings.HasPrefix(refusal.Msg, "no such file"):
		writeError(w, http.StatusNotFound, refusal.Msg)
	case errors.As(err, &refusal):
		writeError(w, http.StatusBadRequest, refusal.Msg)
	case errors.Is(err, ErrFileTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than the limit of %d bytes", s.opts.MaxRequestBytes))
	default:
		s.fail(w, r, err)
	}
}

// fileOp runs op, a file transfer with ss's jail, as a use of ss, unless
// ss has ended (410). It answers a failure itself (fileFailed) and reports
// whether op ran and succeeded.
func (s *Server) fileOp(w http.ResponseWriter, r *http.Request, ss *session, op func(context.Context) error) bool {
	if ss.ended() {
		gone(w, ss)
		return false
	}
	release := ss.use()
	err := op(r.Context())
	release()
	if err != nil {
		s.fileFailed(w, r, ss, err)
		return false
	}
	return true
}

// handlePutSessionFile serves PUT /api/v1/sessions/{id}/files/{path}: the
// body becomes the file (mode 0644, parents made), in the session's /work.
func (s *Server) handlePutSessionFile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ss, p, ok := s.sessionFile(w, r, ps)
	if !ok {
		return
	}
	data, err := readBody(w, r, min(s.opts.MaxRequestBytes, ss.limits.DiskBytes))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !s.fileOp(w, r, ss, func(ctx context.Context) error { return ss.j.PutFile(ctx, p, 0o644, data) }) {
		return
	}
	writeJSON(w, http.StatusOK, api.SessionFilePut{Path: p, Size: int64(len(data))})
}

// handleGetSessionFile serves GET /api/v1/sessions/{id}/files/{path}: the
// regular file's bytes (a path ending in "/" or empty lists the files).
func (s *Server) handleGetSessionFile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if strings.Trim(ps.ByName("path"), "/") == "" {
		s.handleListSessionFiles(w, r, ps)
		return
	}
	ss, p, ok := s.sessionFile(w, r, ps)
	if !ok {
		return
	}
	var data []byte
	if !s.fileOp(w, r, ss, func(ctx context.Context) (err error) {
		data, err = ss.j.GetFile(ctx, p, s.opts.MaxRequestBytes)
		return err
	}) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", fmt.Sprint(len(data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
}

// handleListSessionFiles serves GET /api/v1/sessions/{id}/files.
func (s *Server) handleListSessionFiles(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	ss, ok := s.sessionOf(w, r, ps)
	if !ok {
		return
	}
	var files []api.SessionFile
	if !s.fileOp(w, r, ss, func(ctx context.Context) (err error) {
		files, err = ss.j.ListFiles(ctx)
		return err
	}) {
		return
	}
	if files == nil {
		files = []api.SessionFile{}
	}
	writeJSON(w, http.StatusOK, api.SessionFiles{Files: files})
}
