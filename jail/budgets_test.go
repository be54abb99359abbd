package jail_test

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// awaitHoard waits for the jailtest.Hoarder in j (a jail or a run, says
// what) to print what it took (not a fixed time), and checks it took no
// more than its own budgets: user.max_inotify_instances 16, RLIMIT_SIGPENDING 1024.
func awaitHoard(t *testing.T, j *jail.Jail, what string) {
	t.Helper()
	var counts []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if out := j.Output().Stdout; strings.HasSuffix(out, "\n") {
			counts = strings.Fields(out)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(counts) != 3 {
		t.Fatalf("hoarder printed %q (stderr %q)", j.Output().Stdout, j.Output().Stderr)
	}
	fds, _ := strconv.Atoi(counts[0])
	queued, _ := strconv.Atoi(counts[2])
	t.Logf("the hoarding %s got %d inotify instances and queued %d signals", what, fds, queued)
	if fds < 1 || fds > 16 {
		t.Errorf("inotify instances in one %s: %d, want 1..16 (user.max_inotify_instances)", what, fds)
	}
	if queued < 1 || queued > 1024 {
		t.Errorf("queued signals in one %s: %d, want 1..1024 (RLIMIT_SIGPENDING)", what, queued)
	}
}

// TestPerJailBudgets: a jail that hoards the kernel's per-user budgets
// (inotify instances, queued signals) takes them from nobody else: host
// root, the server process and a second jail all still get theirs. Jails
// live in user namespaces owned by unprivileged ids (one per slot), with
// their own rlimits and user-namespace budgets.
func TestPerJailBudgets(t *testing.T) {
	e := testEnv(t)
	spec := e.python(t, "3.12", jailtest.Hoarder)
	spec.Limits.Timeout = 60 * time.Second
	j, err := e.m.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		j.Kill()
		_, _ = j.Wait()
	}()
	awaitHoard(t, j, "jail")

	// The server process (this test binary, host root).
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		t.Errorf("inotify_init1 in the server process while a jail hoards: %v", err)
	} else {
		unix.Close(fd)
	}
	// Another host-root process, signals included.
	out, err := exec.Command(e.interp.Default().Executable, "-c", jailtest.Probe).CombinedOutput()
	if err != nil || string(out) != "inotify ok\nsigqueue ok\n" {
		t.Errorf("host root process while a jail hoards: %v %q", err, out)
	}
	// A second jail at the same time.
	res := run(t, e, e.python(t, "3.12", jailtest.Probe))
	if string(res.Stdout) != "inotify ok\nsigqueue ok\n" {
		t.Errorf("second jail while one hoards: %q %q", res.Stdout, res.Stderr)
	}
}

// TestJailIDs: concurrent jails run as distinct host uids, none of them
// root, in user namespaces that host root does not own.
func TestJailIDs(t *testing.T) {
	e := testEnv(t)
	const code = "import os, time\nprint(open('/proc/self/uid_map').read().split()[:6], flush=True)\ntime.sleep(30)\n"
	var jails []*jail.Jail
	defer func() {
		for _, j := range jails {
			j.Kill()
			_, _ = j.Wait()
		}
	}()
	hostUIDs := map[string]bool{}
	for i := 0; i < 3; i++ {
		spec := e.python(t, "3.12", code)
		j, err := e.m.Start(spec)
		if err != nil {
			t.Fatal(err)
		}
		jails = append(jails, j)
	}
	for _, j := range jails {
		deadline := time.Now().Add(30 * time.Second)
		for !strings.HasSuffix(j.Output().Stdout, "\n") && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		// ['0', root, '1', '1000', sandbox, '1']
		f := strings.Fields(strings.NewReplacer("[", "", "]", "", "'", "", ",", "").Replace(j.Output().Stdout))
		if len(f) != 6 || f[3] != "1000" {
			t.Fatalf("uid_map in a jail: %q", j.Output().Stdout)
		}
		for _, id := range []string{f[1], f[4]} {
			if n, _ := strconv.Atoi(id); n < testIDBase || n >= testIDBase+idRange {
				t.Errorf("jail id maps to host %s, outside the range", id)
			}
		}
		if hostUIDs[f[4]] {
			t.Errorf("two concurrent jails run as host uid %s", f[4])
		}
		hostUIDs[f[4]] = true
	}
	// The owner of every sandbox process's user namespace is unprivileged.
	for _, p := range jailProcsOf(t) {
		owner, err := jailtest.NSOwner(p)
		if err != nil {
			continue // it ended meanwhile
		}
		if owner == 0 {
			t.Errorf("process %s lives in a user namespace owned by host root", p)
		}
	}
}

// jailProcsOf lists the pids of the sandbox processes of the test range.
func jailProcsOf(t *testing.T) []string {
	t.Helper()
	var pids []string
	for _, p := range sandboxProcs(t, testIDBase) {
		pid, _, _ := strings.Cut(p, ":")
		pids = append(pids, pid)
	}
	if len(pids) == 0 {
		t.Fatal("no sandbox processes found")
	}
	return pids
}

// TestZygoteRunBudgets: runs forked from one zygote each have their own
// budgets: one that hoards inotify instances and queued signals leaves a
// sibling run (same zygote, same time) its own.
func TestZygoteRunBudgets(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	j := zstart(t, z, jailtest.Hoarder, jail.Limits{Timeout: 60 * time.Second})
	defer func() {
		j.Kill()
		_, _ = j.Wait()
	}()
	awaitHoard(t, j, "run")
	res := zrun(t, z, jailtest.Probe, jail.Limits{})
	if string(res.Stdout) != "inotify ok\nsigqueue ok\n" {
		t.Errorf("sibling run while one hoards: %q %q", res.Stdout, res.Stderr)
	}
}
