package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pyexec/pyexec/jail"
)

// The sub-id range setup gives a user that has none: 65536 ids (what
// useradd gives, enough for the jails' two ids each), at the first
// 65536-aligned start at or above 1<<20, clear of useradd's ranges (from
// 100000 up) and of the root-mode jails' default 200000.
const (
	subIDCount = 65536
	subIDMin   = 1 << 20
	subIDAlign = 65536
	subIDLimit = 1<<32 - 1 // uid_t's -1 is no id
)

// idSpan is count ids from start.
type idSpan struct{ start, count int }

func (a idSpan) overlaps(b idSpan) bool {
	return a.start < b.start+b.count && b.start < a.start+a.count
}

func spansOf(ranges []jail.SubIDRange) []idSpan {
	out := make([]idSpan, 0, len(ranges))
	for _, r := range ranges {
		out = append(out, idSpan{r.Start, r.Count})
	}
	return out
}

func overlapsAny(s idSpan, taken []idSpan) bool {
	for _, t := range taken {
		if s.overlaps(t) {
			return true
		}
	}
	return false
}

// freeSubIDStart returns the lowest start at or above subIDMin, a multiple
// of subIDAlign, whose subIDCount ids overlap none of taken.
func freeSubIDStart(taken []idSpan) (int, error) {
	for start := subIDMin; start+subIDCount <= subIDLimit; start += subIDAlign {
		if !overlapsAny(idSpan{start, subIDCount}, taken) {
			return start, nil
		}
	}
	return 0, errors.New("no free sub-id range left")
}

// subIDPlan decides the lines to add to /etc/subuid and /etc/subgid
// (uids, gids: their ranges) for the user name (uid) so that it has a
// range in both; "" means the file needs none. A new range overlaps no
// range of either file nor reserved (the root-mode jails' ids), and takes
// the same start in both files when it can.
func subIDPlan(uids, gids []jail.SubIDRange, name string, uid int, reserved []idSpan) (uidLine, gidLine string, err error) {
	ru, hasU := jail.SubIDsOf(uids, name, uid)
	rg, hasG := jail.SubIDsOf(gids, name, uid)
	line := func(start int) string { return fmt.Sprintf("%s:%d:%d", name, start, subIDCount) }
	fits := func(start int, file []jail.SubIDRange) bool {
		return !overlapsAny(idSpan{start, subIDCount}, append(spansOf(file), reserved...))
	}
	switch {
	case hasU && hasG:
		return "", "", nil
	case hasU && fits(ru.Start, gids):
		return "", line(ru.Start), nil
	case hasG && fits(rg.Start, uids):
		return line(rg.Start), "", nil
	}
	start, err := freeSubIDStart(append(append(spansOf(uids), spansOf(gids)...), reserved...))
	if err != nil {
		return "", "", err
	}
	if !hasU {
		uidLine = line(start)
	}
	if !hasG {
		gidLine = line(start)
	}
	return uidLine, gidLine, nil
}

// readSubIDFile parses a sub-id file; a missing one has no ranges.
func readSubIDFile(path string) ([]jail.SubIDRange, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ranges, err := jail.ParseSubIDs(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ranges, nil
}

// withSubIDLines edits the contents of a sub-id file: the first line equal
// to remove dropped (when not empty), the line add appended (when not
// empty). Other lines, comments and blank ones too, stay as they are.
func withSubIDLines(content []byte, add, remove string) []byte {
	var lines []string
	if len(content) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(content), "\n"), "\n")
	}
	if remove != "" {
		if i := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == remove }); i >= 0 {
			lines = slices.Delete(lines, i, i+1)
		}
	}
	if add != "" {
		lines = append(lines, add)
	}
	if len(lines) == 0 {
		return []byte{}
	}
	return []byte(strings.Join(lines, "\n") + "\n")
}

// editSubIDFile adds or removes one line of a sub-id file under the lock
// shadow's tools take (<file>.lock), and replaces the file atomically with
// its mode kept (0644 for a new one). It reports whether it created the
// file; with dropEmpty, a file left empty is removed (useradd gives every
// new user a range once /etc/subuid exists, so an empty one is not
// nothing).
func editSubIDFile(path, add, remove string, dropEmpty bool) (created bool, err error) {
	unlock, err := lockShadowFile(path)
	if err != nil {
		return false, err
	}
	defer unlock()
	old, err := os.ReadFile(path)
	mode := os.FileMode(0o644)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if add == "" {
			return false, nil
		}
		created = true
	case err != nil:
		return false, err
	default:
		if fi, err := os.Stat(path); err == nil {
			mode = fi.Mode().Perm()
		}
	}
	if _, err := jail.ParseSubIDs(bytes.NewReader(old)); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	next := withSubIDLines(old, add, remove)
	switch {
	case len(next) == 0 && dropEmpty && !created:
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("remove %s: %w", path, err)
		}
		return false, nil
	case bytes.Equal(next, old) && !created:
		return false, nil
	}
	return created, writeAtomic(path, next, mode)
}

// lockShadowFile takes <path>.lock the way shadow's useradd and usermod
// do (a file holding the owner's pid, made exclusively), waiting up to 15
// seconds for a live owner and taking over from a dead one.
func lockShadowFile(path string) (func(), error) {
	lock := path + ".lock"
	deadline := time.Now().Add(15 * time.Second)
	for {
		f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			_, werr := f.WriteString(strconv.Itoa(os.Getpid()))
			if err := errors.Join(werr, f.Close()); err != nil {
				_ = os.Remove(lock)
				return nil, fmt.Errorf("lock %s: %w", path, err)
			}
			return func() { _ = os.Remove(lock) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		b, _ := os.ReadFile(lock)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 &&
			errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			_ = os.Remove(lock) // its owner is gone
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("lock %s: %s is held", path, lock)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// writeAtomic replaces path with data: a temp file in the same directory,
// synced, renamed over it.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := fmt.Sprintf("%s.pyexec-%d", path, os.Getpid())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(data)
	err = errors.Join(err, f.Chmod(mode), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
