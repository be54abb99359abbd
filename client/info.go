package client

import (
	"context"
	"net/http"

	"github.com/pyexec/pyexec/api"
)

// Health calls GET /health. A python-executor server fills only Status;
// pyexec adds its version, interpreters and the protections it enforces.
func (c *Client) Health(ctx context.Context) (*api.Health, error) {
	var h api.Health
	if err := c.do(ctx, request{method: http.MethodGet, path: "/health", out: &h}); err != nil {
		return nil, err
	}
	return &h, nil
}

// Interpreters calls GET /api/v1/interpreters (pyexec only; a
// python-executor server answers 404).
func (c *Client) Interpreters(ctx context.Context) (*api.Interpreters, error) {
	var is api.Interpreters
	if err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/interpreters", out: &is}); err != nil {
		return nil, err
	}
	return &is, nil
}
