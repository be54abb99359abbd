package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/pyexec/pyexec/api"
)

// newID returns a fresh execution id, "exe_" and a random (v4) UUID.
func newID() string { return "exe_" + uuid.NewString() }

// pendingExecution is the record of a job that was just queued. Its
// exit_code is 0 until the code has exited, as python-executor sends it:
// every record has one.
func pendingExecution(job Job) api.Execution {
	return api.Execution{
		ExecutionID:   job.ID,
		Status:        api.StatusPending,
		ExitCode:      new(int),
		PythonVersion: job.Interpreter.Version,
	}
}

// startExecution marks a record running.
func startExecution(e *api.Execution, started, enqueued time.Time) {
	started = started.UTC()
	e.Status = api.StatusRunning
	e.StartedAt = &started
	e.QueuedMS = started.Sub(enqueued).Milliseconds()
}

// runResult is how one run of the Runner ended.
type runResult struct {
	outcome  Outcome
	err      error // the Runner's error
	cause    error // context.Cause of the job's context; nil if not cancelled
	started  time.Time
	finished time.Time
	// files are the output files kept (Store.SaveFiles), filesNote what
	// was left out.
	files     []api.OutputFile
	filesNote string
}

// finishExecution fills a running record from what the Runner returned.
// duration_ms is the Runner's Duration when it measured one (the code's
// run), else the wall clock of the whole run.
func finishExecution(e *api.Execution, job Job, r runResult) {
	o := r.outcome
	finished := r.finished.UTC()
	e.FinishedAt = &finished
	e.DurationMS = r.finished.Sub(r.started).Milliseconds()
	if job.EvalLastExpr {
		e.Result = json.RawMessage("null")
	}

	cancelled := r.cause != nil && (o.Killed || r.err != nil)
	if r.err != nil && !cancelled {
		e.Status, e.Error = api.StatusFailed, msgInternal
		return
	}
	if r.err == nil {
		fillOutcome(e, job, o)
		fillDisplay(e, job, o)
		e.OutputFiles, e.OutputFilesNote = r.files, r.filesNote
	}
	switch {
	case cancelled && errors.Is(r.cause, errShutdown):
		e.Status, e.Error = api.StatusFailed, msgShutdown
	case cancelled || o.Killed:
		e.Status = api.StatusKilled
	case o.TimedOut:
		e.Status, e.Error = api.StatusFailed, "execution timed out after "+formatSeconds(job.Limits.Timeout)
	case o.OOMKilled:
		e.Status, e.Error = api.StatusFailed, fmt.Sprintf("memory limit of %d MB exceeded", job.Limits.MemoryBytes>>20)
	case o.OutputLimit:
		e.Status, e.Error = api.StatusFailed, fmt.Sprintf("output limit of %d bytes exceeded", job.Limits.MaxOutputBytes)
	case o.Failure != "":
		e.Status, e.Error = api.StatusFailed, o.Failure
	default:
		e.Status = api.StatusCompleted
		if job.EvalLastExpr && o.HasResult && o.Result != nil {
			b, _ := json.Marshal(*o.Result) // a string always marshals
			e.Result = b
		}
	}
}

// fillOutcome copies what the Runner measured into the record.
func fillOutcome(e *api.Execution, job Job, o Outcome) {
	exit := o.ExitCode
	e.ExitCode = &exit
	e.Stdout = string(o.Stdout)
	e.Stderr = string(o.Stderr)
	if exit != 0 {
		e.ErrorType = o.ErrorType
		if o.ErrorLine > 0 {
			line := o.ErrorLine
			e.ErrorLine = &line
		}
	}
	if o.Duration > 0 { // else the wall clock's, set by finishExecution
		e.DurationMS = o.Duration.Milliseconds()
	}
	e.TimedOut = o.TimedOut
	e.OOMKilled = o.OOMKilled
	e.StdoutTruncated = o.StdoutTruncated
	e.StderrTruncated = o.StderrTruncated
	if o.PythonVersion != "" {
		e.PythonVersion = o.PythonVersion
	} else {
		e.PythonVersion = job.Interpreter.Version
	}
	e.Usage = &api.Usage{CPUMS: o.CPU.Milliseconds(), MemoryPeakBytes: o.MemoryPeak}
}

// dropExecution ends the record of a job that never ran: killed while
// pending (cause errKilled or errClientGone) or dropped by shutdown.
func dropExecution(e *api.Execution, job Job, cause error, now, enqueued time.Time) {
	now = now.UTC()
	e.FinishedAt = &now
	e.QueuedMS = now.Sub(enqueued).Milliseconds()
	if job.EvalLastExpr {
		e.Result = json.RawMessage("null")
	}
	if errors.Is(cause, errShutdown) {
		e.Status, e.Error = api.StatusFailed, msgShutdown
		return
	}
	e.Status = api.StatusKilled
}

// restartedExecution ends the record of a job that was queued or running
// when its server stopped without finishing it (killed, or the machine
// went down): failed, msgRestarted.
func restartedExecution(e *api.Execution, now time.Time) {
	now = now.UTC()
	e.Status, e.Error = api.StatusFailed, msgRestarted
	e.FinishedAt = &now
}

// formatSeconds writes d as "2s" or "0.5s".
func formatSeconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

// cloneExecution returns a copy of e that shares no memory with it.
func cloneExecution(e api.Execution) api.Execution {
	if e.ExitCode != nil {
		v := *e.ExitCode
		e.ExitCode = &v
	}
	if e.ErrorLine != nil {
		v := *e.ErrorLine
		e.ErrorLine = &v
	}
	if e.StartedAt != nil {
		v := *e.StartedAt
		e.StartedAt = &v
	}
	if e.FinishedAt != nil {
		v := *e.FinishedAt
		e.FinishedAt = &v
	}
	if e.Usage != nil {
		v := *e.Usage
		e.Usage = &v
	}
	if e.Result != nil {
		e.Result = append(json.RawMessage(nil), e.Result...)
	}
	if e.Display != nil {
		d := make([]api.DisplayItem, len(e.Display))
		for i, item := range e.Display {
			d[i] = api.DisplayItem{Mime: item.Mime, Data: append(json.RawMessage(nil), item.Data...)}
		}
		e.Display = d
	}
	e.OutputFiles = append([]api.OutputFile(nil), e.OutputFiles...)
	return e
}
