package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/configs/limits"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/layers"
	"github.com/pyexec/pyexec/server"
)

// Config is what a Runner runs on. Jails and Interpreters are required;
// the others may be nil.
type Config struct {
	Jails   *jail.Manager
	Pool    *jail.Pool       // nil: no pooled jails
	Zygotes *jail.ZygotePool // nil: no forking, and no sessions
	Layers  *layers.Cache    // nil: jobs with requirements fail
	// Binds are in every jail, pooled and zygote ones too (the layer
	// cache): the templates get the same (see PoolTemplates).
	Binds        []jail.Bind
	Interpreters *interpreters.Set
	Logger       *slog.Logger // nil: discard
}

// Runner is the server's Runner: it turns a validated job into a jail
// request for the job's interpreter, chooses where it runs (zygote, pool
// or cold), holds its layer lease, and reads the verdict.
type Runner struct {
	jails   *jail.Manager
	pool    *jail.Pool
	zygotes *jail.ZygotePool
	deps    *layers.Cache
	binds   []jail.Bind
	interps *interpreters.Set
	log     *slog.Logger
}

var _ server.Runner = (*Runner)(nil)

// New returns the runner of c.
func New(c Config) (*Runner, error) {
	if c.Jails == nil || c.Interpreters == nil {
		return nil, errors.New("runner: a jail manager and interpreters are required")
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{jails: c.Jails, pool: c.Pool, zygotes: c.Zygotes, deps: c.Layers, binds: c.Binds,
		interps: c.Interpreters, log: log}, nil
}

// Run runs job to its end (server.Runner).
func (r *Runner) Run(ctx context.Context, job server.Job) (server.Outcome, error) {
	in, ok := r.interps.Get(job.Interpreter.Version)
	if !ok {
		return server.Outcome{}, fmt.Errorf("interpreter %s vanished", job.Interpreter.Version)
	}
	layer, failed, err := r.layer(ctx, job, in)
	if err != nil {
		return server.Outcome{}, fmt.Errorf("job %s: %w", job.ID, err)
	}
	if failed != nil {
		return *failed, nil
	}
	run := interpreters.Run{
		Entrypoint: job.Entrypoint, Args: job.Args,
		EvalLastExpr: job.EvalLastExpr, PreCommands: job.PreCommands,
		Display: interpreters.Bounds{Count: job.Results.DisplayItems, Bytes: job.Results.DisplayBytes},
	}
	if len(job.OutputFiles) > 0 {
		run.OutputFiles = job.OutputFiles
		run.OutputBounds = interpreters.Bounds{Count: job.Results.Files, Bytes: job.Results.FileBytes}
	}
	defer layer.release()
	run.Layers = layer.paths()
	spec := jail.Spec{
		Args:    in.Command(run),
		Env:     jobEnv(in, job.Env),
		Mounts:  in.Mounts,
		Binds:   r.binds,
		Files:   jailFiles(job.Files),
		Stdin:   job.Stdin,
		Limits:  jailLimits(job.Limits),
		Network: job.Limits.Network,
		Report:  true,
		Status:  true, // the command's -t
	}
	res, err := r.execute(ctx, in, run, spec, watcher(job, layer))
	if err != nil {
		return server.Outcome{}, fmt.Errorf("run job %s: %w", job.ID, err)
	}
	out := outcome(job, in, res, r.log)
	out.Stderr = layer.stderr(out.Stderr)
	return out, nil
}

// watcher shows the server a running jail's output: a snapshot on demand
// (server.Job.Watch) and pushed as it is written (server.Job.Stream). Its
// stderr starts with the layer's notes, as the final record's does.
func watcher(job server.Job, layer *jobLayer) func(*jail.Jail) {
	if job.Watch == nil && job.Stream == nil {
		return nil
	}
	return func(j *jail.Jail) {
		if job.Watch != nil {
			job.Watch(func() server.Output {
				o := server.Output(j.Output())
				o.Stderr = string(layer.stderr([]byte(o.Stderr)))
				return o
			})
		}
		if job.Stream != nil {
			job.Stream(jailFeed{j: j, layer: layer})
		}
	}
}

// jailFeed is a running jail's server.Feed.
type jailFeed struct {
	j     *jail.Jail
	layer *jobLayer
}

func (f jailFeed) Subscribe(fn func(server.Chunk)) (server.Output, func()) {
	before, cancel := f.j.Subscribe(func(stderr bool, b []byte) { fn(server.Chunk{Stderr: stderr, Data: b}) })
	o := server.Output(before)
	o.Stderr = string(f.layer.stderr([]byte(o.Stderr)))
	return o, cancel
}

// outcome reads a jail's result and the bootstrap's report into the
// server's terms.
func outcome(job server.Job, in interpreters.Interpreter, res jail.Result, log *slog.Logger) server.Outcome {
	out := server.Outcome{
		ExitCode:        res.ExitCode,
		Stdout:          res.Stdout,
		Stderr:          res.Stderr,
		StdoutTruncated: res.StdoutTruncated,
		StderrTruncated: res.StderrTruncated,
		TimedOut:        res.TimedOut,
		OOMKilled:       res.OOMKilled,
		Killed:          res.Killed,
		OutputLimit:     res.OutputLimit,
		CPU:             res.Usage.CPU,
		MemoryPeak:      res.Usage.MemoryPeak,
		Duration:        res.Duration,
		PythonVersion:   in.Version,
	}
	rep, err := interpreters.ParseReport(res.Report)
	if err != nil {
		// Only the user's own code can garble the report channel.
		log.Debug("unreadable bootstrap report", "job", job.ID, "err", err)
	}
	if rep.PreCommandFailed != "" {
		out.Failure = fmt.Sprintf("pre_command %q failed with exit code %d", rep.PreCommandFailed, res.ExitCode)
		return out
	}
	out.ErrorType, out.ErrorLine = rep.ErrorType, rep.ErrorLine
	for _, d := range rep.Display {
		out.Display = append(out.Display, server.DisplayData{Mime: d.Mime, Data: d.Data})
	}
	for _, f := range rep.Files {
		out.Files = append(out.Files, server.FileData{Path: f.Path, Data: f.Data})
	}
	out.DisplayDropped, out.FilesDropped = rep.DisplayDropped, rep.FilesDropped
	if job.EvalLastExpr && rep.Finished && rep.ErrorType == "" {
		out.HasResult, out.Result = true, rep.Result
	}
	return out
}

// The locale and home every jail starts with.
const (
	baseLang = "C.UTF-8"
	baseHome = "/tmp"
)

// jobEnv is the environment of user code: a sane base that the request's
// env_vars may override.
func jobEnv(in interpreters.Interpreter, user []string) []string {
	// MPLBACKEND: matplotlib draws off-screen (its figures come back as
	// display items, see the bootstrap's _Out).
	env := []string{"PATH=" + in.Path(), "HOME=" + baseHome, "LANG=" + baseLang, "USER=sandbox", "TMPDIR=/tmp",
		"MPLBACKEND=Agg"}
	seen := map[string]int{}
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		seen[k] = i
	}
	for _, kv := range user {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := seen[k]; ok {
			env[i] = kv
			continue
		}
		seen[k] = len(env)
		env = append(env, kv)
	}
	return env
}

// jailLimits are the jail limits of a job's limits: the one place where
// the server's limits become the jail's (and its cgroup's).
func jailLimits(l limits.Run) jail.Limits {
	return jail.Limits{
		Limits: cgroup.Limits{
			MemoryBytes: l.MemoryBytes,
			CPUShares:   uint64(l.CPUShares),
			CPUs:        l.CPULimit,
			Pids:        int64(l.Pids),
		},
		DiskBytes:      l.DiskBytes,
		Timeout:        l.Timeout,
		MaxOutputBytes: l.MaxOutputBytes,
	}
}

// jailFiles are the jail's files of a job's.
func jailFiles(files []server.File) []jail.File {
	out := make([]jail.File, len(files))
	for i, f := range files {
		out[i] = jail.File{Path: f.Path, Mode: f.Mode, Data: f.Data, Linkname: f.Linkname}
	}
	return out
}
