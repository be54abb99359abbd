package server

import (
	"io"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// evalBodyRoom is what an /eval body may hold besides the code: stdin,
// JSON escaping and the other fields.
const evalBodyRoom = 16 << 20

// evalBodyBytes bounds an /eval body: the code limit plus evalBodyRoom,
// and never more than MaxRequestBytes.
func (s *Server) evalBodyBytes() int64 {
	return min(s.opts.MaxCodeBytes+evalBodyRoom, s.opts.MaxRequestBytes)
}

// handleEval serves POST /api/v1/eval: a JSON body, run synchronously.
func (s *Server) handleEval(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	body, err := readBody(w, r, s.evalBodyBytes())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job, err := s.dec.eval(body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	job.caller = callerOf(r.Context()).id
	s.runSync(w, r, job)
}

// handleExecSync serves POST /api/v1/exec/sync.
func (s *Server) handleExecSync(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	job, err := s.decodeExec(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.runSync(w, r, job)
}

// handleExecAsync serves POST /api/v1/exec/async: 202 with the id at once.
func (s *Server) handleExecAsync(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	job, err := s.decodeExec(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.enqueue(job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	<-t.stored // the id stays valid if the server dies now
	writeJSON(w, http.StatusAccepted, api.Accepted{ExecutionID: t.job.ID})
}

// decodeExec reads the multipart body of /exec/sync and /exec/async.
func (s *Server) decodeExec(w http.ResponseWriter, r *http.Request) (Job, error) {
	lb := limitBody(w, r, s.opts.MaxRequestBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		return Job{}, &requestError{Status: http.StatusBadRequest,
			Msg: `the body must be multipart/form-data with the parts "tar" and "metadata"`, Err: err}
	}
	job, err := s.dec.exec(mr)
	if err == nil {
		// Read the epilogue to the end: net/http only notices a client that
		// goes away (and cancels r.Context) once the body is consumed.
		if _, cerr := io.Copy(io.Discard, lb); cerr != nil {
			err = unreadable(cerr)
		}
	}
	if err != nil && lb.hit {
		return Job{}, lb.tooLarge()
	}
	job.caller = callerOf(r.Context()).id
	return job, err
}

// runSync queues job and answers with its final record, or with an event
// stream when the client asks for one (runEvents). If the client goes
// away first, the job is killed.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request, job Job) {
	if wantsEvents(r) {
		s.runEvents(w, r, job)
		return
	}
	t, err := s.enqueue(job)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	select {
	case <-t.done:
	case <-r.Context().Done():
		s.disp.cancel(t.job.ID, errClientGone)
		return // nobody is left to answer
	}
	final, _ := t.result()
	s.writeRecord(w, r, final, nil)
}
