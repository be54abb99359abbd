package jail_test

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// traces lists what jails left under state and parent.
func traces(t *testing.T, state, parent string) []string {
	t.Helper()
	return jailtest.Traces(state, parent)
}

// sandboxProcs lists host processes running as a jail's root or sandbox
// user of the id range that starts at base.
func sandboxProcs(t *testing.T, base int) []string {
	t.Helper()
	return jailtest.Procs(base, idRange, false)
}

// mountTable returns the host's mounts under dir (other test packages'
// servers may be mounting their own work dirs meanwhile).
func mountTable(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) > 4 && strings.HasPrefix(f[4], dir) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

func TestNoLeftovers(t *testing.T) {
	e := testEnv(t)
	jailtest.NeedDefaultRoute(t)
	// An earlier test's jails may still be being removed (off the request's
	// clock; slow on a slow host): the baseline is taken once they are.
	e.m.Quiesce()
	before := mountTable(t, e.state)
	kinds := []struct {
		name string
		code string
		mod  func(*jail.Spec)
		ctx  time.Duration
	}{
		{"ok", "print('ok')", nil, 0},
		{"error", "raise ValueError('x')", nil, 0},
		{"children", "import subprocess\nsubprocess.Popen(['/bin/sleep', '100'])\nprint('left a child')", nil, 0},
		{"timeout", "import time\ntime.sleep(100)", func(s *jail.Spec) { s.Limits.Timeout = 300 * time.Millisecond }, 0},
		{"oom", "x = bytearray(200 << 20)", func(s *jail.Spec) { s.Limits.MemoryBytes = 32 << 20 }, 0},
		{"kill", "import time\ntime.sleep(100)", nil, 200 * time.Millisecond},
		{"fork", "import os, time\nfor _ in range(10):\n    os.fork() or time.sleep(100)\n", func(s *jail.Spec) { s.Limits.Pids = 16; s.Limits.Timeout = time.Second }, 0},
		// A NAT helper (a process of the jail's ids) each, ended every way.
		{"network", "print('net')", func(s *jail.Spec) { s.Network = true }, 0},
		{"network_timeout", "import time\ntime.sleep(100)", func(s *jail.Spec) { s.Network = true; s.Limits.Timeout = 300 * time.Millisecond }, 0},
		{"network_kill", "import time\ntime.sleep(100)", func(s *jail.Spec) { s.Network = true }, 200 * time.Millisecond},
	}
	const runs = 200
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	sem := make(chan struct{}, 4)
	for i := 0; i < runs; i++ {
		k := kinds[i%len(kinds)]
		spec := e.python(t, "3.12", k.code)
		if k.mod != nil {
			k.mod(&spec)
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx := context.Background()
			if k.ctx > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, k.ctx)
				defer cancel()
			}
			res, err := e.m.Run(ctx, spec)
			switch {
			case err != nil:
				errs <- fmt.Errorf("%s: %w", k.name, err)
			case k.name == "oom" && !res.OOMKilled, strings.HasSuffix(k.name, "timeout") && !res.TimedOut, strings.HasSuffix(k.name, "kill") && !res.Killed:
				errs <- fmt.Errorf("%s: verdict %+v", k.name, res)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	e.m.Quiesce()
	if left := traces(t, e.state, testCgroupParent("pyexec-test")); len(left) > 0 {
		t.Errorf("after %d runs, left: %v", runs, left)
	}
	if procs := sandboxProcs(t, testIDBase); len(procs) > 0 {
		t.Errorf("after %d runs, sandbox processes alive: %v", runs, procs)
	}
	if e.m.Running() != 0 {
		t.Errorf("manager still tracks %d jails", e.m.Running())
	}
	if after := mountTable(t, e.state); after != before {
		t.Errorf("mount table changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

const (
	crashChildEnv = "PYEXEC_TEST_CRASH_CHILD"
	// How long the crash child's jails may take to come up, and the
	// SIGKILLed child's jails to die: bounds against a hang, generous for
	// slow hosts (the emulated cgroup v2 guest of CI), not speed goals.
	crashStartTimeout = 60 * time.Second
	crashDeathTimeout = 30 * time.Second
)

func crashState() string  { return testStateDir("pyexec-crash-test") }
func crashCgroup() string { return testCgroupParent("pyexec-crash-test") }

// crashChild runs in a child process: it starts jails that sleep, says
// "ready", and waits to be SIGKILLed.
func crashChild() {
	fail := func(err error) { fmt.Println("error:", err); os.Exit(1) }
	set, err := interpreters.Discover(context.Background(), interpreters.Options{Paths: relocated, BaseMounts: jail.DefaultBaseMounts(), Env: os.Environ()})
	if err != nil {
		fail(err)
	}
	in := set.Default()
	cg, err := cgroup.NewManager(crashCgroup())
	if err != nil {
		fail(err)
	}
	m, err := jail.New(jail.Config{StateDir: crashState(), HostIDBase: crashIDBase, HostIDCount: idCount(), Mounts: in.Mounts,
		Files: map[string][]byte{interpreters.BootstrapPath: interpreters.Bootstrap}}, cg)
	if err != nil {
		fail(err)
	}
	var jails []*jail.Jail
	for i := 0; i < 3; i++ {
		j, err := m.Start(jail.Spec{
			Args:   in.Command(interpreters.Run{Entrypoint: "main.py"}),
			Mounts: in.Mounts, Env: []string{"PATH=/usr/bin"},
			Files:  []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte("import subprocess, time\nsubprocess.Popen(['/bin/sleep', '1000'])\nprint('up', flush=True)\ntime.sleep(1000)")}},
			Limits: jail.Limits{Timeout: time.Hour},
			Report: true, Status: true,
			// One with a NAT helper: it must die with the server too.
			Network: i == 2,
		})
		if err != nil {
			fail(err)
		}
		jails = append(jails, j)
	}
	// Each jail prints "up" once its child runs: however slow the host,
	// every jail then has two processes.
	deadline := time.Now().Add(crashStartTimeout)
	for _, j := range jails {
		for j.Output().Stdout != "up\n" {
			if time.Now().After(deadline) {
				fail(fmt.Errorf("jail %s not up after %v: %+v", j.ID(), crashStartTimeout, j.Output()))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	fmt.Println("ready")
	select {}
}

func TestSweepAfterCrash(t *testing.T) {
	testEnv(t)
	jailtest.NeedDefaultRoute(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		t.Fatalf("child: %q", line)
	}
	if procs := sandboxProcs(t, crashIDBase); len(procs) < 6 {
		t.Errorf("before the crash: sandbox processes %v, want >= 6 (3 jails with a child each)", procs)
	} else if !slices.ContainsFunc(procs, jailtest.IsNATHelper) {
		t.Errorf("before the crash: no NAT helper among %v (the third jail has network)", procs)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// The jails die with the server (the bootstrap's parent-death signal).
	deadline := time.Now().Add(crashDeathTimeout)
	// So do the user namespace holders.
	for len(jailtest.Procs(crashIDBase, idRange, true)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if procs := jailtest.Procs(crashIDBase, idRange, true); len(procs) > 0 {
		t.Errorf("jail processes survived the server's SIGKILL: %v", procs)
	}
	if left := traces(t, crashState(), crashCgroup()); len(left) == 0 {
		t.Fatal("the crashed server left nothing behind: the test proves nothing")
	} else {
		t.Logf("left by the crash: %d entries", len(left))
	}
	cg, err := cgroup.NewManager(crashCgroup())
	if err != nil {
		t.Fatal(err)
	}
	m, err := jail.New(jail.Config{StateDir: crashState(), HostIDBase: crashIDBase, HostIDCount: idCount(),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}, cg)
	if err != nil {
		t.Fatalf("new manager after crash: %v", err)
	}
	m.Close()
	if left := traces(t, crashState(), crashCgroup()); len(left) > 0 {
		t.Errorf("after the start-up sweep, left: %v", left)
	}
	if err := cg.RemoveParent(); err != nil {
		t.Error(err)
	}
}

func TestJailsCannotSeeEachOther(t *testing.T) {
	e := testEnv(t)
	a := e.python(t, "3.12", "import time\nopen('/work/secret-a', 'w').write('a')\nopen('/tmp/secret-a', 'w').write('a')\nprint('ready', flush=True)\ntime.sleep(30)")
	ja, err := e.m.Start(a)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { ja.Kill(); ja.Wait() }()
	time.Sleep(300 * time.Millisecond)
	b := e.python(t, "3.12", `
import os
seen = []
for d in ("/work", "/tmp", "/dev/shm"):
    seen += [d + "/" + n for n in os.listdir(d)]
pids = [p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", str(os.getpid()))]
print(sorted(seen), sorted(pids))
`)
	res := run(t, e, b)
	// Its own processes are its init (1) and the code.
	if got := strings.TrimSpace(string(res.Stdout)); got != "['/work/main.py'] []" {
		t.Fatalf("second jail sees %s (stderr %s)", got, res.Stderr)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

func TestNoDescriptorLeaks(t *testing.T) {
	e := testEnv(t)
	in, _ := e.interp.Select("3.12")
	warm := e.python(t, "3.12", "")
	warm.Args = in.WarmCommand()
	broken := e.python(t, "3.12", "")
	broken.Args = []string{"/nonexistent/python"}
	// Warm up whatever the runtime keeps open (epoll, the start threads).
	if _, err := e.m.Run(context.Background(), e.python(t, "3.12", "pass")); err != nil {
		t.Fatal(err)
	}
	e.m.Quiesce()
	before := openFDs(t)
	for i := 0; i < 5; i++ {
		j, err := e.m.StartWarm(warm, interpreters.WarmReady)
		if err != nil {
			t.Fatal(err)
		}
		j.Kill() // discarded without a request, as the pool recycles
		if _, err := j.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	e.m.Quiesce()
	// Counted before any garbage collection: os.File finalizers would
	// close what was leaked and hide it.
	if after := openFDs(t); after > before {
		t.Fatalf("open descriptors %d -> %d after 5 warm jails discarded unused", before, after)
	}
	for i := 0; i < 5; i++ {
		if _, err := e.m.Start(broken); err == nil {
			t.Fatal("a jail whose command does not exist started")
		}
	}
	e.m.Quiesce()
	// libcontainer closes a container's exec fifo only when its start
	// succeeds; after a failed start the descriptor goes with the
	// container's garbage collection (os.File's finalizer).
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(20 * time.Millisecond) // finalizers run after the collection
	}
	if after := openFDs(t); after > before {
		t.Fatalf("open descriptors %d -> %d after 5 failed starts", before, after)
	}
	if left := traces(t, e.state, testCgroupParent("pyexec-test")); len(left) > 0 {
		t.Fatalf("failed starts left %v", left)
	}
}
