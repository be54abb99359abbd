package layers

import "errors"

var (
	// ErrNotFound: no layer has the key.
	ErrNotFound = errors.New("no such layer")
	// ErrInUse: the layer is mounted by a run or being built.
	ErrInUse = errors.New("layer in use")
	// ErrClosed: the cache was closed.
	ErrClosed = errors.New("deps cache closed")
)

// InstallError is an install that pip could not complete: the user's
// requirements, not the server, are at fault. Its Reason is for clients.
type InstallError struct {
	// Reason says what failed, e.g. "no matching distribution found for
	// nosuchpkg".
	Reason string
	// Output is pip's output (stdout and stderr, interleaved).
	Output []byte
	// ExitCode is pip's exit status (128+signal when killed).
	ExitCode int
}

func (e *InstallError) Error() string { return "pip install failed: " + e.Reason }
