package test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestRootlessOwnGroup: jail.cgroup_parent "self", which the rootless unit
// uses on cgroup v2, where systemd's Delegate=yes hands the service a
// group of its own. On v2 the server, born in such a group (made by root
// and handed to the user as systemd does), moves itself and its launcher
// into the group's leaf "pyexecd", makes its jails' groups beside it, runs
// and limits them, and leaves nothing but the leaf when it stops. Anywhere
// else the server refuses to start with a clear error.
func TestRootlessOwnGroup(t *testing.T) {
	ru := newRootlessUser(t)
	if hostCgroupMode() != "v2" {
		s := &rlServer{Server: &Server{StateDir: ru.StateDir, CgroupParent: ru.Parent, IDBase: ru.SubStart}, u: ru}
		err := s.launch([]string{"PYEXEC_JAIL_CGROUP_PARENT=self"})
		if err == nil {
			s.stop()
			t.Fatalf("a rootless server on a %s host started with jail.cgroup_parent self", hostCgroupMode())
		}
		if !strings.Contains(err.Error(), "needs cgroup v2") {
			t.Errorf("start-up error %q, want one saying that it needs cgroup v2", err)
		}
		return
	}
	unit := fmt.Sprintf("/sys/fs/cgroup/pyexec-unit-%d", os.Getpid())
	if err := os.Mkdir(unit, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range []string{filepath.Join(unit, "pyexecd"), unit} {
			if err := syscall.Rmdir(d); err != nil && !errors.Is(err, syscall.ENOENT) {
				t.Errorf("remove the unit's group: %v", err)
			}
		}
	})
	// What systemd's Delegate=yes hands the user.
	for _, f := range []string{"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
		if err := os.Chown(filepath.Join(unit, f), ru.UID, ru.GID); err != nil {
			t.Fatal(err)
		}
	}
	s := ru.startIn(t, unit, "PYEXEC_JAIL_CGROUP_PARENT=self")
	h := s.health(t)
	if h.Enforced.Cgroup == nil || h.Enforced.Cgroup.Parent != "/"+filepath.Base(unit) {
		t.Errorf("/health cgroup %+v, want parent /%s", h.Enforced.Cgroup, filepath.Base(unit))
	}
	for _, pid := range []int{s.cmd.Process.Pid, s.inner(t)} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if got := strings.TrimSpace(string(b)); got != "0::/"+filepath.Base(unit)+"/pyexecd" {
			t.Errorf("process %d is in %q, want the unit's leaf", pid, got)
		}
	}
	wantRun(t, s.eval(t, api.EvalRequest{Code: "print('alive')"}), "alive\n")
	e := s.eval(t, api.EvalRequest{Code: "x = bytearray(300 << 20)", Config: &api.Config{MemoryMB: ptr(64)}})
	if !e.OOMKilled {
		t.Errorf("a 300 MiB allocation under 64 MiB: %s", describe(e))
	}
	s.mustStop(t)
	entries, _ := os.ReadDir(unit)
	for _, en := range entries {
		if en.IsDir() && en.Name() != "pyexecd" {
			t.Errorf("the stopped server left the group %s/%s", unit, en.Name())
		}
	}
}
