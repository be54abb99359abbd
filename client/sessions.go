package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// CreateSession starts a stateful session (POST /api/v1/sessions, ours)
// and returns it once its code waits for cells.
func (c *Client) CreateSession(ctx context.Context, req api.SessionRequest) (*api.Session, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: encode the session request: %w", err)
	}
	var ses api.Session
	err = c.do(ctx, request{method: http.MethodPost, path: "/api/v1/sessions", body: bytes.NewReader(body),
		contentType: "application/json", out: &ses})
	if err != nil {
		return nil, err
	}
	return &ses, nil
}

// RunCell runs a cell in session id (POST /api/v1/sessions/{id}/eval) and
// returns its record once it ended. A cell waits for one already running.
func (c *Client) RunCell(ctx context.Context, id string, req api.CellRequest) (*api.CellResult, error) {
	r, err := cellRequest(id, req)
	if err != nil {
		return nil, err
	}
	var res api.CellResult
	r.out = &res
	if err := c.do(ctx, r); err != nil {
		return nil, err
	}
	return &res, nil
}

// cellRequest is the request of a cell of session id.
func cellRequest(id string, req api.CellRequest) (request, error) {
	path, err := sessionPath(id)
	if err != nil {
		return request{}, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return request{}, fmt.Errorf("client: encode the cell: %w", err)
	}
	return request{method: http.MethodPost, path: path + "/eval", body: bytes.NewReader(body), contentType: "application/json"}, nil
}

// RunCellStream runs a cell like RunCell, with its output streamed to fn
// as the code writes it (POST /api/v1/sessions/{id}/eval with "Accept:
// text/event-stream"), and returns its result. The "done" event's
// Execution is the result's record. Ending the call early (fn's error,
// ctx) closes the connection, which interrupts the cell.
func (c *Client) RunCellStream(ctx context.Context, id string, req api.CellRequest, fn EventFunc) (*api.CellResult, error) {
	r, err := cellRequest(id, req)
	if err != nil {
		return nil, err
	}
	if fn == nil {
		fn = func(Event) error { return nil }
	}
	var raw []byte
	_, err = c.stream(ctx, r, func(ev Event) error {
		if ev.Name == api.EventDone {
			raw = ev.raw
		}
		return fn(ev)
	})
	if err != nil {
		return nil, err
	}
	var res api.CellResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return nil, fmt.Errorf("client: decode the cell's result: %w", err)
	}
	return &res, nil
}

// Session describes session id (GET /api/v1/sessions/{id}).
func (c *Client) Session(ctx context.Context, id string) (*api.Session, error) {
	return c.sessionCall(ctx, http.MethodGet, id)
}

// CloseSession ends session id (DELETE /api/v1/sessions/{id}) and returns
// its final description.
func (c *Client) CloseSession(ctx context.Context, id string) (*api.Session, error) {
	return c.sessionCall(ctx, http.MethodDelete, id)
}

func (c *Client) sessionCall(ctx context.Context, method, id string) (*api.Session, error) {
	path, err := sessionPath(id)
	if err != nil {
		return nil, err
	}
	var ses api.Session
	if err := c.do(ctx, request{method: method, path: path, out: &ses}); err != nil {
		return nil, err
	}
	return &ses, nil
}

// SessionFiles lists the files of session id's /work.
func (c *Client) SessionFiles(ctx context.Context, id string) ([]api.SessionFile, error) {
	path, err := sessionPath(id)
	if err != nil {
		return nil, err
	}
	var list api.SessionFiles
	if err := c.do(ctx, request{method: http.MethodGet, path: path + "/files", out: &list}); err != nil {
		return nil, err
	}
	return list.Files, nil
}

// ListSessionFiles is SessionFiles in the body's shape (mcptools.Sessions).
func (c *Client) ListSessionFiles(ctx context.Context, id string) (*api.SessionFiles, error) {
	fs, err := c.SessionFiles(ctx, id)
	if err != nil {
		return nil, err
	}
	return &api.SessionFiles{Files: fs}, nil
}

// PutSessionFile writes data to path (relative to /work) in session id.
func (c *Client) PutSessionFile(ctx context.Context, id, path string, data []byte) error {
	p, err := sessionFilePath(id, path)
	if err != nil {
		return err
	}
	return c.do(ctx, request{method: http.MethodPut, path: p, body: bytes.NewReader(data),
		contentType: "application/octet-stream"})
}

// GetSessionFile reads the regular file at path (relative to /work) of
// session id.
func (c *Client) GetSessionFile(ctx context.Context, id, path string) ([]byte, error) {
	p, err := sessionFilePath(id, path)
	if err != nil {
		return nil, err
	}
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: p}, "*/*")
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, decodeError(resp)
	}
	return io.ReadAll(resp.Body)
}

// sessionPath returns the escaped path of session id.
func sessionPath(id string) (string, error) {
	if id == "" {
		return "", errors.New("client: empty session id")
	}
	return "/api/v1/sessions/" + url.PathEscape(id), nil
}

func sessionFilePath(id, path string) (string, error) {
	base, err := sessionPath(id)
	if err != nil {
		return "", err
	}
	if path == "" || strings.HasPrefix(path, "/") {
		return "", errors.New("client: a session file's path is relative to /work")
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return base + "/files/" + strings.Join(parts, "/"), nil
}
