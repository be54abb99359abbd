package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
)

const v2Mount = "/sys/fs/cgroup"

// v2 is the backend for unified (cgroup v2 only) hosts.
type v2 struct {
	parent string
	have   Controllers
}

// ServerLeaf is the group below a v2 parent that holds the processes found
// in the parent itself (a rootless server started in its delegated group,
// and the process that started it): v2 lets a group that enables
// controllers for its children hold no processes of its own. It is never
// swept or counted as a jail's.
const ServerLeaf = "pyexecd"

func newV2(parent string) (*v2, error) {
	dir := filepath.Join(v2Mount, parent)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create parent group: %w", err)
	}
	p, err := cgroup2.Load(parent, cgroup2.WithMountpoint(v2Mount))
	if err != nil {
		return nil, fmt.Errorf("load parent group: %w", err)
	}
	avail, err := p.RootControllers()
	if err != nil {
		return nil, fmt.Errorf("read root controllers: %w", err)
	}
	want := []string{}
	for _, c := range []string{"memory", "cpu", "pids"} {
		if slices.Contains(avail, c) {
			want = append(want, c)
		}
	}
	// The parent's own cgroup.controllers lists what its ancestors already
	// enable for it (root did, for a delegated parent: a rootless server
	// cannot write the ancestors'). Otherwise ToggleControllers enables
	// them in every ancestor, not in the parent itself.
	have, err := readWords(filepath.Join(dir, "cgroup.controllers"))
	if err != nil {
		return nil, fmt.Errorf("read parent controllers: %w", err)
	}
	if !containsAll(have, want) {
		if err := p.ToggleControllers(want, cgroup2.Enable); err != nil {
			return nil, fmt.Errorf("enable controllers %s: %w", strings.Join(want, ","), err)
		}
	}
	if err := moveToLeaf(dir); err != nil {
		return nil, err
	}
	own := filepath.Join(v2Mount, parent, "cgroup.subtree_control")
	if err := os.WriteFile(own, []byte("+"+strings.Join(want, " +")), 0); err != nil {
		return nil, fmt.Errorf("enable controllers %s in %s: %w", strings.Join(want, ","), parent, err)
	}
	b := &v2{parent: parent, have: Controllers{
		Memory: slices.Contains(want, "memory"),
		CPU:    slices.Contains(want, "cpu"),
		Pids:   slices.Contains(want, "pids"),
	}}
	if !b.have.Memory || !b.have.CPU || !b.have.Pids {
		return nil, fmt.Errorf("v2 controllers available %v: memory, cpu and pids are required", avail)
	}
	return b, nil
}

func (b *v2) controllers() Controllers { return b.have }

func (b *v2) path(name string) string { return b.parent + "/" + name }

func (b *v2) resources(l Limits, update bool) *cgroup2.Resources {
	r := &cgroup2.Resources{}
	if l.MemoryBytes > 0 || update {
		limit, swap := l.MemoryBytes, int64(0)
		if limit == 0 {
			limit = -1 // written as "max"
		}
		r.Memory = &cgroup2.Memory{Max: &limit, Swap: &swap}
	}
	if l.CPUShares > 0 || l.CPUs > 0 || update {
		r.CPU = &cgroup2.CPU{}
		if w := sharesToWeight(l.CPUShares); w > 0 {
			r.CPU.Weight = &w
		}
		period := uint64(cpuPeriod)
		if q := l.quota(); q > 0 {
			r.CPU.Max = cgroup2.NewCPUMax(&q, &period)
		} else if update {
			r.CPU.Max = cgroup2.NewCPUMax(nil, &period)
		}
	}
	if l.Pids > 0 {
		r.Pids = &cgroup2.Pids{Max: l.Pids}
	}
	return r
}

// moveToLeaf moves the processes of group dir (the server's own, when it
// was started in it) to its ServerLeaf.
func moveToLeaf(dir string) error {
	pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
	if err != nil || len(pids) == 0 {
		return err
	}
	leaf := filepath.Join(dir, ServerLeaf)
	if err := os.Mkdir(leaf, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("create the server's leaf group: %w", err)
	}
	for _, pid := range pids {
		err := os.WriteFile(filepath.Join(leaf, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
		if err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("move process %d of the parent group to its leaf %s: %w", pid, ServerLeaf, err)
		}
	}
	return nil
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// create makes the group and writes its limits. The parent enables the
// controllers for it (newV2), so no ancestor is written again.
func (b *v2) create(name string, l Limits) error {
	dir := filepath.Join(v2Mount, b.parent, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	m, err := cgroup2.Load(b.path(name), cgroup2.WithMountpoint(v2Mount))
	if err != nil {
		return err
	}
	return m.Update(b.resources(l, false))
}

func (b *v2) update(name string, l Limits) error {
	m, err := cgroup2.Load(b.path(name), cgroup2.WithMountpoint(v2Mount))
	if err != nil {
		return err
	}
	return m.Update(b.resources(l, true))
}

func (b *v2) file(name, file string) string {
	return filepath.Join(v2Mount, b.parent, name, file)
}

func (b *v2) usage(name string) (Usage, error) {
	var u Usage
	peak, err := readUintFile(b.file(name, "memory.peak"))
	if errors.Is(err, os.ErrNotExist) { // kernels before 5.19
		peak, err = readUintFile(b.file(name, "memory.current"))
	}
	if err != nil {
		return u, err
	}
	cpu, err := readKeyedFile(b.file(name, "cpu.stat"), "usage_usec")
	if err != nil {
		return u, err
	}
	kills, err := readKeyedFile(b.file(name, "memory.events"), "oom_kill")
	if err != nil {
		return u, err
	}
	u.MemoryPeak, u.CPU, u.OOMKills = peak, time.Duration(cpu)*time.Microsecond, kills
	return u, nil
}

func (b *v2) kill(name string) error {
	err := os.WriteFile(b.file(name, "cgroup.kill"), []byte("1"), 0)
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(b.file(name, "")); errors.Is(serr, os.ErrNotExist) {
			return nil // the group is gone
		}
		// kernels before 5.14 have no cgroup.kill
	} else if err != nil {
		return err
	}
	return killTree(b.file(name, ""))
}

func (b *v2) remove(name string) error {
	return rmdirTree(filepath.Join(v2Mount, b.parent, name))
}

func (b *v2) parentDirs() []string { return []string{filepath.Join(v2Mount, b.parent)} }

func (b *v2) list() ([]string, error) {
	names, err := subdirs(filepath.Join(v2Mount, b.parent))
	return slices.DeleteFunc(names, func(n string) bool { return n == ServerLeaf }), err
}
