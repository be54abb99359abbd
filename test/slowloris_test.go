package test

// Slow clients against the real binary: a client that trickles its request
// headers, one that trickles its body, and one that keeps an idle
// keep-alive connection are each disconnected by the server at the
// configured timeout (server.read_header_timeout, server.read_timeout,
// server.idle_timeout), and a sync run longer than every one of them still
// gets its answer.

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// Timeouts of the server under test, and how long a connection may stay
// open before the test calls it not closed: far past each timeout, so the
// bound says "the server closes it", not how fast.
const (
	slowHeaderTimeout = 2 * time.Second
	slowReadTimeout   = 4 * time.Second
	slowIdleTimeout   = 3 * time.Second
	slowWriteTimeout  = 5 * time.Second
	slowGiveUp        = 45 * time.Second
)

func TestSlowloris(t *testing.T) {
	s := startServer(t,
		"PYEXEC_SERVER_READ_HEADER_TIMEOUT="+slowHeaderTimeout.String(),
		"PYEXEC_SERVER_READ_TIMEOUT="+slowReadTimeout.String(),
		"PYEXEC_SERVER_IDLE_TIMEOUT="+slowIdleTimeout.String(),
		"PYEXEC_SERVER_WRITE_TIMEOUT="+slowWriteTimeout.String(),
	)
	addr := strings.TrimPrefix(s.URL, "http://")
	cases := []struct {
		name    string
		prelude string // sent at once
		trickle string // then one byte a second
		timeout time.Duration
	}{
		{"headers one byte a second", "", "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 200), slowHeaderTimeout},
		{"body one byte a second", "POST /api/v1/eval HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
			`{"code": "` + strings.Repeat(" ", 200), slowReadTimeout},
		{"idle keep-alive connection", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "", slowIdleTimeout},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			lived, closed := connLifetime(t, addr, tt.prelude, tt.trickle, slowGiveUp)
			if !closed {
				t.Fatalf("the connection is still open after %v (timeout %v)", lived, tt.timeout)
			}
			t.Logf("closed by the server after %v (timeout %v)", lived.Round(10*time.Millisecond), tt.timeout)
			if lived < tt.timeout-200*time.Millisecond {
				t.Errorf("closed after %v, before the timeout of %v", lived, tt.timeout)
			}
		})
	}
	t.Run("sync run longer than every timeout", func(t *testing.T) {
		t.Parallel()
		// Time to read the body, write the answer and sit between
		// requests are each shorter than the run: none of them may cut it.
		start := time.Now()
		e := s.eval(t, api.EvalRequest{Code: "import time\ntime.sleep(7)\nprint('slept')"})
		wantRun(t, e, "slept\n")
		t.Logf("7 s sync run answered after %v", time.Since(start).Round(10*time.Millisecond))
	})
	t.Run("long-poll longer than every timeout", func(t *testing.T) {
		t.Parallel()
		id := s.execAsync(t, map[string]string{"main.py": "import time\ntime.sleep(7)\nprint('slept')"},
			api.Metadata{Entrypoint: "main.py"})
		start := time.Now()
		r := s.do(t, http.MethodGet, "/api/v1/executions/"+id+"?wait=30", "", nil)
		e := decode[api.Execution](t, r.Body)
		if r.Status != http.StatusOK || e.Status != api.StatusCompleted {
			t.Fatalf("long-poll: %d %s", r.Status, r.Body)
		}
		t.Logf("long-poll answered after %v", time.Since(start).Round(10*time.Millisecond))
	})
}

// connLifetime dials addr, sends prelude, then trickle one byte a second,
// and reads whatever the server answers. It returns how long the
// connection lived after the prelude was sent, and whether the server
// closed it within giveUp.
func connLifetime(t *testing.T, addr, prelude, trickle string, giveUp time.Duration) (time.Duration, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, prelude); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Time, 1)
	go func() {
		_, _ = io.Copy(io.Discard, conn) // until EOF or a reset
		closed <- time.Now()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	limit := time.NewTimer(giveUp)
	defer limit.Stop()
	for i := 0; ; {
		select {
		case at := <-closed:
			return at.Sub(start), true
		case <-limit.C:
			return time.Since(start), false
		case <-tick.C:
			if i < len(trickle) {
				if _, err := conn.Write([]byte{trickle[i]}); err != nil && !errors.Is(err, net.ErrClosed) {
					// The server is gone: the reader reports when.
					i = len(trickle)
					continue
				}
				i++
			}
		}
	}
}
