package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/pyexec/pyexec/api"
)

// mcpSessions serves the MCP session tools in process, through the
// session endpoints' own handlers: the same decoding, limits, admission
// and errors, as the caller the MCP request authenticated as.
type mcpSessions struct {
	router *httprouter.Router
}

func (s *Server) mcpSessions() mcpSessions {
	r := httprouter.New()
	s.sessionRoutes(r)
	return mcpSessions{router: r}
}

// recorder is the ResponseWriter of an in-process call.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}

// call serves one request; an answer other than want is an error with
// the answer's message.
func (m mcpSessions) call(ctx context.Context, method, path string, body any, want int, out any) error {
	var b []byte
	switch v := body.(type) {
	case nil:
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(body); err != nil {
			return fmt.Errorf("encode the request: %w", err)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, path, bytes.NewReader(b))
	if err != nil {
		return errors.New("invalid session id or path")
	}
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: http.Header{}}
	m.router.ServeHTTP(rec, req)
	if rec.status != want {
		var e api.Error
		if json.Unmarshal(rec.body.Bytes(), &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("the server answered %d", rec.status)
	}
	if raw, ok := out.(*[]byte); ok {
		*raw = rec.body.Bytes()
		return nil
	}
	return json.Unmarshal(rec.body.Bytes(), out)
}

func sessionURL(id string, rest ...string) string {
	p := "/api/v1/sessions/" + url.PathEscape(id)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

func (m mcpSessions) CreateSession(ctx context.Context, req api.SessionRequest) (*api.Session, error) {
	var ses api.Session
	return &ses, m.call(ctx, http.MethodPost, "/api/v1/sessions", req, http.StatusCreated, &ses)
}

func (m mcpSessions) RunCell(ctx context.Context, id string, req api.CellRequest) (*api.CellResult, error) {
	var c api.CellResult
	return &c, m.call(ctx, http.MethodPost, sessionURL(id, "eval"), req, http.StatusOK, &c)
}

func (m mcpSessions) ListSessionFiles(ctx context.Context, id string) (*api.SessionFiles, error) {
	var f api.SessionFiles
	return &f, m.call(ctx, http.MethodGet, sessionURL(id, "files"), nil, http.StatusOK, &f)
}

func (m mcpSessions) GetSessionFile(ctx context.Context, id, path string) ([]byte, error) {
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	var b []byte
	return b, m.call(ctx, http.MethodGet, sessionURL(id, "files", strings.Join(parts, "/")), nil, http.StatusOK, &b)
}

func (m mcpSessions) CloseSession(ctx context.Context, id string) (*api.Session, error) {
	var ses api.Session
	return &ses, m.call(ctx, http.MethodDelete, sessionURL(id), nil, http.StatusOK, &ses)
}
