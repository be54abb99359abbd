package test

// Stopping a server and checking what its jails left behind.

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/pyexec/pyexec/jail/jailtest"
)

// stop terminates the server (SIGTERM, then SIGKILL after stopTimeout),
// checks that it exited 0 and left nothing behind, and removes its state
// dir and cgroup parents. It returns what went wrong; later calls return
// the same.
func (s *Server) stop() []string {
	s.stopOnce.Do(func() {
		if _, ok := s.signal(syscall.SIGTERM, stopTimeout); !ok {
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.problems = append(s.problems, fmt.Sprintf("pyexecd did not exit within %v of SIGTERM; killed", stopTimeout))
		}
		if s.exitErr != nil {
			s.problems = append(s.problems, fmt.Sprintf("pyexecd exited with %v, want status 0", s.exitErr))
		}
		if left := s.waitNoLeftovers(leftoverSettle, true); len(left) > 0 {
			s.problems = append(s.problems, fmt.Sprintf("pyexecd left behind:\n  %s", strings.Join(left, "\n  ")))
		} else if dirs := cgroupParents(s.CgroupParent); s.exitErr == nil && len(dirs) > 0 {
			// A clean stop removes the parent group itself.
			s.problems = append(s.problems, fmt.Sprintf("a clean stop left the cgroup parent:\n  %s", strings.Join(dirs, "\n  ")))
		}
		if err := removeState(s.StateDir, s.CgroupParent); err != nil {
			s.problems = append(s.problems, err.Error())
		}
	})
	return s.problems
}

// waitNoLeftovers polls until the server's traces are gone or d passes and
// returns what is left.
// After the server's exit (all) its zygotes and holders count too.
func (s *Server) waitNoLeftovers(d time.Duration, all bool) []string {
	deadline := time.Now().Add(d)
	for {
		left := s.leftovers()
		if all {
			left = append(left, jailtest.ZygoteTraces(s.StateDir, s.CgroupParent)...)
			for _, p := range jailtest.Procs(s.IDBase, idBaseStride, true) {
				if !slices.Contains(left, "process "+p) {
					left = append(left, "process "+p)
				}
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// leftovers lists the jail traces of the server: cgroups below its parent
// in any hierarchy, container state, work dirs, and processes running as
// its jail's root or sandbox user.
func (s *Server) leftovers() []string {
	out := jailtest.Traces(s.StateDir, s.CgroupParent)
	for _, p := range s.jailProcs() {
		out = append(out, "process "+p)
	}
	return out
}

// jailProcs lists host processes whose real uid is the jail's root or
// sandbox user, as "pid:comm".
func (s *Server) jailProcs() []string { return jailtest.Procs(s.IDBase, idBaseStride, false) }

// jailHolders lists the server's user namespace holders and zygotes (alive
// while it runs) besides its jails' processes.
func (s *Server) jailHolders() []string { return jailtest.Procs(s.IDBase, idBaseStride, true) }

// serverProcs lists every process of the server's id range, holders and
// zygotes included: none may outlive the server.
func (s *Server) serverProcs() []string { return jailtest.Procs(s.IDBase, idBaseStride, true) }

// removeState deletes a stopped server's state dir and its (empty) cgroup
// parents. It refuses to delete a state dir with a mount below it, which
// could reach host files.
func removeState(state, parent string) error {
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(string(mi), "\n") {
		if f := strings.Fields(line); len(f) > 4 && (f[4] == state || strings.HasPrefix(f[4], state+"/")) {
			return fmt.Errorf("not removing %s: %s is still mounted", state, f[4])
		}
	}
	var errs []error
	if err := os.RemoveAll(state); err != nil {
		errs = append(errs, err)
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	dirs = append(dirs, "/sys/fs/cgroup/"+parent)
	for _, d := range dirs {
		if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("rmdir %s: %w", d, err))
		}
	}
	return errors.Join(errs...)
}

// cgroupParents lists the directories of the cgroup parent in every
// hierarchy (v1, hybrid's unified mount, v2) that has it.
func cgroupParents(parent string) []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
	if _, err := os.Stat("/sys/fs/cgroup/" + parent); err == nil {
		dirs = append(dirs, "/sys/fs/cgroup/"+parent)
	}
	return dirs
}
