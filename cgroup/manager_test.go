package cgroup

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/containerd/cgroups/v3/cgroup1"

	"github.com/pyexec/pyexec/jail/jailtest"
)

const testParent = "pyexec-cgroup-test"

// testManager returns a Manager of testParent whose parent group is removed
// when t ends (after t's other cleanups, registered later, have run).
func testManager(t *testing.T) *Manager {
	t.Helper()
	m, err := NewManager(testParent)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.RemoveParent(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// TestUpdate changes a group's limits up and down, as a pooled jail's are
// when it takes a request, and reads them back from the kernel.
func TestUpdate(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	m := testManager(t)
	g, err := m.Create("update", Limits{MemoryBytes: 64 << 20, CPUShares: 1024, Pids: 64})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Delete(); err != nil {
			t.Error(err)
		}
	})
	for _, l := range []Limits{
		{MemoryBytes: 128 << 20, CPUShares: 512, CPUs: 1, Pids: 128},  // raise
		{MemoryBytes: 32 << 20, CPUShares: 2048, CPUs: 0.5, Pids: 16}, // lower
		{MemoryBytes: 1 << 30, CPUShares: 1024, Pids: 64},             // raise again, no quota
	} {
		if err := g.Update(l); err != nil {
			t.Fatalf("Update(%+v): %v", l, err)
		}
		if m.Mode() == ModeUnified {
			continue // the files below are v1's
		}
		read := func(ctrl, file string) string {
			t.Helper()
			v1b := m.b.(*v1)
			got, err := readUintFile(filepath.Join(v1b.dirs[cgroup1.Name(ctrl)], m.parent, g.name, file))
			if err != nil {
				t.Fatal(err)
			}
			return strconv.FormatInt(got, 10)
		}
		if got, want := read("memory", "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10); got != want {
			t.Errorf("memory limit %s, want %s", got, want)
		}
		if got, want := read("pids", "pids.max"), strconv.FormatInt(l.Pids, 10); got != want {
			t.Errorf("pids.max %s, want %s", got, want)
		}
		if got, want := read("cpu", "cpu.shares"), strconv.FormatUint(l.CPUShares, 10); got != want {
			t.Errorf("cpu.shares %s, want %s", got, want)
		}
		wantQuota := "-1"
		if q := l.quota(); q > 0 {
			wantQuota = strconv.FormatInt(q, 10)
		}
		if got := read("cpu", "cpu.cfs_quota_us"); got != wantQuota {
			t.Errorf("cpu.cfs_quota_us %s, want %s", got, wantQuota)
		}
	}
}

func TestOwnGroup(t *testing.T) {
	tests := []struct {
		name, file, want string
		fails            bool
	}{
		{"systemd unit", "0::/system.slice/pyexec.service\n", "system.slice/pyexec.service", false},
		{"in its leaf already", "0::/system.slice/pyexec.service/pyexecd\n", "system.slice/pyexec.service", false},
		{"hybrid lines first", "12:memory:/x\n0::/user.slice/u.scope\n", "user.slice/u.scope", false},
		{"root group", "0::/\n", "", true},
		{"v1 only", "12:memory:/x\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "cgroup")
			if err := os.WriteFile(f, []byte(tt.file), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ownGroup(f)
			if got != tt.want || (err != nil) != tt.fails {
				t.Errorf("ownGroup(%q) = %q, %v; want %q, fails %v", tt.file, got, err, tt.want, tt.fails)
			}
		})
	}
}
