package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// cpuSpent is the CPU time the server has used so far: its own process
// (every thread) and everything in its cgroup parent (zygotes, runs,
// pooled and cold jails). Work the kernel defers to its own threads (a
// network namespace's teardown, cgroup release) is not in it.
func (s *server) cpuSpent() (srv, jails time.Duration) {
	if s.cmd.Process != nil {
		srv = procCPU(s.cmd.Process.Pid)
	}
	// v1: cpuacct.usage (ns), hierarchical; v2: cpu.stat usage_usec.
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpuacct", s.cg, "cpuacct.usage")); err == nil {
		n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		return srv, time.Duration(n)
	}
	if b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", s.cg, "cpu.stat")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "usage_usec "); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return srv, time.Duration(n) * time.Microsecond
			}
		}
	}
	return srv, 0
}

// procCPU is pid's user+system time (clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * 10 * time.Millisecond
}
