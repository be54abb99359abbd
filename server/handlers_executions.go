package server

import (
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

const (
	// maxWait caps the ?wait= long-poll of GET /api/v1/executions/{id}.
	maxWait = 60 * time.Second
	// killWait is how long DELETE waits for a running job's Runner to
	// return before it answers.
	killWait = 2 * time.Second
)

// handleGetExecution serves GET /api/v1/executions/:id, with the optional
// ?wait=<seconds> long-poll until the record is final. A running record
// shows the output written so far. The output is streamed (writeRecordJSON).
func (s *Server) handleGetExecution(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("id")
	wait, err := parseWait(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, active := s.disp.lookup(id)
	if active && wait > 0 {
		timer := time.NewTimer(wait)
		defer timer.Stop()
		select {
		case <-t.done:
			final, _ := t.result()
			s.writeRecord(w, r, final, nil)
			return
		case <-r.Context().Done():
			return
		case <-timer.C:
		case <-s.stopping:
		}
	}
	if !active {
		t = nil
		if c, ok := s.sess.cells.get(id); ok && wait > 0 { // a session cell runs without a task
			timer := time.NewTimer(wait)
			defer timer.Stop()
			select {
			case <-c.done:
			case <-r.Context().Done():
				return
			case <-timer.C:
			case <-s.stopping:
			}
		}
	}
	s.writeStored(w, r, id, t)
}

// parseWait reads ?wait=<seconds>: absent is 0, more than maxWait is
// maxWait, anything but a non-negative number is a 400.
func parseWait(q url.Values) (time.Duration, error) {
	if !q.Has("wait") {
		return 0, nil
	}
	f, err := strconv.ParseFloat(q.Get("wait"), 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, badRequest("wait must be a number of seconds between 0 and %d", int(maxWait.Seconds()))
	}
	if f >= maxWait.Seconds() {
		return maxWait, nil
	}
	return time.Duration(f * float64(time.Second)), nil
}

// handleKill serves DELETE /api/v1/executions/:id. A queued job is removed
// from the queue and ends killed; a running job is cancelled and the answer
// waits up to killWait for its Runner to return. A finished one is left
// alone and its status returned.
func (s *Server) handleKill(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("id")
	t, active := s.disp.cancel(id, errKilled)
	if c, ok := s.sess.cells.get(id); ok && !active {
		s.killCell(w, r, c)
		return
	}
	if !active {
		status, ok := s.store.Status(id)
		if !ok {
			writeError(w, http.StatusNotFound, "execution not found")
			return
		}
		writeJSON(w, http.StatusOK, api.KillResponse{Status: status})
		return
	}
	timer := time.NewTimer(killWait)
	defer timer.Stop()
	status := api.StatusKilled
	select {
	case <-t.done:
		final, _ := t.result()
		status = final.Status // a job that ended just before the kill keeps its status
	case <-timer.C:
	case <-r.Context().Done():
		return
	}
	writeJSON(w, http.StatusOK, api.KillResponse{Status: status})
}

// handleGetFile serves GET /api/v1/executions/:id/files/*path (ours): an
// output file the record lists (api.OutputFile), its Content-Type by
// extension (application/octet-stream when unknown), as an attachment
// that no browser runs (nosniff, a sandboxing CSP).
func (s *Server) handleGetFile(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id, p := ps.ByName("id"), strings.TrimPrefix(ps.ByName("path"), "/")
	f, entry, err := s.store.OpenFile(id, p)
	switch {
	case errors.Is(err, errNoRecord):
		writeError(w, http.StatusNotFound, "execution not found")
		return
	case errors.Is(err, errNoFile):
		writeError(w, http.StatusNotFound, "execution "+id+" kept no output file "+quoteName(p))
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	ctype := mime.TypeByExtension(path.Ext(p))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.FormatInt(entry.Size, 10))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": path.Base(p)}))
	if entry.SHA256 != "" {
		h.Set("ETag", `"`+entry.SHA256+`"`)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := io.CopyN(w, f, entry.Size); err != nil {
		s.log.Debug("sending an output file", "id", id, "err", err)
	}
}
