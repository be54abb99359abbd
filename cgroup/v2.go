package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
)

const v2Mount = "/sys/fs/cgroup"

// v2 is the backend for unified (cgroup v2 only) hosts.
type v2 struct {
	parent string
	have   Controllers
}

func newV2(parent string) (*v2, error) {
	p, err := cgroup2.NewManager(v2Mount, parent, &cgroup2.Resources{})
	if err != nil {
		return nil, fmt.Errorf("create parent group: %w", err)
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
	// ToggleControllers enables them in every ancestor of the parent but
	// not in the parent itself, where the jails' groups need them.
	if err := p.ToggleControllers(want, cgroup2.Enable); err != nil {
		return nil, fmt.Errorf("enable controllers %s: %w", strings.Join(want, ","), err)
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

func (b *v2) create(name string, l Limits) error {
	_, err := cgroup2.NewManager(v2Mount, b.path(name), b.resources(l, false))
	return err
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
	return subdirs(filepath.Join(v2Mount, b.parent))
}
