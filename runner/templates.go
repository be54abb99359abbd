package runner

import (
	"time"

	"github.com/pyexec/pyexec/configs/limits"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// templateSpec is the spec a warm jail of in starts from: args, the base
// environment of every job, the interpreter's mounts, binds (those the
// Runner gets: Config.Binds) and the report channel, so that a job that
// zygotable or warmable accepts runs in it as in a fresh jail.
func templateSpec(in interpreters.Interpreter, args []string, binds []jail.Bind, limits jail.Limits) jail.Spec {
	return jail.Spec{
		Args:   args,
		Env:    jobEnv(in, nil),
		Mounts: in.Mounts,
		Binds:  binds,
		Report: true,
		Limits: limits,
	}
}

// PoolTemplates are the pooled jails' templates: for each selector of
// sizes (a series or version, as pool.sizes names them) with a size above
// zero, that many jails of its interpreter, started with the request
// defaults (so that most requests take a pooled jail without rewriting its
// cgroup) and with binds.
func PoolTemplates(sizes map[string]int, defaults limits.Run, interps *interpreters.Set, binds []jail.Bind) ([]jail.Template, error) {
	limits := jailLimits(defaults)
	limits.Timeout = 0 // each run brings its own
	var out []jail.Template
	for sel, size := range sizes {
		if size <= 0 {
			continue
		}
		in, err := interps.Select(sel)
		if err != nil {
			return nil, err
		}
		spec := templateSpec(in, in.WarmCommand(), binds, limits)
		spec.Status = true // the warm command's -t
		out = append(out, jail.Template{Key: in.Version, Size: size, Ready: interpreters.WarmReady, Spec: spec})
	}
	return out, nil
}

// ZygoteTemplates are one zygote per interpreter, with binds: those that
// eager selects (the default interpreter when it is empty) start with the
// server, the others on their first request.
func ZygoteTemplates(eager []string, defaults limits.Run, interps *interpreters.Set, binds []jail.Bind) []jail.ZygoteTemplate {
	start := map[string]bool{}
	for _, sel := range eager {
		if in, err := interps.Select(sel); err == nil {
			start[in.Version] = true
		}
	}
	if len(eager) == 0 {
		start[interps.Default().Version] = true
	}
	var out []jail.ZygoteTemplate
	for _, in := range interps.All() {
		out = append(out, jail.ZygoteTemplate{
			Key:   in.Version,
			Eager: start[in.Version],
			Ready: interpreters.WarmReady,
			Spec:  templateSpec(in, in.ZygoteCommand(), binds, jail.Limits{Timeout: 60 * time.Second, DiskBytes: 1 << 20}),
			// Its prepared runs are made for the request defaults.
			RunLimits: jailLimits(defaults),
		})
	}
	return out
}
