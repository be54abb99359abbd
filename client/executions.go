package client

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pyexec/pyexec/api"
)

// Defaults of WaitOptions.
const (
	DefaultLongPoll        = 30 * time.Second
	DefaultPollInterval    = 200 * time.Millisecond
	DefaultMaxPollInterval = 2 * time.Second
)

// Get returns the current record of execution id (GET
// /api/v1/executions/{id}). An unknown id gives an *APIError for which
// IsNotFound is true.
func (c *Client) Get(ctx context.Context, id string) (*api.Execution, error) {
	return c.GetWait(ctx, id, 0)
}

// GetWait is Get with pyexec's long-poll: the server holds the request until
// the execution is finished or wait has passed, then answers with the
// current record. wait is sent as ?wait=<seconds>, rounded up; zero or less
// means no wait. A server that ignores the parameter (python-executor)
// answers at once.
func (c *Client) GetWait(ctx context.Context, id string, wait time.Duration) (*api.Execution, error) {
	path, err := executionPath(id)
	if err != nil {
		return nil, err
	}
	var q url.Values
	if wait > 0 {
		q = url.Values{"wait": {strconv.FormatInt(int64(math.Ceil(wait.Seconds())), 10)}}
	}
	var rec api.Execution
	if err := c.do(ctx, request{method: http.MethodGet, path: path, query: q, out: &rec}); err != nil {
		return nil, err
	}
	return &rec, nil
}

// Kill stops execution id (DELETE /api/v1/executions/{id}) and returns the
// status the server reports: "killed", or the current status when the
// execution was not running any more.
func (c *Client) Kill(ctx context.Context, id string) (string, error) {
	path, err := executionPath(id)
	if err != nil {
		return "", err
	}
	var kr api.KillResponse
	if err := c.do(ctx, request{method: http.MethodDelete, path: path, out: &kr}); err != nil {
		return "", err
	}
	return kr.Status, nil
}

// WaitOptions tunes Wait. The zero value is ready to use.
type WaitOptions struct {
	// LongPoll is how long each request asks the server to hold the answer.
	// If zero, DefaultLongPoll is used. It is shortened to the context's
	// deadline.
	LongPoll time.Duration
	// PollInterval is the first pause between requests when the server
	// answers at once with an unfinished record; the pause doubles up to
	// MaxPollInterval. If zero, DefaultPollInterval and
	// DefaultMaxPollInterval are used.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// Progress, if non-nil, is called with every unfinished record seen.
	Progress func(*api.Execution)
}

// Wait returns the record of execution id once it is finished (completed,
// failed or killed). It long-polls with GetWait; when the server answers
// an unfinished record at once, it polls with backoff instead. It returns
// early with the context's error, or with the first error of a request.
func (c *Client) Wait(ctx context.Context, id string, opts *WaitOptions) (*api.Execution, error) {
	var o WaitOptions
	if opts != nil {
		o = *opts
	}
	if o.LongPoll <= 0 {
		o.LongPoll = DefaultLongPoll
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.MaxPollInterval < o.PollInterval {
		o.MaxPollInterval = max(DefaultMaxPollInterval, o.PollInterval)
	}
	pause := o.PollInterval
	for {
		wait := longPollFor(ctx, o.LongPoll)
		start := time.Now()
		rec, err := c.GetWait(ctx, id, wait)
		if err != nil {
			return nil, err
		}
		if rec.Finished() {
			return rec, nil
		}
		if o.Progress != nil {
			o.Progress(rec)
		}
		// A server that held the request for a good part of the wait
		// honours long-polls: ask again at once.
		if wait > 0 && time.Since(start) >= min(wait/2, time.Second) {
			pause = o.PollInterval
			continue
		}
		if err := sleep(ctx, pause); err != nil {
			return nil, err
		}
		pause = min(pause*2, o.MaxPollInterval)
	}
}

// longPollFor returns the wait to ask for: lp, shortened to the context's
// deadline, or 0 when less than a second is left.
func longPollFor(ctx context.Context, lp time.Duration) time.Duration {
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl).Truncate(time.Second)
		if left < lp {
			lp = left
		}
	}
	if lp < time.Second {
		return 0
	}
	return lp
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// executionPath returns the escaped path of execution id.
func executionPath(id string) (string, error) {
	if id == "" {
		return "", errors.New("client: empty execution id")
	}
	return fmt.Sprintf("/api/v1/executions/%s", url.PathEscape(id)), nil
}
