package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A NAT helper's record (state dir net/<jail id>) is "pid starttime": the
// start time tells the helper from a later process that got its pid.

func writeNetRecord(path string, pid int) error {
	start, err := procStartTime(pid)
	if err != nil {
		return fmt.Errorf("NAT helper record: %w", err)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d %d\n", pid, start)), 0o600); err != nil {
		return fmt.Errorf("NAT helper record: %w", err)
	}
	return nil
}

// procStartTime is field 22 of /proc/<pid>/stat (clock ticks since boot).
func procStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it do not.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command field", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22: the 20th after ')'
}

// sweepNet kills the NAT helpers a previous server left (their parent-death
// signal normally does it) and removes their records.
func (m *Manager) sweepNet() (int, error) {
	entries, err := os.ReadDir(m.netDir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read NAT helper records: %w", err)
	}
	var errs []error
	killed := 0
	for _, e := range entries {
		path := filepath.Join(m.netDir, e.Name())
		b, err := os.ReadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var pid int
		var start uint64
		if _, err := fmt.Sscan(string(b), &pid, &start); err == nil && pid > 0 {
			if now, err := procStartTime(pid); err == nil && now == start {
				_ = unix.Kill(pid, unix.SIGKILL)
				killed++
				waitGone(pid, start)
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return killed, errors.Join(errs...)
}

// waitGone waits a little for a killed process that is not our child to
// go (its parent, init, reaps it).
func waitGone(pid int, start uint64) {
	for range 200 {
		if now, err := procStartTime(pid); err != nil || now != start || zombie(pid) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// zombie reports whether pid has exited and waits for its parent.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && strings.HasPrefix(s[i+1:], " Z")
}
