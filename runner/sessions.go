package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/server"
)

// zygoteWait is how long a session waits for its interpreter's zygote to
// start (one that starts on its first request).
const zygoteWait = 30 * time.Second

// sessionRunner is the server's SessionRunner: sessions are forks of the
// zygotes (jail.Session), with the jobs' dependency layers.
type sessionRunner struct {
	*Runner
}

var _ server.SessionRunner = sessionRunner{}

// Sessions is the runner's server.SessionRunner; without zygotes it is nil,
// with the reason sessions are refused.
func (r *Runner) Sessions() (server.SessionRunner, string) {
	if r.zygotes == nil {
		return nil, "sessions run on zygote jails, which are turned off on this server (zygote.enabled)"
	}
	return sessionRunner{r}, ""
}

func (r sessionRunner) StartSession(ctx context.Context, spec server.SessionSpec) (server.SessionJail, error) {
	in, ok := r.interps.Get(spec.Interpreter.Version)
	if !ok {
		return nil, fmt.Errorf("interpreter %s vanished", spec.Interpreter.Version)
	}
	layer, failed, err := r.layer(ctx, server.Job{ID: spec.ID, Files: spec.Files, Requirements: spec.Requirements}, in)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", spec.ID, err)
	}
	if failed != nil {
		return nil, &server.SessionRefusal{Msg: failed.Failure}
	}
	run := interpreters.Run{EvalLastExpr: true, Layers: layer.paths(),
		Display: interpreters.Bounds{Count: spec.Results.DisplayItems, Bytes: spec.Results.DisplayBytes}}
	a := jail.Activation{
		Files:   jailFiles(spec.Files),
		Limits:  jailLimits(spec.Limits),
		Control: interpreters.EncodeRequest(run, jobEnv(in, nil)),
	}
	s, err := r.zygotes.StartSession(in.Version, a, spec.Grace, zygoteWait)
	if err != nil {
		layer.release()
		if errors.Is(err, jail.ErrNoZygote) {
			return nil, server.ErrNoSessionJail
		}
		return nil, fmt.Errorf("session %s: %w", spec.ID, err)
	}
	if ctx.Err() != nil { // the client left meanwhile: nobody knows its id
		s.Close()
		layer.release()
		return nil, ctx.Err()
	}
	go func() {
		<-s.Done()
		layer.release()
	}()
	return jailSession{s: s, in: in, layer: layer, files: spec.Results}, nil
}

// jailSession is a jail.Session as the server's SessionJail.
type jailSession struct {
	s     *jail.Session
	in    interpreters.Interpreter
	layer *jobLayer
	files server.ResultLimits // bound each cell's output files
}

func (j jailSession) Cell(ctx context.Context, req server.CellRequest) (server.CellOutcome, error) {
	jr := jail.CellRequest{Code: req.Code, EvalLast: req.EvalLast, Stdin: req.Stdin, Timeout: req.Timeout,
		OutputFiles: req.OutputFiles, MaxFiles: j.files.Files, MaxFileBytes: j.files.FileBytes, Started: req.Started}
	if fn := req.Output; fn != nil {
		jr.Output = func(stderr bool, b []byte) { fn(server.Chunk{Stderr: stderr, Data: b}) }
	}
	res, err := j.s.Cell(ctx, jr)
	if errors.Is(err, jail.ErrSessionEnded) {
		return server.CellOutcome{}, server.ErrSessionEnded
	}
	if err != nil {
		return server.CellOutcome{}, err
	}
	out := server.Outcome{
		ExitCode: res.ExitCode, Stdout: res.Stdout, Stderr: res.Stderr,
		StdoutTruncated: res.StdoutTruncated, StderrTruncated: res.StderrTruncated,
		TimedOut: res.TimedOut, OOMKilled: res.OOMKilled, Killed: res.Interrupted, OutputLimit: res.OutputLimit,
		CPU: res.CPU, MemoryPeak: res.MemoryPeak, Duration: res.Duration, PythonVersion: j.in.Version,
	}
	if rep, err := interpreters.ParseReport(res.Report); err == nil {
		out.ErrorType, out.ErrorLine = rep.ErrorType, rep.ErrorLine
		for _, d := range rep.Display {
			out.Display = append(out.Display, server.DisplayData{Mime: d.Mime, Data: d.Data})
		}
		out.DisplayDropped = rep.DisplayDropped
		for _, f := range rep.Files {
			out.Files = append(out.Files, server.FileData{Path: f.Path, Data: f.Data})
		}
		out.FilesDropped = rep.FilesDropped
		if req.EvalLast && rep.Finished && rep.ErrorType == "" {
			out.HasResult, out.Result = true, rep.Result
		}
	}
	return server.CellOutcome{Outcome: out, Ended: res.Ended}, nil
}

// fileErr turns the jail's file errors into the server's.
func fileErr(err error) error {
	var se *jail.SessionError
	switch {
	case errors.As(err, &se):
		return &server.SessionRefusal{Msg: se.Msg}
	case errors.Is(err, jail.ErrSessionEnded):
		return server.ErrSessionEnded
	case errors.Is(err, jail.ErrFileTooLarge):
		return server.ErrFileTooLarge
	}
	return err
}

func (j jailSession) PutFile(ctx context.Context, path string, mode fs.FileMode, data []byte) error {
	return fileErr(j.s.PutFile(ctx, path, mode, data))
}

func (j jailSession) GetFile(ctx context.Context, path string, max int64) ([]byte, error) {
	b, err := j.s.GetFile(ctx, path, max)
	return b, fileErr(err)
}

func (j jailSession) ListFiles(ctx context.Context) ([]api.SessionFile, error) {
	fs, err := j.s.ListFiles(ctx)
	if err != nil {
		return nil, fileErr(err)
	}
	out := make([]api.SessionFile, len(fs))
	for i, f := range fs {
		out[i] = api.SessionFile{Path: f.Path, Kind: f.Kind, Size: f.Size}
	}
	return out, nil
}

func (j jailSession) Usage() api.Usage {
	cpu, peak, _, _ := j.s.Usage()
	return api.Usage{CPUMS: cpu.Milliseconds(), MemoryPeakBytes: peak}
}

func (j jailSession) Kill(reason string)    { j.s.Kill(reason) }
func (j jailSession) Done() <-chan struct{} { return j.s.Done() }

func (j jailSession) End() server.SessionEnd {
	e := j.s.End()
	r := e.Result
	return server.SessionEnd{ExitCode: r.ExitCode, OOMKilled: r.OOMKilled, Killed: r.Killed, Reason: e.Reason,
		Usage: api.Usage{CPUMS: r.Usage.CPU.Milliseconds(), MemoryPeakBytes: r.Usage.MemoryPeak}}
}
