package server

import (
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// handleHealth serves GET /health: {"status":"ok"} (compat) plus the
// version, the interpreters and the protections in force (ours). While
// the server shuts down it answers 503.
func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	select {
	case <-s.stopping:
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
		return
	default:
	}
	enforced := s.opts.Enforcement
	writeJSON(w, http.StatusOK, api.Health{
		Status:       "ok",
		Version:      s.opts.Version,
		Interpreters: s.interps.List(),
		Enforced:     &enforced,
		Pool:         s.pool(),
		Zygotes:      s.zygotes(),
	})
}

// zygotes reports the zygotes, if the server was given a source for them.
func (s *Server) zygotes() []api.ZygoteSlot {
	if s.opts.ZygoteStatus == nil {
		return nil
	}
	return s.opts.ZygoteStatus()
}

// pool reports the warm pool, if the server was given a source for it.
func (s *Server) pool() []api.PoolSlot {
	if s.opts.PoolStatus == nil {
		return nil
	}
	return s.opts.PoolStatus()
}

// handleInterpreters serves GET /api/v1/interpreters.
func (s *Server) handleInterpreters(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	list := s.interps.List()
	body := api.Interpreters{Interpreters: list}
	if body.Interpreters == nil {
		body.Interpreters = []api.Interpreter{}
	}
	for _, in := range list {
		if in.Default {
			body.Default = in.Series
			break
		}
	}
	if body.Default == "" && len(list) > 0 {
		body.Default = list[0].Series // List puts the default first
	}
	writeJSON(w, http.StatusOK, body)
}

// handleMetrics serves GET /metrics in the Prometheus text format.
func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	g := gauges{memoryInUse: s.disp.memoryInUse(), memoryBudget: int64(s.opts.MemoryBudgetMB) << 20}
	g.running, g.queued = s.disp.counts()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	s.metrics.write(w, g)
}
