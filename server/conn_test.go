package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// connServer serves s through HTTPServer and Listener, as pyexecd does.
func connServer(t *testing.T, opts Options, r Runner) (*Server, string) {
	t.Helper()
	if r == nil {
		r = &fakeRunner{}
	}
	if opts.MaxConcurrent == 0 {
		opts.MaxConcurrent = 4
	}
	s, err := New(opts, r, &fakeInterps{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := s.HTTPServer()
	go func() { _ = hs.Serve(s.Listener(ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
		_ = hs.Close()
	})
	return s, "http://" + ln.Addr().String()
}

// sleepRunner runs every job for d, then succeeds.
func sleepRunner(d time.Duration) *fakeRunner {
	return &fakeRunner{fn: func(ctx context.Context, job Job) (Outcome, error) {
		select {
		case <-time.After(d):
			return Outcome{Stdout: []byte("slept\n")}, nil
		case <-ctx.Done():
			return Outcome{Killed: true, ExitCode: -1}, nil
		}
	}}
}

// freshDo sends one request on a connection of its own: net/http's
// client retries a GET that failed on a reused connection, which would
// hide a cut answer.
func freshDo(t *testing.T, method, url, contentType, body string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

// TestLongRequestsOutliveTimeouts: a sync run and a long-poll that wait
// longer than the read and write timeouts still get their answers: the
// write deadline runs from the answer, not from the request.
func TestLongRequestsOutliveTimeouts(t *testing.T) {
	_, url := connServer(t, Options{HTTP: HTTPOptions{
		ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond,
		WriteTimeout: 300 * time.Millisecond, IdleTimeout: 300 * time.Millisecond,
	}}, sleepRunner(1200*time.Millisecond))

	t.Run("eval", func(t *testing.T) {
		res := freshDo(t, http.MethodPost, url+"/api/v1/eval", "application/json", `{"code":"1"}`)
		var e api.Execution
		res.decode(t, &e)
		if res.status != http.StatusOK || e.Status != api.StatusCompleted {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})
	t.Run("exec sync", func(t *testing.T) {
		body, ct := multipartBody(t, simpleTar(t), `{"entrypoint":"main.py"}`)
		res := freshDo(t, http.MethodPost, url+"/api/v1/exec/sync", ct, string(body))
		var e api.Execution
		res.decode(t, &e)
		if res.status != http.StatusOK || e.Status != api.StatusCompleted {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})
	t.Run("long-poll", func(t *testing.T) {
		body, ct := multipartBody(t, simpleTar(t), `{"entrypoint":"main.py"}`)
		res := freshDo(t, http.MethodPost, url+"/api/v1/exec/async", ct, string(body))
		var acc api.Accepted
		res.decode(t, &acc)
		res = freshDo(t, http.MethodGet, url+"/api/v1/executions/"+acc.ExecutionID+"?wait=10", "", "")
		var e api.Execution
		res.decode(t, &e)
		if res.status != http.StatusOK || e.Status != api.StatusCompleted {
			t.Fatalf("%d %s", res.status, res.body)
		}
	})
}

// TestSlowClientsAreDisconnected: headers or a body trickled, or an idle
// keep-alive connection, are closed at their timeout.
func TestSlowClientsAreDisconnected(t *testing.T) {
	_, url := connServer(t, Options{HTTP: HTTPOptions{
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond,
		IdleTimeout: 400 * time.Millisecond,
	}}, nil)
	addr := strings.TrimPrefix(url, "http://")
	for _, tt := range []struct {
		name, prelude, trickle string
		timeout                time.Duration
	}{
		{"headers", "", "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100), 300 * time.Millisecond},
		{"body", "POST /api/v1/eval HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n", strings.Repeat(" ", 100), 600 * time.Millisecond},
		{"idle", "GET /health HTTP/1.1\r\nHost: x\r\n\r\n", "", 400 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			start := time.Now()
			if _, err := io.WriteString(conn, tt.prelude); err != nil {
				t.Fatal(err)
			}
			closed := make(chan time.Duration, 1)
			go func() {
				_, _ = io.Copy(io.Discard, conn)
				closed <- time.Since(start)
			}()
			for i := 0; ; i++ {
				select {
				case d := <-closed:
					if d < tt.timeout-50*time.Millisecond {
						t.Errorf("closed after %v, before the timeout %v", d, tt.timeout)
					}
					return
				case <-time.After(50 * time.Millisecond):
				}
				if i < len(tt.trickle) {
					_, _ = conn.Write([]byte{tt.trickle[i]})
				}
				if time.Since(start) > 10*time.Second {
					t.Fatal("still open after 10 s")
				}
			}
		})
	}
}

// TestHeaderLimit: headers over MaxHeaderBytes get 431.
func TestHeaderLimit(t *testing.T) {
	_, url := connServer(t, Options{HTTP: HTTPOptions{MaxHeaderBytes: 8 << 10}}, nil)
	req, _ := http.NewRequest(http.MethodGet, url+"/health", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("status %d, want 431", res.StatusCode)
	}
	if res := do(t, http.MethodGet, url+"/health", "", nil); res.status != http.StatusOK {
		t.Fatalf("small headers: %d", res.status)
	}
}

// TestMaxConnections: past the cap a connection is not served until one
// of those open closes.
func TestMaxConnections(t *testing.T) {
	_, url := connServer(t, Options{HTTP: HTTPOptions{MaxConnections: 2, ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute}}, nil)
	addr := strings.TrimPrefix(url, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/health", nil)
		res, err := hc.Do(req)
		if err != nil {
			return err
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	if err := get(300 * time.Millisecond); err == nil {
		t.Fatal("a third connection was served while two were open")
	}
	held[0].Close()
	if err := get(5 * time.Second); err != nil {
		t.Fatalf("after one closed: %v", err)
	}
}

func TestHTTPDefaults(t *testing.T) {
	s, err := New(Options{}, &fakeRunner{}, &fakeInterps{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Shutdown(context.Background()) }()
	hs := s.HTTPServer()
	if hs.ReadHeaderTimeout != 10*time.Second || hs.ReadTimeout != 2*time.Minute || hs.WriteTimeout != 2*time.Minute ||
		hs.IdleTimeout != time.Minute || hs.MaxHeaderBytes != 64<<10 || hs.ErrorLog == nil || s.opts.HTTP.MaxConnections != 1024 {
		t.Errorf("defaults %+v, max connections %d", hs, s.opts.HTTP.MaxConnections)
	}
}
