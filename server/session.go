package server

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// SessionRunner starts sessions: jails whose interpreter runs cell after
// cell with its state kept. The server declares it; package runner
// implements it over the zygotes (jail.Session).
type SessionRunner interface {
	// StartSession starts spec's session and returns once its code waits
	// for cells. An error the client caused (a requirement that does not
	// install) is a *SessionRefusal; ErrNoSessionJail means no jail could
	// take it now; anything else is the server's and is logged.
	StartSession(ctx context.Context, spec SessionSpec) (SessionJail, error)
}

// SessionSpec is one validated session request.
type SessionSpec struct {
	ID           string
	Interpreter  api.Interpreter
	Files        []File // every directory before the entries inside it
	Requirements requirements.List
	// Limits bound the session as a whole (memory, pids, disk, CPU);
	// Timeout is its longest life, MaxOutputBytes a cell's per stream.
	Limits Limits
	// Grace is how long an interrupted cell may take to stop before the
	// session is killed.
	Grace time.Duration
	// Results bound each cell's display items (rich results, figures)
	// and output files.
	Results ResultLimits
}

// SessionJail is a running session. Its methods are safe for concurrent
// use; Cell and the file methods run one at a time (the next waits).
type SessionJail interface {
	// Cell runs req. Past req.Timeout the code gets KeyboardInterrupt;
	// ending ctx interrupts it too. Ended is set when the session ended
	// during the cell (End tells how). An error means the cell did not run
	// (ErrSessionEnded: it had ended).
	Cell(ctx context.Context, req CellRequest) (CellOutcome, error)
	// PutFile and GetFile move one file of the session's /work (path
	// checked by the server); a *SessionRefusal is the session's refusal
	// (no such file, a link in the way), ErrFileTooLarge a file past max.
	PutFile(ctx context.Context, path string, mode fs.FileMode, data []byte) error
	GetFile(ctx context.Context, path string, max int64) ([]byte, error)
	ListFiles(ctx context.Context) ([]api.SessionFile, error)
	// Usage is what the session's cgroup measured so far.
	Usage() api.Usage
	// Kill ends the session for reason (the first one given counts).
	Kill(reason string)
	// Done is closed once the session has ended; End then tells how.
	Done() <-chan struct{}
	End() SessionEnd
}

// CellRequest is one validated cell.
type CellRequest struct {
	Code     []byte
	EvalLast bool
	Stdin    []byte
	Timeout  time.Duration
	// OutputFiles are the cell's output_files patterns (checked), sent
	// back within the session's Results.
	OutputFiles []string
	// Output, when set, is called with each chunk of the cell's stdout and
	// stderr the Outcome will hold, as the code writes it, under Feed's
	// rules for fn (it must not block, nor keep Chunk.Data); never after
	// Cell returned.
	Output func(Chunk)
	// Started, when set, is called once the cell has the session (the
	// cell before it ended) and its code is about to run; never when Cell
	// returns without running it.
	Started func()
}

// CellOutcome is one cell's Outcome; Ended: the session ended with it.
type CellOutcome struct {
	Outcome
	Ended bool
}

// SessionEnd is how a session ended.
type SessionEnd struct {
	ExitCode  int
	OOMKilled bool
	Killed    bool   // by the server (Kill)
	Reason    string // Kill's reason, "" when the code ended by itself
	Usage     api.Usage
}

// SessionRefusal is a failure a session request caused; Msg is shown to
// the client.
type SessionRefusal struct{ Msg string }

func (e *SessionRefusal) Error() string { return e.Msg }

// Session errors of a SessionRunner and a SessionJail.
var (
	ErrNoSessionJail = errors.New("no jail can take a session now")
	ErrSessionEnded  = errors.New("the session has ended")
	ErrFileTooLarge  = errors.New("the file is larger than allowed")
)

// SessionOptions configure sessions (ours). With a nil Runner every
// session request gets 503 with Unavailable as its message.
type SessionOptions struct {
	Runner      SessionRunner
	Unavailable string
	// MaxLive bounds the live sessions (429 past it).
	MaxLive int
	// IdleDefault and IdleMax are a session's idle_timeout_seconds when
	// not given, and the most it may ask for.
	IdleDefault, IdleMax time.Duration
	// Grace is how long an interrupted cell may take to stop.
	Grace time.Duration
	// MaxLifetime ends a session this long after its start, idle or not.
	MaxLifetime time.Duration
}

func (o SessionOptions) validate() error {
	if o.Runner == nil {
		return nil
	}
	if o.MaxLive < 1 || o.IdleDefault <= 0 || o.IdleMax < o.IdleDefault || o.Grace <= 0 || o.MaxLifetime <= 0 {
		return errors.New("sessions: max live, idle default and max, grace and max lifetime must be set (idle max >= default)")
	}
	return nil
}
