package server

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/pyexec/pyexec/configs/limits"
)

// HTTPOptions bound the server's HTTP connections, so that a slow or idle
// client holds a connection only so long and the number of connections
// is capped. The zero value of a field means the default in its comment.
type HTTPOptions struct {
	// ReadHeaderTimeout bounds reading a request's headers, from its first
	// byte (a client that trickles its headers is disconnected then). If
	// zero, 10 s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (a
	// client that trickles its body is disconnected then). Once the body
	// is read, a sync run or a long-poll may wait for its job past it. If
	// zero, 2 min.
	ReadTimeout time.Duration
	// WriteTimeout bounds each write (and flush) of a response, from its
	// start (see connDeadlines): a sync run or a long-poll that waits
	// longer than this for its answer still gets it. If zero, 2 min.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request. If zero, 60 s.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the size of a request's headers; past it the
	// answer is 431. If zero, 64 KiB.
	MaxHeaderBytes int
	// MaxConnections caps the connections open at once; past it, new
	// connections wait to be accepted until one closes. If zero, 1024.
	MaxConnections int
}

func (h HTTPOptions) withDefaults() HTTPOptions {
	if h.ReadHeaderTimeout == 0 {
		h.ReadHeaderTimeout = limits.ReadHeaderTimeout
	}
	if h.ReadTimeout == 0 {
		h.ReadTimeout = limits.ReadTimeout
	}
	if h.WriteTimeout == 0 {
		h.WriteTimeout = limits.WriteTimeout
	}
	if h.IdleTimeout == 0 {
		h.IdleTimeout = limits.IdleTimeout
	}
	if h.MaxHeaderBytes == 0 {
		h.MaxHeaderBytes = limits.MaxHeaderKB << 10
	}
	if h.MaxConnections == 0 {
		h.MaxConnections = limits.MaxConnections
	}
	return h
}

func (h HTTPOptions) validate() error {
	switch {
	case h.ReadHeaderTimeout < 0 || h.ReadTimeout < 0 || h.WriteTimeout < 0 || h.IdleTimeout < 0:
		return fmt.Errorf("HTTP timeouts must not be negative")
	case h.ReadHeaderTimeout > h.ReadTimeout:
		return fmt.Errorf("read header timeout %s is above the read timeout %s", h.ReadHeaderTimeout, h.ReadTimeout)
	case h.MaxHeaderBytes < 0 || h.MaxConnections < 0:
		return fmt.Errorf("HTTP size limits must not be negative")
	}
	return nil
}

// HTTPServer returns an http.Server that serves Handler with the timeouts
// and header limit of Options.HTTP, logging to Options.Logger. Serve it on
// a listener wrapped by Listener.
func (s *Server) HTTPServer() *http.Server {
	h := s.opts.HTTP
	return &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: h.ReadHeaderTimeout,
		ReadTimeout:       h.ReadTimeout,
		WriteTimeout:      h.WriteTimeout,
		IdleTimeout:       h.IdleTimeout,
		MaxHeaderBytes:    h.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// Listener caps ln at Options.HTTP.MaxConnections open connections: past
// it, Accept waits until one of them is closed.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return netutil.LimitListener(ln, s.opts.HTTP.MaxConnections)
}

// connDeadlines sizes a response's write deadline to the response rather
// than to the request. net/http sets the write deadline (WriteTimeout)
// when the request's headers have been read; left so, the answer of a
// sync run or a long-poll that waited longer than WriteTimeout for its
// job would fail. Instead every write of the response, and every flush,
// gets WriteTimeout from its start. (The read deadline, ReadTimeout, needs
// nothing: net/http lifts it once the body has been read, when it starts
// watching the connection for the client going away.)
func (s *Server) connDeadlines(next http.Handler) http.Handler {
	timeout := s.opts.HTTP.WriteTimeout
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&deadlineWriter{ResponseWriter: w, timeout: timeout}, r)
	})
}

// deadlineWriter gives each write and flush WriteTimeout from its start,
// until the handler sets a write deadline of its own (an event stream
// does): from then on, the handler's deadline holds.
type deadlineWriter struct {
	http.ResponseWriter
	timeout time.Duration
	own     bool // the handler set a deadline
}

func (w *deadlineWriter) extend() {
	if !w.own {
		_ = http.NewResponseController(w.ResponseWriter).SetWriteDeadline(time.Now().Add(w.timeout))
	}
}

// SetWriteDeadline is what http.ResponseController.SetWriteDeadline calls.
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.own = true
	return http.NewResponseController(w.ResponseWriter).SetWriteDeadline(t)
}

func (w *deadlineWriter) WriteHeader(code int) {
	w.extend()
	w.ResponseWriter.WriteHeader(code)
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(b)
}

// FlushError is what http.ResponseController.Flush calls.
func (w *deadlineWriter) FlushError() error {
	w.extend()
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController and limitBody reach the writer below.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
