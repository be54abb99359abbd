// Package jailtest holds what the tests that start real jails share: the
// gate that skips them off CI and fails them on it, and the inventories of
// what jails leave behind.
package jailtest

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
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
// with its kind ("cgroup ", "state "). A running server's zygotes (names
// starting with "z") are not traces: see ZygoteTraces.
func Traces(stateDir, cgroupParent string) []string {
	var out []string
	for _, t := range allTraces(stateDir, cgroupParent) {
		if !strings.HasPrefix(filepath.Base(t), "z") {
			out = append(out, t)
		}
	}
	return out
}

// ZygoteTraces lists what zygotes (template jails, named "z...") hold:
// none must be left once their server is gone.
func ZygoteTraces(stateDir, cgroupParent string) []string {
	var out []string
	for _, t := range allTraces(stateDir, cgroupParent) {
		if strings.HasPrefix(filepath.Base(t), "z") {
			out = append(out, t)
		}
	}
	return out
}

// serverLeaf is cgroup.ServerLeaf (cgroup's tests import this package).
const serverLeaf = "pyexecd"

func allTraces(stateDir, cgroupParent string) []string {
	var out []string
	v1, _ := filepath.Glob("/sys/fs/cgroup/*/" + cgroupParent + "/*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/" + cgroupParent + "/*")
	for _, d := range append(v1, v2...) {
		if filepath.Base(d) == serverLeaf {
			continue // the server's own processes (v2), not a jail's
		}
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			out = append(out, "cgroup "+d)
		}
	}
	for _, sub := range []string{"run", "work", "net"} { // net: NAT helpers' records
		entries, _ := os.ReadDir(filepath.Join(stateDir, sub))
		for _, e := range entries {
			out = append(out, "state "+filepath.Join(stateDir, sub, e.Name()))
		}
	}
	return out
}

// HolderComm is the name of the processes that hold a jail id slot's user
// namespace open while their server runs.
const HolderComm = "pyexec-holder"

// preparedComm is jail.PreparedComm (jailtest cannot import jail: the
// jail package's own tests use it).
const preparedComm = "pyexec-prep"

// Procs lists the host processes whose real uid is in [base, base+count)
// (the ids a server maps its jails onto), as "pid:comm", leaving out the
// parts of a running server, unless withServer: its user namespace holders
// its zygotes (the process in a zygote's leaf cgroup "z") and the runs its
// zygotes prepared ahead of their requests (jail.PreparedComm).
func Procs(base, count int, withServer bool) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) < 2 || f[0] != "Uid:" {
				continue
			}
			uid, err := strconv.Atoi(f[1])
			if err != nil || uid < base || uid >= base+count {
				continue
			}
			c, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
			comm := strings.TrimSpace(string(c))
			if withServer || (comm != HolderComm && comm != preparedComm && !inZygoteLeaf(e.Name())) {
				out = append(out, e.Name()+":"+comm)
			}
		}
	}
	return out
}

// inZygoteLeaf reports whether pid is a zygote itself: its pids cgroup
// (v1; on a hybrid host the runs stay in the zygote's group of the unified
// mount) or its v2 group is a zygote's leaf, ".../z".
func inZygoteLeaf(pid string) bool {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "cgroup"))
	if err != nil {
		return false
	}
	v2 := ""
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.SplitN(line, ":", 3)
		switch {
		case len(f) != 3:
		case f[1] == "pids":
			return path.Base(f[2]) == "z"
		case f[0] == "0":
			v2 = f[2]
		}
	}
	return v2 != "" && path.Base(v2) == "z"
}

// WaitEmpty polls list until it is empty or d passes, and returns what is
// left.
func WaitEmpty(list func() []string, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		left := list()
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}
