package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"

	"github.com/pyexec/pyexec/api"
)

// Multipart layout of the exec endpoints.
const (
	tarPartName      = "tar"
	tarFileName      = "project.tar"
	tarContentType   = "application/x-tar"
	metadataPartName = "metadata"
)

// Eval runs req through POST /api/v1/eval and returns the finished record.
// A record whose code failed (non-zero exit, timeout) is not an error: look
// at its Status and ExitCode.
func (c *Client) Eval(ctx context.Context, req api.EvalRequest) (*api.Execution, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: encode eval request: %w", err)
	}
	var rec api.Execution
	err = c.do(ctx, request{
		method:      http.MethodPost,
		path:        "/api/v1/eval",
		body:        bytes.NewReader(body),
		contentType: "application/json",
		out:         &rec,
	})
	if err != nil {
		return nil, err
	}
	return &rec, nil
}

// ExecSync uploads the project tar (uncompressed, or gzip-compressed for
// pyexec servers) with md through POST /api/v1/exec/sync and returns the
// finished record. tar is read as the request is sent; it is not closed.
func (c *Client) ExecSync(ctx context.Context, tar io.Reader, md api.Metadata) (*api.Execution, error) {
	var rec api.Execution
	if err := c.upload(ctx, "/api/v1/exec/sync", tar, md, &rec); err != nil {
		return nil, err
	}
	return &rec, nil
}

// ExecAsync uploads the project like ExecSync through POST
// /api/v1/exec/async and returns the execution id at once. Follow it with
// Get, GetWait or Wait.
func (c *Client) ExecAsync(ctx context.Context, tar io.Reader, md api.Metadata) (string, error) {
	var acc api.Accepted
	if err := c.upload(ctx, "/api/v1/exec/async", tar, md, &acc); err != nil {
		return "", err
	}
	if acc.ExecutionID == "" {
		return "", errors.New("client: exec async: server answered without an execution_id")
	}
	return acc.ExecutionID, nil
}

// ExecSyncStream uploads the project like ExecSync, with its output
// streamed to fn as the code writes it (POST /api/v1/exec/sync with
// "Accept: text/event-stream"; pyexec's extension), and returns the final
// record. Ending the call early (fn's error, ctx) closes the connection,
// which kills the execution. A server that answers with plain JSON
// (python-executor) gives fn the record's stdout and stderr as one event
// each, then the record.
func (c *Client) ExecSyncStream(ctx context.Context, tar io.Reader, md api.Metadata, fn EventFunc) (*api.Execution, error) {
	var rec *api.Execution
	err := c.uploadWith(ctx, "/api/v1/exec/sync", tar, md, func(r request) error {
		var err error
		rec, err = c.stream(ctx, r, fn)
		return err
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// upload streams a multipart body (metadata field, then the tar file part)
// through a pipe, so the archive is never held in memory by the client.
func (c *Client) upload(ctx context.Context, path string, tar io.Reader, md api.Metadata, out any) error {
	return c.uploadWith(ctx, path, tar, md, func(r request) error {
		r.out = out
		return c.do(ctx, r)
	})
}

// uploadWith builds the multipart request of an upload and sends it with
// send.
func (c *Client) uploadWith(ctx context.Context, path string, tar io.Reader, md api.Metadata, send func(request) error) error {
	if tar == nil {
		return errors.New("client: nil tar reader")
	}
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return fmt.Errorf("client: encode metadata: %w", err)
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(writeParts(mw, tar, mdJSON))
	}()
	// Closing the read side stops the writer goroutine if the request ends
	// before the body was consumed. When the context ends while the tar
	// reader is slow to answer, the write side is closed with the
	// context's error, so that the transport's read of the body fails with
	// it (a closed read side would answer io.ErrClosedPipe instead, and the
	// caller would get that, not the deadline, when it races the context).
	defer pr.Close()
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	defer stop()
	return send(request{
		method:      http.MethodPost,
		path:        path,
		body:        pr,
		contentType: mw.FormDataContentType(),
	})
}

// writeParts writes the metadata form field and the tar file part, then
// the closing boundary.
func writeParts(mw *multipart.Writer, tar io.Reader, mdJSON []byte) error {
	if err := mw.WriteField(metadataPartName, string(mdJSON)); err != nil {
		return fmt.Errorf("write metadata part: %w", err)
	}
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition",
		fmt.Sprintf(`form-data; name=%q; filename=%q`, tarPartName, tarFileName))
	h.Set("Content-Type", tarContentType)
	part, err := mw.CreatePart(h)
	if err != nil {
		return fmt.Errorf("write tar part: %w", err)
	}
	if _, err := io.Copy(part, tar); err != nil {
		return fmt.Errorf("write tar part: %w", err)
	}
	return mw.Close()
}
