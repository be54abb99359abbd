package test

import (
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// TestCgroupSmoke is the short end-to-end check that CI also runs in the
// cgroup v2 guest (test/v2vm/ci.sh): on a server of its own, an eval
// succeeds, a 64 MiB memory limit OOM-kills a 300 MiB allocation, a
// timeout ends a run and keeps what it printed, and after the stop nothing
// is left: no per-jail cgroups, no state or work dirs, no jail processes,
// no user namespace holders, no cgroup parent. Each check runs on the
// default series (3.12, whose jails the server starts ahead of requests)
// and on 3.11 (started on its first request), so the limits are set both
// on a jail made earlier and on one made for the request.
func TestCgroupSmoke(t *testing.T) {
	s := startServer(t)
	s.waitWarm(t)

	h := s.health(t)
	if h.Enforced == nil || h.Enforced.CgroupMode != hostCgroupMode() ||
		!h.Enforced.MemoryLimit || !h.Enforced.PidsLimit || !h.Enforced.CPULimit {
		t.Errorf("/health enforced %+v; want cgroup_mode %q with memory, pids and cpu limits", h.Enforced, hostCgroupMode())
	}

	for _, version := range []string{"3.12", "3.11"} {
		t.Run("eval "+version, func(t *testing.T) {
			e := s.eval(t, api.EvalRequest{PythonVersion: version, Code: "import sys\nprint('ok', sys.version_info[:2])"})
			wantRun(t, e, "ok (3, "+strings.TrimPrefix(version, "3.")+")\n")
		})
		t.Run("memory "+version, func(t *testing.T) {
			e := s.eval(t, api.EvalRequest{
				PythonVersion: version,
				Code:          tagged("smoke-oom", "print('start', flush=True)\ndata = bytearray(300 << 20)\nprint('survived')"),
				Config:        &api.Config{MemoryMB: ptr(64)},
			})
			if e.Status != api.StatusFailed || !e.OOMKilled || strings.Contains(e.Stdout, "survived") || e.Stdout != "start\n" {
				t.Errorf("got %s; want failed, oom_killed, stdout \"start\\n\"", describe(e))
			}
			if e.Usage == nil || e.Usage.MemoryPeakBytes > 65<<20 {
				t.Errorf("usage %+v; want a memory peak within the 64 MiB limit", e.Usage)
			}
			waitGone(t, s, "smoke-oom", 10*time.Second)
		})
		t.Run("timeout "+version, func(t *testing.T) {
			start := time.Now()
			e := s.eval(t, api.EvalRequest{
				PythonVersion: version,
				Code:          tagged("smoke-timeout", "import time\nprint('before', flush=True)\ntime.sleep(300)\nprint('after')"),
				Config:        &api.Config{TimeoutSeconds: ptr(1)},
			})
			// The bound tells a timeout that fired from a hang (the code
			// sleeps 300 s); it is not a latency goal.
			if took := time.Since(start); took > 60*time.Second {
				t.Errorf("a 1 s timeout answered after %v", took)
			}
			if e.Status != api.StatusFailed || !e.TimedOut || e.Stdout != "before\n" {
				t.Errorf("got %s; want failed, timed_out, stdout \"before\\n\"", describe(e))
			}
			waitGone(t, s, "smoke-timeout", 10*time.Second)
		})
	}

	// stop checks the exit status and every leftover kind but the
	// holders; startServer's cleanup reports what it found.
	s.stop()
	if holders := s.jailHolders(); len(holders) > 0 {
		t.Errorf("user namespace holders outlived the server: %v", holders)
	}
}
