package client

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// OpenFile downloads an output file of execution id (GET
// /api/v1/executions/{id}/files/{path}, ours): one the record lists in
// OutputFiles, by its path relative to /work. The caller reads and closes
// the body. An unknown execution or file gives an *APIError for which
// IsNotFound is true.
func (c *Client) OpenFile(ctx context.Context, id, path string) (io.ReadCloser, error) {
	base, err := executionPath(id)
	if err != nil {
		return nil, err
	}
	if path == "" || strings.HasPrefix(path, "/") {
		return nil, errors.New("client: an output file's path is relative to /work")
	}
	parts := strings.Split(path, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	req, err := c.newRequest(ctx, request{method: http.MethodGet, path: base + "/files/" + strings.Join(parts, "/")}, "*/*")
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, decodeError(resp)
	}
	return resp.Body, nil
}

// DownloadFile is OpenFile that reads the whole file.
func (c *Client) DownloadFile(ctx context.Context, id, path string) ([]byte, error) {
	body, err := c.OpenFile(ctx, id, path)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return io.ReadAll(body)
}
