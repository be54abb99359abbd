package jail_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// cpuWeightFile finds the file holding run group id's CPU weight (v1
// cpu.shares, v2 cpu.weight) below the tests' cgroup parent.
func cpuWeightFile(t *testing.T, id string) string {
	t.Helper()
	parent := testCgroupParent("pyexec-test")
	for _, pat := range []string{"/sys/fs/cgroup/cpu/" + parent + "/z*/" + id + "/cpu.shares", "/sys/fs/cgroup/" + parent + "/z*/" + id + "/cpu.weight"} {
		if m, _ := filepath.Glob(pat); len(m) == 1 {
			return m[0]
		}
	}
	t.Fatalf("no CPU weight file for run group %s", id)
	return ""
}

func readInt(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// prepared is jail.Config.ZygotePrepared's default, the tests' Manager's.
const prepared = 1

// TestZygotePrepared: a zygote keeps its prepared runs (named so, at the
// lowest CPU weight until their request); a request takes one and gets
// its own limits (weight, memory), one of another disk size forks its own
// and the next prepared ones take that size; closing the zygote leaves
// no prepared process behind.
func TestZygotePrepared(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12") // its cleanup closes it again: a no-op
	waitPrepared := func(n int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for z.Prepared() != n || len(preparedProcs()) != 2*n {
			if time.Now().After(deadline) {
				t.Fatalf("prepared runs: %d, processes %v; want %d runs", z.Prepared(), preparedProcs(), n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitPrepared(prepared)
	parent := testCgroupParent("pyexec-test")
	weights, _ := filepath.Glob("/sys/fs/cgroup/cpu/" + parent + "/z*/j*/cpu.shares")
	v2, _ := filepath.Glob("/sys/fs/cgroup/" + parent + "/z*/j*/cpu.weight")
	if len(weights)+len(v2) != prepared {
		t.Fatalf("prepared run groups: %v %v, want %d", weights, v2, prepared)
	}
	for _, f := range append(weights, v2...) {
		if w := readInt(t, f); w > 2 { // v1 cpu.shares 2, v2 cpu.weight 1
			t.Errorf("a prepared run works at CPU weight %d (%s)", w, f)
		}
	}

	start := func(code string, l jail.Limits) *jail.Jail {
		t.Helper()
		j, err := z.Start(jail.Activation{
			Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
			Limits:  l,
			Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		return j
	}
	// A request with its own weight and memory limit: the prepared run's
	// group takes them before the code runs.
	j := start("import time, sys\nprint('up', flush=True)\nsys.stdin.read()\nx = bytearray(200 << 20)\n",
		jail.Limits{Limits: cgroup.Limits{CPUShares: 512, MemoryBytes: 64 << 20}})
	for !strings.HasSuffix(j.Output().Stdout, "\n") {
		time.Sleep(5 * time.Millisecond)
	}
	if w := readInt(t, cpuWeightFile(t, j.ID())); w != 512 && w != 20 { // v2: weight of 512 shares
		t.Errorf("the run's CPU weight is %d, want 512 shares", w)
	}
	res, err := j.Wait()
	if err != nil || !res.OOMKilled {
		t.Errorf("the run did not hit its 64 MiB limit: err %v %+v", err, res)
	}
	waitPrepared(prepared)
	// Another disk size: served (a fork of its own), and the prepared
	// runs take the new size.
	res = zrun(t, z, "import os\nst = os.statvfs('/work')\nprint(st.f_blocks * st.f_frsize)", jail.Limits{DiskBytes: 8 << 20})
	if got := strings.TrimSpace(string(res.Stdout)); got != "8388608" {
		t.Errorf("/work size %q, want 8 MiB", got)
	}
	waitPrepared(prepared)
	res = zrun(t, z, "import os\nst = os.statvfs('/tmp')\nprint(st.f_blocks * st.f_frsize)", jail.Limits{DiskBytes: 8 << 20})
	if got := strings.TrimSpace(string(res.Stdout)); got != "8388608" {
		t.Errorf("/tmp size %q, want 8 MiB", got)
	}
	z.Close(5 * time.Second)
	if left := jailtest.WaitEmpty(preparedProcs, 10*time.Second); len(left) > 0 {
		t.Errorf("prepared processes outlive their zygote: %v", left)
	}
}

// preparedProcs lists the prepared-run processes (jail.PreparedComm) in
// the tests' cgroups (not other servers' on the host).
func preparedProcs() []string {
	var out []string
	mine := "/" + testCgroupParent("pyexec-test") + "/"
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		c, err := os.ReadFile("/proc/" + e.Name() + "/comm")
		if err != nil || strings.TrimSpace(string(c)) != jail.PreparedComm {
			continue
		}
		if cg, err := os.ReadFile("/proc/" + e.Name() + "/cgroup"); err == nil && strings.Contains(string(cg), mine) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestZygoteManyDirs: a zygote run places a tree of more directories than
// its descriptor limit (150 chains 63 deep: 9450 directories).
func TestZygoteManyDirs(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	files := []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte("import os\nprint(sum(len(fs) for _, _, fs in os.walk('/work')) - 1)\n")}}
	for c := range 150 {
		p := fmt.Sprintf("c%d", c) + strings.Repeat("/d", 62)
		files = append(files, jail.File{Path: p + "/f.txt", Mode: 0o644, Data: []byte("x")})
	}
	j, err := z.Start(jail.Activation{
		Files:   files,
		Limits:  jail.Limits{Timeout: time.Minute},
		Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := j.Wait()
	if err != nil || res.ExitCode != 0 || strings.TrimSpace(string(res.Stdout)) != "150" {
		t.Fatalf("err %v exit %d stdout %q stderr %q", err, res.ExitCode, res.Stdout, res.Stderr)
	}
}
