// Package runner is the middle hop of the request path: server → runner →
// (layers) → jail → cgroup. It implements the server's Runner and
// SessionRunner over the jail manager, its pools and the dependency layer
// cache.
//
// For each validated job (server.Job) the runner:
//
//   - takes the job's dependency layer from the cache (layers.Cache), the
//     explicit requirements installed as asked and, for /eval jobs, the
//     third-party imports detected in its files, best-effort; the lease is
//     held until the run ends;
//   - builds the jail request (jail.Spec): the interpreter's command for
//     the job (interpreters.Run), the base environment with the request's
//     env_vars over it, the files, stdin and the job's limits converted to
//     the jail's (jailLimits, the one place that converts them);
//   - chooses where the code runs: a fork of the interpreter's zygote, else
//     a pooled jail, else a fresh (cold) jail, each warm path taken only
//     when it runs the job exactly as a cold jail would (see zygotable and
//     warmable); a warm path that cannot serve the job falls through to the
//     next;
//   - reads the jail's result and the bootstrap's report into the server's
//     Outcome.
//
// The runner also makes the templates of the pools and zygotes (the same
// base environment, binds and report channel as its jobs, so that a warm
// jail serves them), and reports the pools' and zygotes' state for
// /health. Sessions (StartSession) are forks of the zygotes with the same
// layer lease.
//
// The interfaces it implements are declared by their user, package server;
// the runner declares none of its own. Logging goes to the injected
// *slog.Logger.
package runner
