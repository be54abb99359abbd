package runner

import (
	"context"
	"strings"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// warmRunner is a warm path: a pool of started jails of which RunWatched
// takes one for key, or says (ok false) that it cannot serve this run, so
// that the next path runs it. jail.ZygotePool and jail.Pool are warm paths.
type warmRunner interface {
	RunWatched(ctx context.Context, key string, a jail.Activation, started func(*jail.Jail)) (jail.Result, bool, error)
}

// warmPath is a warm path and whether it runs a spec as a cold jail would.
type warmPath struct {
	name string // in the log
	pool warmRunner
	fits bool
}

// execute runs spec in a fork of the interpreter's zygote, else in a
// pooled jail, each only when it gives the same result as a fresh jail
// (see zygotable and warmable), else in a fresh jail. started, when not
// nil, gets the jail once the code runs.
func (r *Runner) execute(ctx context.Context, in interpreters.Interpreter, run interpreters.Run, spec jail.Spec, started func(*jail.Jail)) (jail.Result, error) {
	var paths []warmPath
	if r.zygotes != nil {
		paths = append(paths, warmPath{"zygote", r.zygotes, zygotable(spec)})
	}
	if r.pool != nil {
		paths = append(paths, warmPath{"pooled jail", r.pool, warmable(spec, r.pool.DiskBytes(in.Version))})
	}
	a := jail.Activation{
		Files: spec.Files, Stdin: spec.Stdin, Limits: spec.Limits,
		Control: interpreters.EncodeRequest(run, spec.Env),
	}
	if res, ok, err := r.runWarm(ctx, paths, in.Version, a, started); ok {
		return res, err
	}
	return r.jails.RunWatched(ctx, spec, started)
}

// runWarm runs a on the first of paths that fits and serves it (ok); a
// path that fails to start the run is logged and the next one tried.
func (r *Runner) runWarm(ctx context.Context, paths []warmPath, key string, a jail.Activation, started func(*jail.Jail)) (jail.Result, bool, error) {
	for _, p := range paths {
		if !p.fits {
			continue
		}
		res, ok, err := p.pool.RunWatched(ctx, key, a, started)
		if ok {
			return res, true, err
		}
		if err != nil {
			r.log.Warn("warm run failed to start; running elsewhere", "path", p.name, "err", err)
		}
	}
	return jail.Result{}, false, nil
}

// warmable reports whether a pooled jail (started without network, with
// the pool's disk size, the runner's binds and the base environment) runs
// spec exactly as a fresh jail would: no network, the same disk size, and
// no environment variable read only when a process starts: Python's own
// (PYTHON*), the locale (LANG, LC_*), the dynamic loader's and libc's
// (LD_*, GLIBC_TUNABLES, MALLOC_*), TZ (time.tzname is set when the time
// module starts), and HOME, which places the user site-packages that site
// adds at start-up.
func warmable(spec jail.Spec, poolDisk int64) bool {
	if poolDisk == 0 || spec.Limits.DiskBytes != poolDisk {
		return false
	}
	return zygotable(spec)
}

// zygotable reports whether a fork of a zygote (started with the base
// environment, without network) runs spec exactly as a fresh jail would:
// no network, and no environment variable that only a process's start
// reads (see warmable). Any disk size will do: each run mounts its own.
func zygotable(spec jail.Spec) bool {
	if spec.Network || spec.HostNetwork {
		return false
	}
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "PYTHON"), strings.HasPrefix(k, "LC_"), strings.HasPrefix(k, "LD_"),
			strings.HasPrefix(k, "MALLOC_"), k == "GLIBC_TUNABLES", k == "TZ":
			return false
		case k == "LANG" && v != baseLang, k == "HOME" && v != baseHome:
			return false
		}
	}
	return true
}
