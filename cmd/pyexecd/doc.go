// Command pyexecd is the pyexec server: it serves python-executor's HTTP
// API and runs each request's Python code in a fresh libcontainer jail.
// It is also the jails' init: libcontainer re-executes this binary with
// the argument "init" inside each new container.
//
// Usage:
//
//	pyexecd [--config FILE] [--host HOST] [--port PORT] [--log-level LEVEL]
//
// With no arguments it serves on 127.0.0.1:8080 with the embedded
// defaults; see configs/pyexec.yaml for every setting and its PYEXEC_*
// environment variable.
//
// The command is wiring only: it loads the configuration (flags, file,
// environment), re-executes itself into its user namespace when rootless,
// checks what the host enforces (health.go, for /health), and connects the
// pieces of the request path: server → runner → (layers) → jail → cgroup.
// "pyexecd setup" prepares a host for rootless servers (setup*.go).
package main
