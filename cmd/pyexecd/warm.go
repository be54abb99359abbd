package main

import (
	"context"
	"strings"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/server"
)

// execute runs spec in a pooled jail when the warm path gives the same
// result as a cold one, else in a fresh jail. started, when not nil, gets
// the jail once the code runs.
func (r *jailRunner) execute(ctx context.Context, in interpreters.Interpreter, run interpreters.Run, spec jail.Spec, started func(*jail.Jail)) (jail.Result, error) {
	if r.zygotes != nil && zygotable(spec) {
		res, ok, err := r.zygotes.RunWatched(ctx, in.Version, jail.Activation{
			Files: spec.Files, Stdin: spec.Stdin, Limits: spec.Limits,
			Control: interpreters.EncodeRequest(run, spec.Env),
		}, started)
		if ok {
			return res, err
		}
		if err != nil {
			r.log.Warn("zygote run failed to start; running elsewhere", "err", err)
		}
	}
	if r.pool != nil && warmable(spec, r.pool.DiskBytes(in.Version)) {
		res, ok, err := r.pool.RunWatched(ctx, in.Version, jail.Activation{
			Files: spec.Files, Stdin: spec.Stdin, Limits: spec.Limits,
			Control: interpreters.EncodeRequest(run, spec.Env),
		}, started)
		if ok {
			return res, err
		}
		if err != nil {
			r.log.Warn("pooled jail failed; running cold", "err", err)
		}
	}
	return r.jails.RunWatched(ctx, spec, started)
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

// poolTemplates turns the configured pool sizes (by series or version)
// into one template per interpreter.
func poolTemplates(cfg configs.Config, interps *interpreters.Set, binds []jail.Bind) ([]jail.Template, error) {
	var out []jail.Template
	d := cfg.Limits.Default
	for sel, size := range cfg.Pool.Sizes {
		if size <= 0 {
			continue
		}
		in, err := interps.Select(sel)
		if err != nil {
			return nil, err
		}
		out = append(out, jail.Template{
			Key:   in.Version,
			Size:  size,
			Ready: interpreters.WarmReady,
			Spec: jail.Spec{
				Args:   in.WarmCommand(),
				Env:    jobEnv(in, nil),
				Mounts: in.Mounts,
				Binds:  binds,
				Report: true,
				// The request defaults, so that most requests take a
				// pooled jail without rewriting its cgroup.
				Limits: jail.Limits{
					Limits:         jailLimits(server.Limits{MemoryBytes: int64(d.MemoryMB) << 20, CPUShares: d.CPUShares, CPULimit: d.CPULimit, Pids: d.PidsLimit}),
					DiskBytes:      int64(d.DiskMB) << 20,
					MaxOutputBytes: d.MaxOutputBytes,
				},
			},
		})
	}
	return out, nil
}

func poolSlots(st []jail.PoolStatus) []api.PoolSlot {
	out := make([]api.PoolSlot, len(st))
	for i, s := range st {
		out[i] = api.PoolSlot{Version: s.Key, Size: s.Size, Ready: s.Ready, Failing: s.Failing,
			Served: s.Served, Missed: s.Missed}
	}
	return out
}

// zygoteTemplates are one zygote per interpreter: the eager ones start
// with the server, the others on their first request.
func zygoteTemplates(cfg configs.Config, interps *interpreters.Set, binds []jail.Bind) []jail.ZygoteTemplate {
	eager := map[string]bool{}
	for _, sel := range cfg.Zygote.Eager {
		if in, err := interps.Select(sel); err == nil {
			eager[in.Version] = true
		}
	}
	if len(cfg.Zygote.Eager) == 0 {
		eager[interps.Default().Version] = true
	}
	var out []jail.ZygoteTemplate
	for _, in := range interps.All() {
		out = append(out, jail.ZygoteTemplate{
			Key:   in.Version,
			Eager: eager[in.Version],
			Ready: interpreters.WarmReady,
			Spec: jail.Spec{
				Args:   in.ZygoteCommand(),
				Env:    jobEnv(in, nil),
				Mounts: in.Mounts,
				Binds:  binds,
				Report: true,
				Limits: jail.Limits{Timeout: 60 * time.Second, DiskBytes: 1 << 20},
			},
		})
	}
	return out
}

func zygoteSlots(st []jail.ZygoteStatus) []api.ZygoteSlot {
	out := make([]api.ZygoteSlot, len(st))
	for i, s := range st {
		out[i] = api.ZygoteSlot{Version: s.Key, Running: s.Running, Failing: s.Failing, AgeS: int64(s.Age.Seconds()),
			Served: s.Served, Missed: s.Missed, Recycled: s.Recycled}
	}
	return out
}

// zygoteStatus is /health's source for z (nil: not reported).
func zygoteStatus(z *jail.ZygotePool) func() []api.ZygoteSlot {
	if z == nil {
		return nil
	}
	return func() []api.ZygoteSlot { return zygoteSlots(z.Status()) }
}
