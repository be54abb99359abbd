package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"
)

// Sweep removes what a previous server left behind: running or stopped
// containers in the state dir, their cgroups, and mounted work dirs. New
// calls it; it must not run while this Manager has jails running.
func (m *Manager) Sweep() error {
	var errs []error
	if n, err := m.sweepNet(); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		m.log.Info("swept leftover NAT helpers", "count", n)
	}
	containers, err := os.ReadDir(m.runDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read state dir: %w", err)
	}
	for _, e := range containers {
		if err := m.sweepContainer(e.Name()); err != nil {
			errs = append(errs, err)
		}
	}
	if n, err := m.cg.Sweep(nil); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		m.log.Info("swept leftover cgroups", "count", n)
	}
	works, err := os.ReadDir(m.workDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read work dir: %w", err)
	}
	for _, e := range works {
		if err := unmountWork(filepath.Join(m.workDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if len(containers)+len(works) > 0 {
		m.log.Info("swept leftover jails", "containers", len(containers), "work_dirs", len(works))
	}
	return errors.Join(errs...)
}

func (m *Manager) sweepContainer(id string) error {
	c, err := libcontainer.Load(m.runDir, id)
	if err != nil {
		// Not loadable: a half-written state dir. Its cgroup goes with the
		// cgroup sweep.
		return os.RemoveAll(filepath.Join(m.runDir, id))
	}
	_ = c.Signal(unix.SIGKILL)
	if err := c.Destroy(); err != nil {
		// Destroy refuses a container whose init is still dying.
		if g := m.cg; g != nil {
			_, _ = g.Sweep(func(name string) bool { return name != id })
		}
		if err := c.Destroy(); err != nil {
			return fmt.Errorf("destroy leftover container %s: %w", id, err)
		}
	}
	return nil
}
