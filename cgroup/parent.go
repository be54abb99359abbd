package cgroup

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// ErrParentInUse is returned by RemoveParent when the parent group still
// holds groups or tasks in some hierarchy.
var ErrParentInUse = errors.New("still in use")

// RemoveParent removes the parent group from every hierarchy, or from none
// when it still holds groups or tasks in any of them (jails not yet
// removed, or another server using the same parent): the error then wraps
// ErrParentInUse and names what holds it. A parent already gone is not an
// error, and neither is one the server may not remove (a parent delegated
// to it, running rootless, is the administrator's to remove): it stays. It
// is for the end of a clean stop, once every jail is gone; the Manager must
// not be used afterwards.
func (m *Manager) RemoveParent() error {
	if m.own {
		return nil // the unit's group, with this process in its leaf
	}
	dirs := m.b.parentDirs()
	var busy []string
	for _, dir := range dirs {
		held, err := holds(dir)
		if err != nil {
			return fmt.Errorf("remove cgroup parent %s: %w", m.parent, err)
		}
		if held != "" {
			busy = append(busy, dir+": "+held)
		}
	}
	if len(busy) > 0 {
		return fmt.Errorf("cgroup parent %s kept: %w (%s)", m.parent, ErrParentInUse, strings.Join(busy, "; "))
	}
	var errs []error
	for _, dir := range dirs {
		// A group removed a moment ago can still count for the kernel:
		// rmdir retries while it answers EBUSY.
		if err := rmdir(dir); err != nil && !errors.Is(err, fs.ErrPermission) {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove cgroup parent %s: %w", m.parent, err)
	}
	return nil
}

// holds says what the cgroup dir holds, as "2 groups, 1 tasks", or ""
// when it holds nothing or does not exist.
func holds(dir string) (string, error) {
	children, err := subdirs(dir)
	if err != nil {
		return "", err
	}
	pids, err := readPids(filepath.Join(dir, "cgroup.procs"))
	if errors.Is(err, os.ErrNotExist) {
		if _, serr := os.Stat(dir); errors.Is(serr, os.ErrNotExist) {
			return "", nil
		}
	}
	if err != nil {
		return "", err
	}
	if len(children) == 0 && len(pids) == 0 {
		return "", nil
	}
	return fmt.Sprintf("%d groups, %d tasks", len(children), len(pids)), nil
}
