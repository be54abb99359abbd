package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// maxEventBytes bounds one event of a stream (a chunk of output is far
// smaller; the final record holds at most the server's output caps).
const maxEventBytes = 64 << 20

// Event is one event of an execution's live output (pyexec's extension;
// see [api.EventStatus] for the order of a stream). Name tells which of
// the other fields is set.
type Event struct {
	Name string
	// Text is the next output of the stream, for api.EventStdout and
	// api.EventStderr.
	Text string
	// Status is set for api.EventStatus.
	Status *api.StatusEvent
	// Dropped is set for api.EventDropped: the bytes this reader missed so
	// far, per stream.
	Dropped *api.DroppedEvent
	// Execution is the final record, set for api.EventDone.
	Execution *api.Execution

	raw []byte // the data of an api.EventDone event (a cell's has more)
}

// EventFunc receives the events of a stream, one at a time, in order. An
// error it returns stops the stream and is returned by the call.
type EventFunc func(Event) error

// Events follows execution id (GET /api/v1/executions/{id}/events): fn
// gets its output as the code writes it, then the final record, which
// Events returns. A finished execution gives its output and record at
// once. An unknown id gives an *APIError for which IsNotFound is true (so
// does python-executor, which has no event streams). Stopping the stream
// (fn's error, ctx) does not stop the execution.
func (c *Client) Events(ctx context.Context, id string, fn EventFunc) (*api.Execution, error) {
	path, err := executionPath(id)
	if err != nil {
		return nil, err
	}
	return c.stream(ctx, request{method: http.MethodGet, path: path + "/events"}, fn)
}

// EvalStream runs req like Eval, with its output streamed to fn as the
// code writes it (POST /api/v1/eval with "Accept: text/event-stream"),
// and returns the final record. Ending the call early (fn's error, ctx)
// closes the connection, which kills the execution. A server that answers
// with plain JSON (python-executor) gives fn the record's stdout and
// stderr as one event each, then the record.
func (c *Client) EvalStream(ctx context.Context, req api.EvalRequest, fn EventFunc) (*api.Execution, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("client: encode eval request: %w", err)
	}
	return c.stream(ctx, request{
		method:      http.MethodPost,
		path:        "/api/v1/eval",
		body:        bytes.NewReader(body),
		contentType: "application/json",
	}, fn)
}

// stream sends r asking for an event stream and feeds its events to fn
// until the "done" event.
func (c *Client) stream(ctx context.Context, r request, fn EventFunc) (*api.Execution, error) {
	if fn == nil {
		fn = func(Event) error { return nil }
	}
	// Leaving early must close the connection (that is what kills a
	// streamed eval), so the body is not drained.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := c.newRequest(ctx, r, "text/event-stream")
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "text/event-stream" {
		return recordEvents(resp.Body, r, fn)
	}
	rec, err := readEvents(resp.Body, fn)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", r.method, r.path, err)
	}
	return rec, nil
}

// recordEvents turns a plain JSON record into the events of a stream.
func recordEvents(body io.Reader, r request, fn EventFunc) (*api.Execution, error) {
	var rec api.Execution
	raw, err := io.ReadAll(io.LimitReader(body, maxEventBytes))
	if err == nil {
		err = json.Unmarshal(raw, &rec)
	}
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: decode response: %w", r.method, r.path, err)
	}
	for _, ev := range []Event{
		{Name: api.EventStatus, Status: &api.StatusEvent{ExecutionID: rec.ExecutionID, Status: rec.Status}},
		{Name: api.EventStdout, Text: rec.Stdout},
		{Name: api.EventStderr, Text: rec.Stderr},
		{Name: api.EventDone, Execution: &rec, raw: raw},
	} {
		if (ev.Name == api.EventStdout || ev.Name == api.EventStderr) && ev.Text == "" {
			continue
		}
		if err := fn(ev); err != nil {
			return nil, err
		}
	}
	return &rec, nil
}

// errNoDone is the error of a stream that ended before its "done" event.
var errNoDone = errors.New("event stream ended before the final record")

// readEvents parses a text/event-stream body (the subset pyexec sends:
// "event:" and "data:" lines, comments, blank lines between events) and
// calls fn with each event it knows; unknown events are skipped.
func readEvents(body io.Reader, fn EventFunc) (*api.Execution, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxEventBytes)
	var name string
	var data []byte
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if name == "" && data == nil {
				continue
			}
			ev, known, err := decodeEvent(name, data)
			name, data = "", nil
			if err != nil {
				return nil, err
			}
			if !known {
				continue
			}
			if err := fn(ev); err != nil {
				return nil, err
			}
			if ev.Name == api.EventDone {
				return ev.Execution, nil
			}
		case strings.HasPrefix(line, ":"):
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "event":
				name = value
			case "data":
				if data != nil {
					data = append(data, '\n')
				}
				data = append(data, value...)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return nil, errNoDone
}

// decodeEvent decodes the data of one event; known is false for an event
// this client does not know (skipped, for servers newer than it).
func decodeEvent(name string, data []byte) (ev Event, known bool, err error) {
	ev.Name = name
	var v any
	switch name {
	case api.EventStdout, api.EventStderr:
		var o api.OutputEvent
		if err := json.Unmarshal(data, &o); err != nil {
			return ev, false, fmt.Errorf("decode %s event: %w", name, err)
		}
		ev.Text = o.Text
		return ev, true, nil
	case api.EventStatus:
		ev.Status = new(api.StatusEvent)
		v = ev.Status
	case api.EventDropped:
		ev.Dropped = new(api.DroppedEvent)
		v = ev.Dropped
	case api.EventDone:
		ev.Execution = new(api.Execution)
		ev.raw = data
		v = ev.Execution
	default:
		return ev, false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return ev, false, fmt.Errorf("decode %s event: %w", name, err)
	}
	return ev, true, nil
}
