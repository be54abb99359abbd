// Package limits is pyexec's one vocabulary of per-run limits, and the one
// place of their defaults and bounds and of the server's built-in
// defaults that the configuration also gives (queue size, records kept,
// request sizes, HTTP connection bounds).
//
// A run's limits have three forms:
//
//   - on the wire, api.Config: the request's "config" object, every field
//     optional (python-executor's contract; see API.md);
//   - Values: a whole set in the units of that object (seconds, MB,
//     shares, cores, processes, bytes): the defaults and ceilings of the
//     configuration (configs.Limits is Values) and of server.Options;
//   - Run: one run's resolved limits in the units the jails take
//     (durations and bytes) plus its network choice; the server resolves
//     a request into a Run (Values.Run) and the runner converts a Run into
//     the jail's limits, each in one place.
//
// jail.Limits and cgroup.Limits stay the jail's own types: the runner is
// the only code that converts to them.
//
// It is a package below configs, not part of it, so that the server
// (which takes plain values, and must not depend on how a configuration is
// loaded: configs imports viper) and configs (whose embedded pyexec.yaml states these values to
// users; a test keeps the two equal) read the same numbers. It is pure Go
// with no dependencies beyond the standard library.
package limits
