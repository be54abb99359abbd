package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/jail/jailtest"
)

// TestRunGroupLimits makes run groups with each kind of limits (a new
// group's files equal to their defaults are not written) and updates
// them, reading every limit back from the kernel.
func TestRunGroupLimits(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	g := runParent(t)
	for i, tc := range []struct {
		name        string
		first, then Limits
	}{
		{"defaults", Limits{}, Limits{MemoryBytes: 64 << 20, CPUShares: 2, CPUs: 0.5, Pids: 32}},
		{"all set", Limits{MemoryBytes: 64 << 20, CPUShares: 2, CPUs: 1, Pids: 32}, Limits{}},
		{"memory only", Limits{MemoryBytes: 128 << 20}, Limits{MemoryBytes: 32 << 20, CPUShares: 1024}},
		{"weight only", Limits{CPUShares: 512}, Limits{CPUShares: 1024, Pids: 8}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := g.NewRun("run"+strconv.Itoa(i), tc.first)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := r.Delete(); err != nil {
					t.Error(err)
				}
			}()
			checkRunLimits(t, r, tc.first)
			if err := r.Update(tc.then); err != nil {
				t.Fatal(err)
			}
			checkRunLimits(t, r, tc.then)
		})
	}
}

// runParent is a group for run groups, as a zygote's is.
func runParent(t *testing.T) *Group {
	t.Helper()
	m := testManager(t)
	g, err := m.Create("runs", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Delete(); err != nil {
			t.Error(err)
		}
	})
	if m.Mode() == ModeUnified {
		// As a zygote's group has them for its runs: the controllers in
		// its children (the parent has them in its own, newV2).
		f := filepath.Join(v2Mount, m.parent, g.name, "cgroup.subtree_control")
		if err := os.WriteFile(f, []byte("+memory +cpu +pids"), 0); err != nil {
			t.Fatal(err)
		}
	}
	return g
}

// TestRunGroupDelete removes run groups: empty, with a task that leaves
// while Delete waits (it is not killed), and with one that stays (killed
// once the wait is over).
func TestRunGroupDelete(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	g := runParent(t)
	for i, tc := range []struct {
		name   string
		sleep  string // the task's life in seconds ("": no task)
		killed bool
	}{
		{"empty", "", false},
		{"task leaving", "0.004", false},
		{"task staying", "60", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := g.NewRun("del"+strconv.Itoa(i), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var cmd *exec.Cmd
			waited := make(chan error, 1)
			if tc.sleep != "" {
				cmd = exec.Command("sleep", tc.sleep)
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				defer cmd.Process.Kill()
				for _, d := range r.dirs {
					if err := os.WriteFile(filepath.Join(d, "cgroup.procs"), []byte(strconv.Itoa(cmd.Process.Pid)), 0); err != nil {
						t.Fatal(err)
					}
				}
				// Reaped by its parent as it leaves, as a run's pid 1 is.
				go func() { waited <- cmd.Wait() }()
			}
			if err := r.Delete(); err != nil {
				t.Fatal(err)
			}
			for _, d := range r.dirs {
				if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s left: %v", d, err)
				}
			}
			if cmd != nil {
				<-waited
				if killed := !cmd.ProcessState.Success(); killed != tc.killed {
					t.Errorf("task killed: %v, want %v (%v)", killed, tc.killed, cmd.ProcessState)
				}
			}
		})
	}
}

// checkRunLimits reads r's limit files and compares them with l's.
func checkRunLimits(t *testing.T, r *RunGroup, l Limits) {
	t.Helper()
	read := func(dir, file string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	shares := l.CPUShares
	if shares == 0 {
		shares = 1024
	}
	if r.v2 {
		d := r.dirs[0]
		mem, pids, cpuMax := "max", "max", "max "+strconv.Itoa(cpuPeriod)
		if l.MemoryBytes > 0 {
			mem = strconv.FormatInt(l.MemoryBytes, 10)
		}
		if l.Pids > 0 {
			pids = strconv.FormatInt(l.Pids, 10)
		}
		if q := l.quota(); q > 0 {
			cpuMax = strconv.FormatInt(q, 10) + " " + strconv.Itoa(cpuPeriod)
		}
		for file, want := range map[string]string{"memory.max": mem, "memory.swap.max": "0", "pids.max": pids,
			"cpu.max": cpuMax, "cpu.weight": strconv.FormatUint(sharesToWeight(shares), 10)} {
			if got := read(d, file); got != want {
				t.Errorf("%s: %s, want %s", file, got, want)
			}
		}
		return
	}
	mem, quota, pids := "9223372036854771712", "-1", "max"
	if l.MemoryBytes > 0 {
		mem = strconv.FormatInt(l.MemoryBytes, 10)
	}
	if q := l.quota(); q > 0 {
		quota = strconv.FormatInt(q, 10)
	}
	if l.Pids > 0 {
		pids = strconv.FormatInt(l.Pids, 10)
	}
	want := map[string]string{"memory.limit_in_bytes": mem, "memory.swappiness": "0"}
	if r.memsw {
		want["memory.memsw.limit_in_bytes"] = mem
	}
	for file, w := range want {
		if got := read(r.dirs[0], file); got != w {
			t.Errorf("%s: %s, want %s", file, got, w)
		}
	}
	for file, w := range map[string]string{"cpu.shares": strconv.FormatUint(shares, 10),
		"cpu.cfs_period_us": strconv.Itoa(cpuPeriod), "cpu.cfs_quota_us": quota} {
		if got := read(r.dirs[1], file); got != w {
			t.Errorf("%s: %s, want %s", file, got, w)
		}
	}
	if got := read(r.pids, "pids.max"); got != pids {
		t.Errorf("pids.max: %s, want %s", got, pids)
	}
}
