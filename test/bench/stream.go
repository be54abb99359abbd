package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// streamCode prints the wall clock (the jail shares the host's), flushed,
// then waits so the print is not the run's end.
const streamCode = "import time\nprint(repr(time.time()), flush=True)\ntime.sleep(0.05)\n"

// streamN runs n streamed /eval requests (Accept: text/event-stream)
// back-to-back, and returns for each the time from the request to its
// first stdout event, and from the print to that event's arrival.
func streamN(s *server, n int) (first, lag []time.Duration, err error) {
	c, err := client.New(s.url, client.WithHTTPClient(s.hc))
	if err != nil {
		return nil, nil, err
	}
	for range n {
		start := time.Now()
		var got bool
		var text strings.Builder
		rec, err := c.EvalStream(context.Background(), api.EvalRequest{Code: streamCode}, func(ev client.Event) error {
			if ev.Name != api.EventStdout || got {
				return nil
			}
			text.WriteString(ev.Text)
			if !strings.HasSuffix(ev.Text, "\n") {
				return nil
			}
			now := time.Now()
			got = true
			first = append(first, now.Sub(start))
			sec, err := strconv.ParseFloat(strings.TrimSpace(text.String()), 64)
			if err != nil {
				return fmt.Errorf("stream: unexpected output %q", text.String())
			}
			lag = append(lag, now.Sub(time.Unix(0, int64(sec*1e9))))
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
		if rec.Status != api.StatusCompleted || !got {
			return nil, nil, fmt.Errorf("stream: status %s, stdout event %v, stderr %q", rec.Status, got, rec.Stderr)
		}
	}
	return first, lag, nil
}
