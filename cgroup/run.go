package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
)

// RunGroup is the group of one run forked from a zygote: a child of the
// zygote's group, made only where a run needs its own limits and usage
// (the memory, cpu, cpuacct and pids hierarchies on v1; the one group on
// v2). In the other v1 hierarchies the run stays in the zygote's group,
// whose device rules it keeps. The run's processes join it themselves,
// through descriptors the server opens (ProcsFiles), before any of the
// run's code: what the zygote had charged before stays the zygote's, so
// the usage is the run's own.
type RunGroup struct {
	v2    bool
	memsw bool     // v1: the memory hierarchy has memory.memsw.* (swap accounting)
	swap0 bool     // v1: a new group's swappiness (its parent's) is already 0
	dirs  []string // the group's directories; dirs[0] holds memory
	cpu   string   // the directory of cpuacct.usage (v1) or cpu.stat (v2)
	pids  string   // the directory whose cgroup.procs lists every task
	// removed counts the directories Delete has removed (in order).
	removed int
}

// deleteTries is how many times Delete tries to remove a group whose tasks
// are leaving before it kills them: 1+2+4+8 ms of waits between.
const deleteTries = 5

// removeDirs removes the group's directories not removed yet, in order;
// busy tells that one still counts tasks.
func (r *RunGroup) removeDirs() (busy bool, err error) {
	for ; r.removed < len(r.dirs); r.removed++ {
		if err := os.Remove(r.dirs[r.removed]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return errors.Is(err, syscall.EBUSY), err
		}
	}
	return false, nil
}

// NewRun makes the run group name below g with limits l. On error nothing
// is left behind.
func (g *Group) NewRun(name string, l Limits) (_ *RunGroup, retErr error) {
	if !validName(name) {
		return nil, fmt.Errorf("cgroup name %q: invalid", name)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	r := &RunGroup{}
	switch b := g.m.b.(type) {
	case *v1:
		rel := filepath.Join(b.parent, g.name, name)
		for _, s := range []cgroup1.Name{cgroup1.Memory, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Pids} {
			dir := filepath.Join(b.dirs[s], rel)
			if !contains(r.dirs, dir) { // co-mounted controllers share one
				r.dirs = append(r.dirs, dir)
			}
		}
		r.cpu = filepath.Join(b.dirs[cgroup1.Cpuacct], rel)
		r.pids = filepath.Join(b.dirs[cgroup1.Pids], rel)
		r.memsw, r.swap0 = g.memoryFiles(filepath.Join(b.dirs[cgroup1.Memory], b.parent, g.name))
	case *v2:
		dir := filepath.Join(v2Mount, b.parent, g.name, name)
		r.v2, r.dirs, r.cpu, r.pids = true, []string{dir}, dir, dir
	default:
		return nil, errors.New("run groups: unknown cgroup backend")
	}
	defer func() {
		if retErr != nil {
			_ = r.Delete()
		}
	}()
	for _, d := range r.dirs {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, fmt.Errorf("create run group: %w", err)
		}
	}
	if err := r.update(l, true); err != nil {
		return nil, err
	}
	return r, nil
}

// memoryFiles reports, read once per group from its v1 memory directory
// dir, whether it has swap accounting (memory.memsw.limit_in_bytes) and
// whether its swappiness, which its new children take, is 0.
func (g *Group) memoryFiles(dir string) (memsw, swap0 bool) {
	g.memOnce.Do(func() {
		_, err := os.Stat(filepath.Join(dir, "memory.memsw.limit_in_bytes"))
		g.memsw = err == nil
		v, err := readUintFile(filepath.Join(dir, "memory.swappiness"))
		g.swap0 = err == nil && v == 0
	})
	return g.memsw, g.swap0
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// write sets one control file of the run group.
func (r *RunGroup) write(dir, file, value string) error {
	if err := os.WriteFile(filepath.Join(dir, file), []byte(value), 0); err != nil {
		return fmt.Errorf("run group %s: %w", file, err)
	}
	return nil
}

// Update sets the group's limits (zero fields: unlimited, the default
// weight).
func (r *RunGroup) Update(l Limits) error { return r.update(l, false) }

// update is Update; fresh: the group was just made, so the files that
// would be set to what a new group has are left alone (each write is a
// file opened, written and closed, ~10 files a run). A new v1 memory
// group takes its parent's swappiness.
func (r *RunGroup) update(l Limits, fresh bool) error {
	if err := l.Validate(); err != nil {
		return err
	}
	set := func(dir, file, value, initial string) error {
		if fresh && value == initial {
			return nil
		}
		return r.write(dir, file, value)
	}
	mem, shares, pids := "-1", uint64(1024), "max"
	if l.MemoryBytes > 0 {
		mem = strconv.FormatInt(l.MemoryBytes, 10)
	}
	if l.CPUShares > 0 {
		shares = l.CPUShares
	}
	if l.Pids > 0 {
		pids = strconv.FormatInt(l.Pids, 10)
	}
	quota := l.quota()
	if r.v2 {
		d := r.dirs[0]
		if mem == "-1" {
			mem = "max"
		}
		cpuMax := "max " + strconv.Itoa(cpuPeriod)
		if quota > 0 {
			cpuMax = fmt.Sprintf("%d %d", quota, cpuPeriod)
		}
		return errors.Join(
			set(d, "memory.max", mem, "max"), r.write(d, "memory.swap.max", "0"),
			set(d, "cpu.weight", strconv.FormatUint(sharesToWeight(shares), 10), "100"),
			set(d, "cpu.max", cpuMax, "max "+strconv.Itoa(cpuPeriod)), set(d, "pids.max", pids, "max"))
	}
	memDir := r.dirs[0]
	var errs []error
	// memory <= memory+swap always: raise memsw first, lower it last.
	if r.memsw {
		errs = append(errs, set(memDir, "memory.memsw.limit_in_bytes", "-1", "-1"))
	}
	errs = append(errs, set(memDir, "memory.limit_in_bytes", mem, "-1"))
	if r.memsw && mem != "-1" {
		errs = append(errs, r.write(memDir, "memory.memsw.limit_in_bytes", mem))
	}
	if !fresh || !r.swap0 {
		errs = append(errs, r.write(memDir, "memory.swappiness", "0"))
	}
	cpuDir := r.dirs[1]
	q := "-1"
	if quota > 0 {
		q = strconv.FormatInt(quota, 10)
	}
	errs = append(errs, set(cpuDir, "cpu.shares", strconv.FormatUint(shares, 10), "1024"),
		set(cpuDir, "cpu.cfs_period_us", strconv.Itoa(cpuPeriod), strconv.Itoa(cpuPeriod)),
		set(cpuDir, "cpu.cfs_quota_us", q, "-1"), set(r.pids, "pids.max", pids, "max"))
	return errors.Join(errs...)
}

// SetCPUShares sets the group's CPU weight alone (v1 cpu.shares; v2
// cpu.weight from it); zero: the default, 1024.
func (r *RunGroup) SetCPUShares(shares uint64) error {
	if shares == 0 {
		shares = 1024
	}
	if err := (Limits{CPUShares: shares}).Validate(); err != nil {
		return err
	}
	if r.v2 {
		return r.write(r.dirs[0], "cpu.weight", strconv.FormatUint(sharesToWeight(shares), 10))
	}
	return r.write(r.dirs[1], "cpu.shares", strconv.FormatUint(shares, 10))
}

// ProcsFiles are the cgroup.procs files a process writes "0" to, to join
// the group (each opened by the server and handed to the run).
func (r *RunGroup) ProcsFiles() []string {
	out := make([]string, len(r.dirs))
	for i, d := range r.dirs {
		out[i] = filepath.Join(d, "cgroup.procs")
	}
	return out
}

// Usage reads what the run consumed.
func (r *RunGroup) Usage() (Usage, error) {
	var u Usage
	if r.v2 {
		d := r.dirs[0]
		peak, err := readUintFile(filepath.Join(d, "memory.peak"))
		if err != nil {
			return u, err
		}
		usec, err := readKeyedFile(filepath.Join(d, "cpu.stat"), "usage_usec")
		if err != nil {
			return u, err
		}
		kills, err := readKeyedFile(filepath.Join(d, "memory.events"), "oom_kill")
		if err != nil {
			return u, err
		}
		u.MemoryPeak, u.CPU, u.OOMKills = peak, time.Duration(usec)*time.Microsecond, kills
		return u, nil
	}
	peak, err := readUintFile(filepath.Join(r.dirs[0], "memory.max_usage_in_bytes"))
	if err != nil {
		return u, err
	}
	cpu, err := readUintFile(filepath.Join(r.cpu, "cpuacct.usage"))
	if err != nil {
		return u, err
	}
	kills, err := readKeyedFile(filepath.Join(r.dirs[0], "memory.oom_control"), "oom_kill")
	if err != nil {
		return u, err
	}
	u.MemoryPeak, u.CPU, u.OOMKills = peak, time.Duration(cpu), kills
	return u, nil
}

// Kill SIGKILLs every task of the run (v2: cgroup.kill).
func (r *RunGroup) Kill() error {
	if r.v2 {
		err := os.WriteFile(filepath.Join(r.dirs[0], "cgroup.kill"), []byte("1"), 0)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
	}
	return killProcs(filepath.Join(r.pids, "cgroup.procs"))
}

// Signal SIGKILLs every task of the run once, without waiting for them to
// leave (Kill waits): v2's cgroup.kill, else each task listed now.
func (r *RunGroup) Signal() error {
	if r.v2 {
		err := os.WriteFile(filepath.Join(r.dirs[0], "cgroup.kill"), []byte("1"), 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	pids, err := readPids(filepath.Join(r.pids, "cgroup.procs"))
	killAll(pids)
	return err
}

// Delete removes the group once its tasks are gone, and kills what is
// left after a short wait. The usual caller is a run's cleanup, just after
// its end: pid 1 on its way out, what was left of the run killed at its
// status line, so the tasks leave within a few milliseconds and the wait
// is all it takes (a refused rmdir is one cheap syscall; reading the task
// list, killing each and retrying at once took ~9% of the server's CPU
// samples under load).
func (r *RunGroup) Delete() error {
	wait := time.Millisecond
	for i := 0; i < deleteTries; i++ {
		busy, err := r.removeDirs()
		if err == nil {
			return nil
		}
		if !busy {
			break
		}
		time.Sleep(wait)
		wait *= 2
	}
	if err := r.Kill(); err != nil {
		return fmt.Errorf("kill run group: %w", err)
	}
	var errs []error
	for _, d := range r.dirs[r.removed:] {
		errs = append(errs, rmdir(d))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove run group %s: %w", strings.TrimPrefix(r.dirs[0], "/sys/fs/cgroup/"), err)
	}
	return nil
}
