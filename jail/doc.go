// Package jail runs one command in a fresh, one-shot Linux jail built with
// runc's libcontainer (linked in, no runc binary): user, mount, pid, ipc,
// uts, cgroup and net namespaces (with Spec.Network, a user-mode NAT to the
// outside that cannot reach the host: net.go); a read-only
// root made of bind mounts of the host; a tmpfs /work holding the request's
// files and a tmpfs /tmp, both sized; a seccomp allowlist; no_new_privs; no
// capabilities; a non-root user; rlimits; the limits of a cgroup prepared
// by package cgroup; a wall-clock timeout; capped output.
//
// Every path out of Run (success, error, timeout, kill, panic) removes the
// container state, the cgroup, the mounts and the work dir. A server that
// crashed leaves jails behind; New sweeps them.
//
// The binary that uses this package must call Init first thing in main
// (and in TestMain): libcontainer re-executes it as the container's init.
package jail
