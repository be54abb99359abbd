package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"sync"

	cgroups "github.com/containerd/cgroups/v3"
)

// Mode is the host's cgroup layout.
type Mode int

// The cgroup layouts pyexec supports.
const (
	ModeUnavailable Mode = iota
	ModeLegacy           // cgroup v1 only
	ModeHybrid           // v1 controllers, plus a cgroup2 mount without them
	ModeUnified          // cgroup v2 only
)

func (m Mode) String() string {
	switch m {
	case ModeLegacy:
		return "v1"
	case ModeHybrid:
		return "hybrid"
	case ModeUnified:
		return "v2"
	}
	return "unavailable"
}

// DetectMode reports the host's cgroup layout.
func DetectMode() Mode {
	switch cgroups.Mode() {
	case cgroups.Legacy:
		return ModeLegacy
	case cgroups.Hybrid:
		return ModeHybrid
	case cgroups.Unified:
		return ModeUnified
	}
	return ModeUnavailable
}

// Controllers tells which limits the host can enforce.
type Controllers struct {
	Memory, CPU, Pids bool
}

// backend is one cgroup version's implementation of the tree operations.
// Names are single path elements below the parent group.
type backend interface {
	controllers() Controllers
	create(name string, l Limits) error
	update(name string, l Limits) error
	usage(name string) (Usage, error)
	kill(name string) error
	remove(name string) error
	list() ([]string, error)
	// parentDirs lists the parent group's directory in every hierarchy,
	// each once, whether or not it exists.
	parentDirs() []string
}

// Manager owns the service's parent group and creates per-jail groups
// below it.
type Manager struct {
	mode   Mode
	parent string // absolute cgroup path of the parent group, e.g. "/pyexec"
	own    bool   // the parent is the group the server was started in (SelfParent)
	b      backend
}

// SelfParent, given as the parent, names the cgroup v2 group the server
// itself was started in: the one systemd hands a unit with Delegate=yes.
// The server moves itself into its leaf (ServerLeaf) and makes the jails'
// groups beside it; at the end it leaves the group, which is the unit's.
const SelfParent = "self"

// validName reports whether name may be a group name: one path element of
// letters, digits, '.', '_' and '-', not starting with a punctuation mark.
func validName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && (r == '.' || r == '_' || r == '-'):
		default:
			return false
		}
	}
	return true
}

// NewManager creates (or adopts) the parent group named parent at the root
// of every hierarchy. It fails when the host's cgroups cannot hold limits:
// the caller must then refuse to run jails.
func NewManager(parent string) (*Manager, error) {
	m := &Manager{mode: DetectMode()}
	if parent == SelfParent {
		if m.mode != ModeUnified {
			return nil, fmt.Errorf("cgroup parent %q (the server's own group) needs cgroup v2; this host is %s", parent, m.mode)
		}
		own, err := ownGroup("/proc/self/cgroup")
		if err != nil {
			return nil, fmt.Errorf("cgroup parent %q: %w", parent, err)
		}
		parent, m.own = own, true
	}
	for _, el := range strings.Split(parent, "/") {
		if !validName(el) {
			return nil, fmt.Errorf("cgroup parent %q: want names of letters, digits, '.', '_' or '-' separated by '/'", parent)
		}
	}
	m.parent = "/" + parent
	var err error
	switch m.mode {
	case ModeLegacy, ModeHybrid:
		m.b, err = newV1(m.parent, m.mode == ModeHybrid)
	case ModeUnified:
		m.b, err = newV2(m.parent)
	default:
		return nil, errors.New("no cgroup filesystem is mounted at /sys/fs/cgroup")
	}
	if err != nil {
		return nil, fmt.Errorf("cgroup %s parent %s: %w", m.mode, m.parent, err)
	}
	return m, nil
}

// ownGroup reads the cgroup v2 group of this process from file (its
// /proc/self/cgroup), as a path below the root without the leading slash;
// a process already in its group's ServerLeaf names the group above it.
func ownGroup(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		p, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		if path.Base(p) == ServerLeaf {
			p = path.Dir(p)
		}
		if p = strings.Trim(p, "/"); p == "" {
			return "", errors.New("the server runs in the root group: start it in a group of its own (systemd: Delegate=yes)")
		}
		return p, nil
	}
	return "", fmt.Errorf("%s: no cgroup v2 entry", file)
}

// Mode reports the host's cgroup layout.
func (m *Manager) Mode() Mode { return m.mode }

// Controllers reports which limits are enforced.
func (m *Manager) Controllers() Controllers { return m.b.controllers() }

// Parent is the parent group's absolute cgroup path, e.g. "/pyexec".
func (m *Manager) Parent() string { return m.parent }

// Create makes the group name below the parent with limits l.
func (m *Manager) Create(name string, l Limits) (*Group, error) {
	if !validName(name) {
		return nil, fmt.Errorf("cgroup name %q: invalid", name)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	if err := m.b.create(name, l); err != nil {
		// Undo whatever part of the tree was made before the failure.
		_ = m.b.remove(name)
		return nil, fmt.Errorf("create cgroup %s: %w", name, err)
	}
	return &Group{m: m, name: name}, nil
}

// Sweep kills the tasks of every group below the parent for which keep
// returns false and removes those groups. It is for start-up, to clean
// what a crashed server left. It returns how many groups it removed.
func (m *Manager) Sweep(keep func(name string) bool) (int, error) {
	names, err := m.b.list()
	if err != nil {
		return 0, fmt.Errorf("list cgroups: %w", err)
	}
	var errs []error
	n := 0
	for _, name := range names {
		if keep != nil && keep(name) {
			continue
		}
		g := &Group{m: m, name: name}
		if err := g.Delete(); err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// List returns the names of the groups below the parent.
func (m *Manager) List() ([]string, error) { return m.b.list() }

// Group is one jail's cgroup.
type Group struct {
	m    *Manager
	name string

	memOnce sync.Once // memoryFiles
	memsw   bool
	swap0   bool
}

// Path is the group's absolute cgroup path (the same in every hierarchy),
// the value for libcontainer's Cgroups.Path.
func (g *Group) Path() string { return path.Join(g.m.parent, g.name) }

// Name is the group's name below the parent.
func (g *Group) Name() string { return g.name }

// Update replaces the group's limits.
func (g *Group) Update(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := g.m.b.update(g.name, l); err != nil {
		return fmt.Errorf("update cgroup %s: %w", g.name, err)
	}
	return nil
}

// Usage reads what the group consumed so far. Read it before Delete.
func (g *Group) Usage() (Usage, error) {
	u, err := g.m.b.usage(g.name)
	if err != nil {
		return u, fmt.Errorf("cgroup %s usage: %w", g.name, err)
	}
	return u, nil
}

// Kill sends SIGKILL to every task in the group.
func (g *Group) Kill() error {
	if err := g.m.b.kill(g.name); err != nil {
		return fmt.Errorf("kill cgroup %s: %w", g.name, err)
	}
	return nil
}

// Delete kills what is left in the group and removes it from every
// hierarchy. Deleting a group that is already gone is not an error.
func (g *Group) Delete() error {
	if err := g.m.b.kill(g.name); err != nil {
		return fmt.Errorf("kill cgroup %s: %w", g.name, err)
	}
	if err := g.m.b.remove(g.name); err != nil {
		return fmt.Errorf("remove cgroup %s: %w", g.name, err)
	}
	return nil
}
