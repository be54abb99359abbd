package server

import (
	"errors"
	"fmt"
	"net/http"
)

// requestError is a failure the client caused. Msg is shown to the client
// as is, so it must name only what the client sent; Err, when set, is the
// underlying cause, for logs only.
type requestError struct {
	Status int
	Msg    string
	Err    error
}

func (e *requestError) Error() string { return e.Msg }
func (e *requestError) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) error {
	return &requestError{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

func tooLarge(format string, args ...any) error {
	return &requestError{Status: http.StatusRequestEntityTooLarge, Msg: fmt.Sprintf(format, args...)}
}

// Why a job's context was cancelled (context.Cause).
var (
	errKilled     = errors.New("killed by request")
	errClientGone = errors.New("client disconnected")
	errShutdown   = errors.New("server shutting down")
)

// Why a job was not accepted.
var (
	errQueueFull = errors.New("queue full")
	// errQueueBytes: the queued jobs hold Options.MaxQueuedBytes.
	errQueueBytes = errors.New("queue byte budget full")
	// errCallerFull: the caller's token has its share of the slots and
	// of the queue.
	errCallerFull = errors.New("token quota full")
	errClosed     = errors.New("server closed")
)

// Messages shown in records; the details are only logged.
const (
	msgInternal = "internal error: the execution could not be run"
	msgShutdown = "the server shut down before the execution finished"
	// msgRestarted ends the records a server that stopped without ending
	// them left pending or running (it was killed, or the host went down).
	msgRestarted = "the server restarted before the execution finished"
)
