package cgroup

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/pyexec/pyexec/jail/jailtest"
)

func TestParseHierarchies(t *testing.T) {
	const hybrid = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,release_agent=/x,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
50 23 0:32 /docker/abc /run/elsewhere rw - cgroup cgroup rw,memory
51 31 0:32 /sub /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
52 31 0:39 / /sys/fs/cgroup/a\040b rw - cgroup cgroup rw,pids
`
	const unified = `25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
26 20 0:23 / /proc rw - proc proc rw
`
	tests := []struct {
		name, mountinfo string
		want            []Hierarchy
	}{
		{"hybrid", hybrid, []Hierarchy{
			{Dir: "/sys/fs/cgroup/a b", Options: []string{"pids"}},
			{Dir: "/sys/fs/cgroup/cpu,cpuacct", Options: []string{"cpu", "cpuacct"}},
			{Dir: "/sys/fs/cgroup/cpuset", Options: []string{"cpuset"}},
			{Dir: "/sys/fs/cgroup/memory", Options: []string{"memory"}},
			{Dir: "/sys/fs/cgroup/systemd", Options: []string{"name=systemd"}},
			{Dir: "/sys/fs/cgroup/unified", V2: true},
		}},
		{"unified", unified, []Hierarchy{{Dir: "/sys/fs/cgroup", V2: true}}},
		{"none", "26 20 0:23 / /proc rw - proc proc rw\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHierarchies(strings.NewReader(tt.mountinfo))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestDelegatedFiles: only the files that move tasks (and, v2, enable
// controllers below) are handed over, never a limit.
func TestDelegatedFiles(t *testing.T) {
	if got, want := DelegatedFiles(false), []string{"cgroup.procs", "tasks"}; !slices.Equal(got, want) {
		t.Errorf("v1: %v, want %v", got, want)
	}
	if got, want := DelegatedFiles(true), []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}; !slices.Equal(got, want) {
		t.Errorf("v2: %v, want %v", got, want)
	}
}

func TestDelegationMerge(t *testing.T) {
	first := Delegation{Parent: "p", UID: 5, GID: 5, Enabled: []string{"pids"}, Dirs: []DelegatedDir{
		{Dir: "/sys/fs/cgroup/memory/p", Made: true, Owners: []Owner{{Path: "/sys/fs/cgroup/memory/p"}}},
		{Dir: "/sys/fs/cgroup/pids/p", Owners: []Owner{{Path: "/sys/fs/cgroup/pids/p", UID: 7, GID: 7}}},
	}}
	again := Delegation{Parent: "p", UID: 5, GID: 5, Dirs: []DelegatedDir{
		{Dir: "/sys/fs/cgroup/memory/p"},
		{Dir: "/sys/fs/cgroup/pids/p", Owners: []Owner{{Path: "/sys/fs/cgroup/pids/p/tasks"}}},
		{Dir: "/sys/fs/cgroup/cpu/p", Made: true},
	}}
	got := again.Merge(first)
	want := Delegation{Parent: "p", UID: 5, GID: 5, Enabled: []string{"pids"}, Dirs: []DelegatedDir{
		{Dir: "/sys/fs/cgroup/memory/p", Made: true, Owners: []Owner{{Path: "/sys/fs/cgroup/memory/p"}}},
		{Dir: "/sys/fs/cgroup/pids/p", Owners: []Owner{{Path: "/sys/fs/cgroup/pids/p", UID: 7, GID: 7}, {Path: "/sys/fs/cgroup/pids/p/tasks"}}},
		{Dir: "/sys/fs/cgroup/cpu/p", Made: true},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestDelegateRefuses(t *testing.T) {
	hs := []Hierarchy{{Dir: t.TempDir()}}
	for _, parent := range []string{"", "a/b", "..", "process_api", "-x"} {
		if _, err := DelegateIn(hs, parent, 1000, 1000); err == nil {
			t.Errorf("parent %q accepted", parent)
		}
	}
	if _, err := DelegateIn(hs, "p", 0, 0); err == nil {
		t.Error("uid 0 accepted")
	}
}

// The uid the root tests hand the test parent to: nobody.
const delegateTestUID = 65534

// asUser runs sh -c script as delegateTestUID.
func asUser(script string) *exec.Cmd {
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: delegateTestUID, Gid: delegateTestUID}}
	return cmd
}

func ownerOf(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

// TestDelegate hands a parent group to nobody on this host (root only):
// nobody may then make groups below it in every hierarchy, set their
// limits and move its processes into them (v1), but not raise the
// parent's own limits; a second Delegate changes nothing; Undelegate keeps
// the parent while it holds a group and removes it once empty.
func TestDelegate(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	const parent = "pyexec-setup-test"
	hs := hierarchies(t)
	t.Cleanup(func() {
		for _, h := range hs {
			_ = os.Remove(filepath.Join(h.Dir, parent, "child"))
			_ = os.Remove(filepath.Join(h.Dir, parent, ServerLeaf))
			_ = os.Remove(filepath.Join(h.Dir, parent))
		}
	})
	d, err := Delegate(parent, delegateTestUID, delegateTestUID)
	if err != nil {
		t.Fatal(err)
	}
	// One per hierarchy, and in cgroup2 the server's leaf below it.
	var want []string
	for _, h := range hs {
		want = append(want, filepath.Join(h.Dir, parent))
		if h.V2 {
			want = append(want, filepath.Join(h.Dir, parent, ServerLeaf))
		}
	}
	if len(d.Dirs) != len(want) {
		t.Fatalf("delegated %d dirs, want %d: %v", len(d.Dirs), len(want), want)
	}
	for i, dd := range d.Dirs {
		v2 := strings.HasPrefix(dd.Dir, "/sys/fs/cgroup/unified/") || !slices.ContainsFunc(hs, func(h Hierarchy) bool { return !h.V2 })
		if !dd.Made || dd.Dir != want[i] {
			t.Errorf("dir %+v: want %s made", dd, want[i])
		}
		h := Hierarchy{V2: v2}
		for _, f := range append([]string{""}, DelegatedFiles(h.V2)...) {
			if got := ownerOf(t, filepath.Join(dd.Dir, f)); got != delegateTestUID {
				t.Errorf("%s: owner %d, want %d", filepath.Join(dd.Dir, f), got, delegateTestUID)
			}
		}
	}
	for _, limit := range []string{"memory/" + parent + "/memory.limit_in_bytes", "pids/" + parent + "/pids.max"} {
		p := filepath.Join(cgroupRoot, limit)
		if _, err := os.Stat(p); err == nil && ownerOf(t, p) != 0 {
			t.Errorf("%s was chowned", p)
		}
	}
	for _, h := range hs {
		if !h.V2 || h.Dir != cgroupRoot {
			continue
		}
		avail, _ := os.ReadFile(filepath.Join(h.Dir, "cgroup.controllers"))
		on, _ := os.ReadFile(filepath.Join(h.Dir, "cgroup.subtree_control"))
		for _, c := range RootControllers {
			if slices.Contains(strings.Fields(string(avail)), c) && !slices.Contains(strings.Fields(string(on)), c) {
				t.Errorf("v2 root: %s is not enabled for the root's children (%q)", c, on)
			}
		}
		t.Logf("v2 root: Delegate enabled %v; now %q", d.Enabled, strings.TrimSpace(string(on)))
	}
	if b, err := os.ReadFile(filepath.Join(cgroupRoot, "cpuset", parent, "cpuset.cpus")); err == nil && strings.TrimSpace(string(b)) == "" {
		t.Error("the cpuset parent has no cpus")
	}

	// What the user can do with it.
	var script strings.Builder
	for _, dd := range d.Dirs {
		script.WriteString("mkdir " + filepath.Join(dd.Dir, "child") + " || exit 1\n")
	}
	memory := filepath.Join(cgroupRoot, "memory", parent)
	if _, err := os.Stat(memory); err == nil {
		script.WriteString("echo 67108864 > " + memory + "/child/memory.limit_in_bytes || exit 2\n")
		script.WriteString("echo $$ > " + memory + "/child/cgroup.procs || exit 3\n")
		script.WriteString("(echo 1 > " + memory + "/memory.limit_in_bytes) 2>/dev/null && exit 4\n")
	}
	script.WriteString("exit 0\n")
	if out, err := asUser(script.String()).CombinedOutput(); err != nil {
		t.Fatalf("as uid %d: %v\n%s\n%s", delegateTestUID, err, script.String(), out)
	}
	for _, h := range hs {
		if h.V2 && h.Dir != cgroupRoot {
			// Hybrid's cgroup2 mount: v2's rule wants write access to the
			// cgroup.procs of the common ancestor of where a process is and
			// where it goes, here the root: logged, for the record.
			out, err := asUser("/bin/echo $$ > " + filepath.Join(h.Dir, parent, "child", "cgroup.procs")).CombinedOutput()
			t.Logf("uid %d moving itself from the root of %s into %s/child: %v %s", delegateTestUID, h.Dir, parent, err, out)
		}
	}

	again, err := Delegate(parent, delegateTestUID, delegateTestUID)
	if err != nil {
		t.Fatalf("second Delegate: %v", err)
	}
	for _, dd := range again.Dirs {
		if dd.Made || len(dd.Owners) > 0 {
			t.Errorf("second Delegate changed %+v", dd)
		}
	}
	if merged := again.Merge(d); !reflect.DeepEqual(merged, d) {
		t.Errorf("merged record %+v, want the first %+v", merged, d)
	}

	if err := Undelegate(d); !errors.Is(err, ErrParentInUse) {
		t.Fatalf("Undelegate with groups below: %v, want ErrParentInUse", err)
	}
	for _, dd := range d.Dirs {
		if err := rmdir(filepath.Join(dd.Dir, "child")); err != nil {
			t.Fatal(err)
		}
	}
	if err := Undelegate(d); err != nil {
		t.Fatal(err)
	}
	for _, dd := range d.Dirs {
		if _, err := os.Stat(dd.Dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left (%v)", dd.Dir, err)
		}
	}
	if err := Undelegate(d); err != nil {
		t.Errorf("Undelegate again: %v", err)
	}
}

// TestDelegateExisting: a parent root made and nothing uses is handed over
// and given back; one that holds a group (a root-mode server's) is
// refused, and nothing is made in any hierarchy.
func TestDelegateExisting(t *testing.T) {
	jailtest.Require(t, "cgroup tests")
	const parent = "pyexec-setup-test-root"
	hs := hierarchies(t)
	dir := filepath.Join(hs[0].Dir, parent)
	t.Cleanup(func() {
		for _, h := range hs {
			_ = os.Remove(filepath.Join(h.Dir, parent, "busy"))
			_ = os.Remove(filepath.Join(h.Dir, parent))
		}
	})
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d, err := Delegate(parent, delegateTestUID, delegateTestUID)
	if err != nil {
		t.Fatal(err)
	}
	if d.Dirs[0].Made || len(d.Dirs[0].Owners) == 0 || ownerOf(t, dir) != delegateTestUID {
		t.Fatalf("existing dir: %+v, owner %d", d.Dirs[0], ownerOf(t, dir))
	}
	if _, err := Delegate(parent, delegateTestUID-1, delegateTestUID-1); err == nil || !strings.Contains(err.Error(), "delegated to uid "+strconv.Itoa(delegateTestUID)) {
		t.Errorf("a parent delegated to another user: %v", err)
	}
	if err := Undelegate(d); err != nil {
		t.Fatal(err)
	}
	if ownerOf(t, dir) != 0 || ownerOf(t, filepath.Join(dir, "cgroup.procs")) != 0 {
		t.Error("Undelegate did not give the existing dir back to root")
	}
	for _, h := range hs[1:] {
		if _, err := os.Stat(filepath.Join(h.Dir, parent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left", filepath.Join(h.Dir, parent))
		}
	}

	if err := os.Mkdir(filepath.Join(dir, "busy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Delegate(parent, delegateTestUID, delegateTestUID); err == nil || !strings.Contains(err.Error(), "in use by root") {
		t.Fatalf("a parent with a root group below: %v", err)
	}
	for _, h := range hs[1:] {
		if _, err := os.Stat(filepath.Join(h.Dir, parent)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("refused, yet %s was made", filepath.Join(h.Dir, parent))
		}
	}
	if ownerOf(t, dir) != 0 {
		t.Error("refused, yet the dir was chowned")
	}
}

func hierarchies(t *testing.T) []Hierarchy {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hs, err := ParseHierarchies(f)
	if err != nil || len(hs) == 0 {
		t.Fatalf("hierarchies: %v %v", hs, err)
	}
	t.Logf("hierarchies: %+v", hs)
	return hs
}
