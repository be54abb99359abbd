package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"

	"github.com/pyexec/pyexec/api"
)

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(api.Error{Error: "internal server error"})
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// writeError writes the {"error": msg} body of every error response.
func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, api.Error{Error: msg})
}

// fail answers a request that could not be served. What the client sees
// comes from typed errors only; anything else is logged and becomes a
// bare 500.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var (
		mbe *http.MaxBytesError
		re  *requestError
	)
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit))
	case errors.As(err, &re):
		if re.Err != nil {
			s.log.Debug("bad request", "path", r.URL.Path, "status", re.Status, "err", re.Err)
		}
		writeError(w, re.Status, re.Msg)
	case errors.Is(err, errQueueBytes):
		s.metrics.rejected()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, queueBytesMessage(s.opts.MaxQueuedBytes))
	case errors.Is(err, errQueueFull), errors.Is(err, errStoreFull):
		s.metrics.rejected()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "too many executions are waiting; retry later")
	case errors.Is(err, errCallerFull):
		s.metrics.quotaRejected()
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests,
			"this token has as many executions running or waiting as one token may have; retry when one has finished")
	case errors.Is(err, errClosed):
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down")
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal server error")
	}
}

// limitedBody caps a request body and remembers whether the cap was hit,
// since not every decoder keeps *http.MaxBytesError in its error chain.
type limitedBody struct {
	io.ReadCloser
	limit int64
	hit   bool
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		b.hit = true
	}
	return n, err
}

// limitBody replaces r.Body with one capped at limit bytes.
func limitBody(w http.ResponseWriter, r *http.Request, limit int64) *limitedBody {
	// MaxBytesReader tells net/http to close the connection past the cap
	// only when it gets net/http's own writer, so unwrap ours.
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	lb := &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit), limit: limit}
	r.Body = lb
	return lb
}

// tooLarge is the error of a body over its cap.
func (b *limitedBody) tooLarge() error {
	return tooLarge("the request body is larger than the limit of %d bytes", b.limit)
}

// readBody reads r's whole body, capped at limit bytes: a 413 when it is
// larger, a 400 when it could not be read.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	lb := limitBody(w, r, limit)
	body, err := io.ReadAll(lb)
	if err != nil {
		if lb.hit {
			return nil, lb.tooLarge()
		}
		return nil, unreadable(err)
	}
	return body, nil
}

// unreadable is the 400 of a request body that could not be read.
func unreadable(err error) error {
	return &requestError{Status: http.StatusBadRequest, Msg: "the request body could not be read", Err: err}
}

// recoverer turns a panic in a handler into a logged 500 with no detail.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tw := &trackingWriter{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("panic in handler", "method", r.Method, "path", r.URL.Path,
				"panic", v, "stack", string(debug.Stack()))
			if !tw.wrote {
				writeError(tw, http.StatusInternalServerError, "internal server error")
			}
		}()
		next.ServeHTTP(tw, r)
	})
}

// trackingWriter records whether the response has started.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *trackingWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *trackingWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *trackingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
