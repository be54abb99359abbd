package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"

	"github.com/pyexec/pyexec/jail/jailtest"
)

// TestRemoveParent: the parent group stays, in every hierarchy, while it
// holds a group or a task, and goes from every hierarchy once it is empty.
func TestRemoveParent(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	m := testManager(t)
	dirs := m.b.parentDirs()
	if len(dirs) == 0 {
		t.Fatal("no parent dirs")
	}
	t.Logf("parent dirs: %v", dirs)
	present := func(want bool) {
		t.Helper()
		for _, d := range dirs {
			_, err := os.Stat(d)
			if got := err == nil; got != want {
				t.Errorf("%s exists: %v, want %v (stat: %v)", d, got, want, err)
			}
		}
	}
	present(true)

	g, err := m.Create("child", Limits{Pids: 16})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveParent(); !errors.Is(err, ErrParentInUse) {
		t.Fatalf("RemoveParent with a group below it: %v, want ErrParentInUse", err)
	} else {
		t.Log(err)
	}
	present(true)
	if err := g.Delete(); err != nil {
		t.Fatal(err)
	}

	if m.Mode() != ModeUnified { // a v2 parent with controllers on holds no tasks
		sleep := exec.Command("sleep", "60")
		if err := sleep.Start(); err != nil {
			t.Fatal(err)
		}
		stopped := false
		stop := func() {
			if !stopped {
				stopped = true
				_ = sleep.Process.Kill()
				_ = sleep.Wait()
			}
		}
		t.Cleanup(stop)
		procs := filepath.Join(m.b.(*v1).dirs[cgroup1.Memory], m.parent, "cgroup.procs")
		if err := os.WriteFile(procs, []byte(strconv.Itoa(sleep.Process.Pid)), 0); err != nil {
			t.Fatal(err)
		}
		if err := m.RemoveParent(); !errors.Is(err, ErrParentInUse) {
			t.Fatalf("RemoveParent with a task in it: %v, want ErrParentInUse", err)
		} else {
			t.Log(err)
		}
		present(true)
		stop()
	}

	if err := m.RemoveParent(); err != nil {
		t.Fatalf("RemoveParent of an empty parent: %v", err)
	}
	present(false)
	if err := m.RemoveParent(); err != nil {
		t.Errorf("RemoveParent of a parent already gone: %v", err)
	}
}
