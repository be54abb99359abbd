package test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestZygoteMixedRuns: issue 11's no-leftovers check through zygotes.
// 2000 runs (PYEXEC_E2E_MIXED_RUNS) of every kind in turn (ok, error,
// exit status, a child left behind, forks, OOM, kill, timeout), eight at
// a time, on a root server with zygotes on: each ends as it should, the
// zygote serves them, no process of a run outlives it while the server
// runs, and nothing at all (processes, per-run groups, mounts, state) is
// left once the server stops (startServer's cleanup checks that).
func TestZygoteMixedRuns(t *testing.T) {
	runs := 2000
	if v := os.Getenv("PYEXEC_E2E_MIXED_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PYEXEC_E2E_MIXED_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	s := startServer(t)
	s.waitZygote(t)
	reqs := mixedRequests(t, "zmixed")
	before := s.health(t)
	start := time.Now()
	summary, failures := s.runMixed(runs, 8, reqs)
	after := s.health(t)
	served := zygoteServed(after) - zygoteServed(before)
	t.Logf("%d runs in %v: %s; zygote served %d, pool %d", runs, time.Since(start).Round(time.Millisecond),
		summary, served, poolServed(after)-poolServed(before))
	reportFailures(t, failures)
	if served < int64(runs)*9/10 {
		t.Errorf("the zygote served %d of %d runs", served, runs)
	}
	// The pool's jails are alive too: the runs' own processes carry the
	// tag (or are the children they left, sleep).
	runProcs := func() []string {
		var out []string
		for _, p := range s.jailProcs() {
			if strings.HasSuffix(p, ":zmixed") || strings.HasSuffix(p, ":sleep") {
				out = append(out, p)
			}
		}
		return out
	}
	if left := rlWaitEmpty(runProcs, 10*time.Second); len(left) > 0 {
		t.Errorf("while the server runs, processes of the runs are left: %v", left)
	}
	if left := rlWaitEmpty(func() []string { return unpreparedRunGroups(t, s) }, 10*time.Second); len(left) > 0 {
		t.Errorf("while the server runs, per-run groups are left: %v", left)
	}
}

// unpreparedRunGroups is zygoteRunGroups when each hierarchy holds more
// groups than the runs the zygotes prepared ahead of their requests
// (/health's "prepared"), which have theirs; nil otherwise.
func unpreparedRunGroups(t testing.TB, s *Server) []string {
	prepared := 0
	for _, z := range s.health(t).Zygotes {
		prepared += z.Prepared
	}
	groups := zygoteRunGroups(s)
	perHierarchy := map[string]int{}
	for _, d := range groups {
		perHierarchy[strings.SplitN(strings.TrimPrefix(d, "/sys/fs/cgroup/"), "/", 2)[0]]++
	}
	for _, n := range perHierarchy {
		if n > prepared {
			return groups
		}
	}
	return nil
}

// zygoteRunGroups lists the run groups below the server's zygotes' groups
// (every hierarchy), leaving out each zygote's own leaf "z".
func zygoteRunGroups(s *Server) []string {
	var out []string
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + s.CgroupParent + "/z*/*")
	v2, _ := filepath.Glob("/sys/fs/cgroup/" + s.CgroupParent + "/z*/*")
	for _, d := range append(dirs, v2...) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() && filepath.Base(d) != "z" {
			out = append(out, d)
		}
	}
	return out
}
