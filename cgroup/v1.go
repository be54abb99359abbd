package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// unifiedMount is where hybrid hosts mount cgroup2 (without controllers).
// libcontainer joins jails there too, so the groups it makes are removed.
const unifiedMount = "/sys/fs/cgroup/unified"

// v1 is the backend for cgroup v1 and hybrid hosts.
type v1 struct {
	parent     string
	subsystems []cgroup1.Subsystem
	dirs       map[cgroup1.Name]string // subsystem -> mount dir of its root
	hybrid     bool
	memsw      bool // memory.memsw.* exists: swap can be capped
}

func newV1(parent string, hybrid bool) (*v1, error) {
	subs, err := cgroup1.Default()
	if err != nil {
		return nil, fmt.Errorf("find v1 hierarchies: %w", err)
	}
	b := &v1{parent: parent, subsystems: subs, dirs: map[cgroup1.Name]string{}, hybrid: hybrid}
	for _, s := range subs {
		if p, ok := s.(interface{ Path(string) string }); ok {
			b.dirs[s.Name()] = p.Path("/")
		}
	}
	b.addDevices()
	for _, need := range []cgroup1.Name{cgroup1.Memory, cgroup1.Cpu, cgroup1.Cpuacct, cgroup1.Pids} {
		if _, ok := b.dirs[need]; !ok {
			return nil, fmt.Errorf("v1 controller %s is not mounted", need)
		}
	}
	_, err = os.Stat(filepath.Join(b.dirs[cgroup1.Memory], "memory.memsw.limit_in_bytes"))
	b.memsw = err == nil
	if _, err := cgroup1.New(cgroup1.StaticPath(parent), &specs.LinuxResources{}, b.hierarchy()); err != nil {
		return nil, fmt.Errorf("create parent group: %w", err)
	}
	if hybrid {
		if err := os.Mkdir(filepath.Join(unifiedMount, parent), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create parent group in %s: %w", unifiedMount, err)
		}
	}
	return b, nil
}

// addDevices adds the devices hierarchy when containerd/cgroups left it
// out: it does inside a user namespace (a rootless server), where device
// rules cannot be written, but libcontainer still makes a devices group
// for each jail, and one that is not listed here is never removed.
func (b *v1) addDevices() {
	mem, ok := b.dirs[cgroup1.Memory]
	if _, have := b.dirs[cgroup1.Devices]; have || !ok {
		return
	}
	d := cgroup1.NewDevices(filepath.Dir(mem))
	if _, err := os.Lstat(d.Path("/")); err == nil {
		b.subsystems = append(b.subsystems, d)
		b.dirs[cgroup1.Devices] = d.Path("/")
	}
}

// hierarchy hands containerd/cgroups the subsystems found at start-up so
// that it does not parse mountinfo again for every jail.
func (b *v1) hierarchy() cgroup1.InitOpts {
	return cgroup1.WithHierarchy(func() ([]cgroup1.Subsystem, error) { return b.subsystems, nil })
}

func (b *v1) controllers() Controllers {
	return Controllers{Memory: true, CPU: true, Pids: true} // checked in newV1
}

func (b *v1) path(name string) string { return b.parent + "/" + name }

func (b *v1) resources(l Limits, update bool) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.MemoryBytes > 0 || update {
		limit := l.MemoryBytes
		if limit == 0 {
			limit = -1
		}
		swappiness := uint64(0)
		r.Memory = &specs.LinuxMemory{Limit: &limit, Swappiness: &swappiness}
		if b.memsw {
			r.Memory.Swap = &limit // memory+swap == memory: no swap
		}
	}
	if l.CPUShares > 0 || l.CPUs > 0 || update {
		r.CPU = &specs.LinuxCPU{}
		if l.CPUShares > 0 {
			r.CPU.Shares = &l.CPUShares
		}
		quota, period := l.quota(), uint64(cpuPeriod)
		if quota == 0 {
			quota = -1
		}
		if quota > 0 || update {
			r.CPU.Quota, r.CPU.Period = &quota, &period
		}
	}
	if l.Pids > 0 {
		r.Pids = &specs.LinuxPids{Limit: &l.Pids}
	}
	return r
}

func (b *v1) create(name string, l Limits) error {
	_, err := cgroup1.New(cgroup1.StaticPath(b.path(name)), b.resources(l, false), b.hierarchy())
	return err
}

func (b *v1) update(name string, l Limits) error {
	cg, err := cgroup1.Load(cgroup1.StaticPath(b.path(name)), b.hierarchy())
	if err != nil {
		return err
	}
	if b.memsw {
		// The kernel keeps memory <= memory+swap, so a raise must write
		// memsw first. containerd/cgroups (v3.1.3) means to, but swaps the
		// wrong pair of settings and writes the memory limit first: EINVAL.
		if err := b.raiseMemsw(name, l.MemoryBytes); err != nil {
			return err
		}
	}
	return cg.Update(b.resources(l, true))
}

// raiseMemsw writes memory.memsw.limit_in_bytes ahead of a memory limit
// that is higher than the current one (limit 0 means unlimited).
func (b *v1) raiseMemsw(name string, limit int64) error {
	current, err := readUintFile(b.file(cgroup1.Memory, name, "memory.limit_in_bytes"))
	if err != nil {
		return err
	}
	if limit > 0 && limit <= current {
		return nil
	}
	value := "-1"
	if limit > 0 {
		value = strconv.FormatInt(limit, 10)
	}
	return os.WriteFile(b.file(cgroup1.Memory, name, "memory.memsw.limit_in_bytes"), []byte(value), 0)
}

func (b *v1) file(sub cgroup1.Name, name, file string) string {
	return filepath.Join(b.dirs[sub], b.parent, name, file)
}

func (b *v1) usage(name string) (Usage, error) {
	var u Usage
	peak, err := readUintFile(b.file(cgroup1.Memory, name, "memory.max_usage_in_bytes"))
	if err != nil {
		return u, err
	}
	cpu, err := readUintFile(b.file(cgroup1.Cpuacct, name, "cpuacct.usage"))
	if err != nil {
		return u, err
	}
	kills, err := readKeyedFile(b.file(cgroup1.Memory, name, "memory.oom_control"), "oom_kill")
	if err != nil {
		return u, err
	}
	u.MemoryPeak, u.CPU, u.OOMKills = peak, time.Duration(cpu), kills
	return u, nil
}

func (b *v1) kill(name string) error {
	// The pids hierarchy holds every task of the jail (in its group and
	// the groups below); v1 has no cgroup.kill.
	return killTree(b.file(cgroup1.Pids, name, ""))
}

func (b *v1) remove(name string) error {
	var errs []error
	for _, dir := range b.dirs {
		errs = append(errs, rmdirTree(filepath.Join(dir, b.parent, name)))
	}
	if b.hybrid {
		errs = append(errs, rmdirTree(filepath.Join(unifiedMount, b.parent, name)))
	}
	return errors.Join(errs...)
}

func (b *v1) parentDirs() []string {
	var dirs []string
	for _, d := range b.dirs {
		dir := filepath.Join(d, b.parent)
		if !slices.Contains(dirs, dir) { // co-mounted controllers share one
			dirs = append(dirs, dir)
		}
	}
	if b.hybrid {
		dirs = append(dirs, filepath.Join(unifiedMount, b.parent))
	}
	slices.Sort(dirs)
	return dirs
}

func (b *v1) list() ([]string, error) {
	seen := map[string]bool{}
	dirs := []string{}
	for _, d := range b.dirs {
		dirs = append(dirs, filepath.Join(d, b.parent))
	}
	if b.hybrid {
		dirs = append(dirs, filepath.Join(unifiedMount, b.parent))
	}
	var names []string
	for _, d := range dirs {
		sub, err := subdirs(d)
		if err != nil {
			return nil, err
		}
		for _, n := range sub {
			if !seen[n] && n != ServerLeaf { // hybrid's cgroup2: the server's own
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	return names, nil
}
