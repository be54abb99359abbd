// Package test holds pyexec's end-to-end tests: each starts the real
// pyexecd binary (built once by TestMain, or PYEXEC_BIN) on a loopback port
// with its own state dir, cgroup parent and host id range, talks to it over
// HTTP with the wire types of package api only, and checks after shutdown
// that no jail left a cgroup, a work dir, container state or a process
// behind.
//
// PYEXEC_BIN names a pyexecd to test instead of building one (a relative
// path is taken from this directory).
//
// The tests need root, user namespaces and cgroups; requireJail skips them
// elsewhere, and fails them under CI=true, where they must run:
//
//	CGO_ENABLED=1 go test -tags seccomp -count=1 ./test/
package test
