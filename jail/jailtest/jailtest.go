// Package jailtest holds what the tests that start real jails share: the
// gate that skips them off CI and fails them on it, and the inventories of
// what jails leave behind.
package jailtest

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Require skips tb on a machine that cannot start jails (no root), and
// fails it under CI=true, where jails must run. what names the tests, as
// in "jail tests".
func Require(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s need root to start jails; CI=true runs them as root, so this is a failure", what)
	}
	tb.Skipf("%s need root, user namespaces and cgroups: skipped off CI (under CI=true they fail)", what)
}

// Traces lists what jails could leave behind under a state dir and cgroup
// parent: the per-jail cgroup dirs in every hierarchy (v1, hybrid's
// unified mount, v2), and the container state and work dirs, each prefixed
// with its kind ("cgroup ", "state ").
func Traces(stateDir, cgroupParent string) []string {
	var out []string
	v1, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent + "/*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/" + cgroupParent + "/*")
	for _, d := range append(v1, v2...) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, "cgroup "+d)
		}
	}
	for _, sub := range []string{"run", "work"} {
		entries, _ := os.ReadDir(filepath.Join(stateDir, sub))
		for _, e := range entries {
			out = append(out, "state "+filepath.Join(stateDir, sub, e.Name()))
		}
	}
	return out
}

// Procs lists the host processes whose real uid is one of uids (a jail's
// root and sandbox user mapped to the host), as "pid:comm".
func Procs(uids ...int) []string {
	want := map[string]bool{}
	for _, u := range uids {
		want[strconv.Itoa(u)] = true
	}
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && want[f[1]] {
				comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
				out = append(out, e.Name()+":"+strings.TrimSpace(string(comm)))
			}
		}
	}
	return out
}
