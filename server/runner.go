package server

import (
	"context"
	"io/fs"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// Runner runs one validated job to its end. The server declares it;
// package runner implements it over interpreters/, layers/ and jail/.
//
// Run returns an error only when the job could not be run for a reason that
// is the server's, not the user's (the error is logged, never shown to the
// client). Cancelling ctx stops the jail; the Outcome then has Killed set
// and keeps the output produced so far.
type Runner interface {
	Run(ctx context.Context, job Job) (Outcome, error)
}

// Interpreters resolves a client's interpreter selector. The server
// declares it; interpreters.Set implements it.
type Interpreters interface {
	// List returns the interpreters the server can run, default first.
	List() []api.Interpreter
	// Resolve maps "" (the default), "3.12", "3.12.1", "python:3.12-slim"
	// or "python:3.12" to an interpreter. An unknown selector gives an error
	// whose message names the available versions and no host path.
	Resolve(selector string) (api.Interpreter, error)
}

// File is one entry of the job's work tree, with a slash-separated path
// relative to the work dir, already checked to stay inside it.
type File struct {
	Path     string
	Mode     fs.FileMode // permission bits; fs.ModeDir for directories, fs.ModeSymlink for links
	Data     []byte      // content of a regular file
	Linkname string      // target of a symlink, relative, checked to stay in the tree

	// Set only by scanArchive, which keeps no data: the size of a regular
	// file, and the entry a hard link has its data from.
	size   int64
	origin string
}

// Limits are the resolved limits of one job, already validated against the
// server's bounds (limits.Run, the one form of a run's limits between the
// server and the runner).
type Limits = limits.Run

// Job is one execution request after decoding and validation.
type Job struct {
	ID          string
	Interpreter api.Interpreter
	Files       []File // every directory appears before the entries inside it
	Entrypoint  string // slash-separated path relative to the work dir
	Args        []string
	Env         []string // KEY=value
	Stdin       []byte
	PreCommands []string
	// Requirements is the request's requirements_txt, parsed and checked
	// (a "-" line sets NoDetect).
	Requirements requirements.List
	// DetectImports asks the runner to add the third-party imports found in
	// the job's files to Requirements (unless Requirements.NoDetect). The
	// server sets it for /eval jobs when auto-detection is configured on.
	DetectImports bool
	EvalLastExpr  bool
	Limits        Limits
	// OutputFiles are the request's output_files patterns (checked), and
	// Results the bounds of what the run sends back (Options.Results).
	OutputFiles []string
	Results     ResultLimits

	// archive is an /exec upload as it arrived, until the job starts:
	// Files is empty until then (decoder.loadFiles).
	archive *spooled

	// Watch is set by the server. The Runner calls it once the job's code
	// has started, with a function that returns the output written so far;
	// the server calls that function to show a running record's stdout and
	// stderr. The function must be safe to call from any goroutine, during
	// Run and after it returned, and must not block; each call may cost one
	// copy of the output kept so far, never more. A Runner that does not
	// call Watch leaves a running record's output empty.
	Watch func(output func() Output)
	// Stream is set by the server. The Runner calls it once, when the
	// job's code has started, with the job's live output; the server
	// streams it as Server-Sent Events. A Runner that does not call it
	// leaves the event stream with the final record's output only.
	Stream func(Feed)

	// caller is the token holder who asked for the job ("" in an open
	// server), whose quota it counts against; set by the handlers.
	caller string
}

// Output is what a running job has written so far, kept within
// Limits.MaxOutputBytes per stream like the final record's.
type Output struct {
	Stdout, Stderr                   string
	StdoutTruncated, StderrTruncated bool
}

// Outcome is what a Runner observed.
type Outcome struct {
	ExitCode        int
	Stdout, Stderr  []byte
	StdoutTruncated bool
	StderrTruncated bool
	TimedOut        bool
	OOMKilled       bool
	Killed          bool
	// OutputLimit is set when the run was stopped because output exceeded
	// the hard cap.
	OutputLimit bool
	// Failure is a user-facing message when the code could not run (a
	// pre_command failed, a dependency did not install). Empty otherwise.
	Failure string

	// HasResult is true for eval_last_expr jobs whose code ran to its end;
	// Result is then nil for "no trailing expression" or None.
	HasResult bool
	Result    *string
	ErrorType string
	ErrorLine int // 0 = unknown

	// Display are the rich results and figures the run offered, Files
	// the output files it sent back (Job.OutputFiles), each with the
	// count of those it left out past Job.Results.
	Display        []DisplayData
	DisplayDropped int
	Files          []FileData
	FilesDropped   int

	CPU           time.Duration
	MemoryPeak    int64
	Duration      time.Duration
	PythonVersion string
}
