package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/server/mcptools"
)

// mcpTools are the tools of /mcp. Session tools join here when sessions
// exist, each family over the part of the server it needs.
func (s *Server) mcpTools() []mcptools.Tool {
	tools := []mcptools.Tool{mcptools.RunPython(mcpEvaluator{s})}
	if s.opts.Sessions.Runner != nil {
		tools = append(tools, mcptools.SessionTools(s.mcpSessions()))
	}
	return tools
}

// newMCPHandler returns the Streamable HTTP handler of /mcp: stateless
// (every POST stands alone, no Mcp-Session-Id), one MCP server for all.
// Auth is the rest of the API's: the handler sits behind authenticate.
func (s *Server) newMCPHandler() http.Handler {
	log := slog.New(minLevel{s.log.Handler(), slog.LevelWarn}) // the SDK logs every session at info
	srv := mcptools.New(mcptools.Options{Version: s.opts.Version, Logger: log}, s.mcpTools()...)
	return mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return srv }, &mcp.StreamableHTTPOptions{
		Stateless:           true,
		JSONResponse:        true,
		Logger:              log,
		MaxRequestBodyBytes: s.evalBodyBytes(),
	})
}

// minLevel passes on the records of at least its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.level}
}

// handleMCP returns the handler of POST /mcp.
func (s *Server) handleMCP() httprouter.Handle {
	h := s.newMCPHandler()
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) { h.ServeHTTP(w, r) }
}

// mcpEvaluator runs run_python's requests in process, as POST
// /api/v1/eval would: the same decoding, limits, queue and quotas (the
// caller is the one the HTTP request authenticated as).
type mcpEvaluator struct{ s *Server }

func (e mcpEvaluator) Eval(ctx context.Context, req api.EvalRequest) (*api.Execution, error) {
	s := e.s
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode the request: %w", err)
	}
	if int64(len(body)) > s.evalBodyBytes() {
		return nil, publicError(tooLarge("the request is larger than the limit of %d bytes", s.evalBodyBytes()))
	}
	job, err := s.dec.eval(body)
	if err != nil {
		return nil, publicError(err)
	}
	job.caller = callerOf(ctx).id
	t, err := s.enqueue(job)
	if err != nil {
		return nil, publicError(err)
	}
	select {
	case <-t.done:
	case <-ctx.Done():
		s.disp.cancel(t.job.ID, errClientGone)
		return nil, ctx.Err()
	}
	final, _ := t.result()
	return &final, nil
}

// publicError is the error a model may see for err: a request error's
// message, the queue's "retry later", or nothing internal.
func publicError(err error) error {
	var re *requestError
	switch {
	case errors.As(err, &re):
		return errors.New(re.Msg)
	case errors.Is(err, errQueueFull), errors.Is(err, errStoreFull):
		return errors.New("too many executions are waiting; retry later")
	case errors.Is(err, errCallerFull):
		return errors.New("this token has as many executions running or waiting as one token may have; retry when one has finished")
	case errors.Is(err, errClosed):
		return errors.New("the server is shutting down")
	}
	return errors.New("internal server error")
}
