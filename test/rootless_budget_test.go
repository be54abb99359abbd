package test

// A rootless pyexecd beside a root one: the per-user kernel budgets a run
// can hoard, and the latency of a trivial run (see rootless_test.go for
// the harness).

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// TestPerUserBudgets: a run that opens 200 inotify instances and queues
// real-time signals, then sleeps, takes them from nobody: meanwhile a
// second run, host root and (rootless) a process of the service user all
// still get theirs; as root and rootless, forked from a zygote and cold.
// inotify is refused by seccomp unless jail.allow_inotify, which the test
// turns on.
func TestPerUserBudgets(t *testing.T) {
	python := "/usr/bin/python3" // readable by the user, unlike pyenv's under /root
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("the probe as the service user needs %s: %v", python, err)
	}
	ru := newRootlessUser(t)
	for _, who := range []string{"rootless", "root"} {
		for _, m := range []rlMode{rlModes[0], rlModes[2]} {
			t.Run(who+"/"+m.name, func(t *testing.T) {
				env := append([]string{"PYEXEC_JAIL_ALLOW_INOTIFY=true"}, m.env...)
				var s *Server
				var asUser func() ([]byte, error) // a process of the service user
				if who == "root" {
					s = startServer(t, env...)
				} else {
					rs := ru.start(t, env...)
					defer rs.mustStop(t)
					s = rs.Server
					asUser = func() ([]byte, error) {
						probe := exec.Command(python, "-c", jailtest.Probe)
						probe.Dir = ru.Home
						probe.Env = []string{"HOME=" + ru.Home, "PATH=/usr/bin:/bin"}
						probe.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(ru.UID), Gid: uint32(ru.GID), Groups: []uint32{}}}
						return probe.CombinedOutput()
					}
				}
				s.readyFor(t, m)
				id := s.execAsync(t, map[string]string{"main.py": tagged("rl-hoarder", jailtest.Hoarder)}, api.Metadata{Entrypoint: "main.py"})
				var fds, errno, queued int
				out := s.waitStdout(t, id)
				if _, err := fmt.Sscanf(out, "%d %d %d\n", &fds, &errno, &queued); err != nil {
					t.Fatalf("hoarder printed %q: %v", out, err)
				}
				t.Logf("the hoarding run got %d inotify instances (then errno %d) and queued %d signals", fds, errno, queued)
				if fds < 1 || fds >= 200 {
					t.Errorf("inotify instances in one run: %d; want at least one, and a cap below 200", fds)
				}
				if queued < 1 || queued >= 200000 {
					t.Errorf("queued signals in one run: %d; want at least one, and a cap below 200000", queued)
				}

				// A second run at the same time, on the same path.
				if e := s.evalVia(t, m, api.EvalRequest{Code: jailtest.Probe}); e.Stdout != "inotify ok\nsigqueue ok\n" {
					t.Errorf("a second run while one hoards: %s", describe(e))
				}
				if asUser != nil {
					if out, err := asUser(); err != nil || string(out) != "inotify ok\nsigqueue ok\n" {
						t.Errorf("a process of %s while a run hoards: %v %q", ru.Name, err, out)
					}
				}
				// Host root: this process, and another.
				if fd, err := unix.InotifyInit1(unix.IN_CLOEXEC); err != nil {
					t.Errorf("inotify_init1 as host root while a run hoards: %v", err)
				} else {
					unix.Close(fd)
				}
				if out, err := exec.Command(python, "-c", jailtest.Probe).CombinedOutput(); err != nil || string(out) != "inotify ok\nsigqueue ok\n" {
					t.Errorf("a host root process while a run hoards: %v %q", err, out)
				}
				// The hoard was held throughout.
				if _, e := s.get(t, id, 0); e.Status != api.StatusRunning {
					t.Errorf("the hoarder is no longer running: %s", describe(e))
				}
				s.kill(t, id)
				s.waitDone(t, id)
			})
		}
	}
}

// TestRootlessLatency measures a trivial /eval back to back, as root and
// rootless, with zygotes (the default), a pool (zygotes off) and cold
// (neither): the client's latency over HTTP and the server's duration_ms,
// p50 and p90. It only reports (a timing goal is never a test's
// assertion). PYEXEC_E2E_LATENCY_RUNS sets the samples per case (default
// 20; the figures in the notes take 200), after 5 not counted.
func TestRootlessLatency(t *testing.T) {
	runs := 20
	if v := os.Getenv("PYEXEC_E2E_LATENCY_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("PYEXEC_E2E_LATENCY_RUNS=%q: want a positive number", v)
		}
		runs = n
	}
	ru := newRootlessUser(t)
	var table []string
	for _, m := range rlModes {
		for _, who := range []string{"root", "rootless"} {
			t.Run(m.name+"/"+who, func(t *testing.T) {
				var s *Server
				if who == "root" {
					s = startServer(t, m.env...)
				} else {
					s = ru.start(t, m.env...).Server
				}
				req := api.EvalRequest{Code: "print(1)"}
				for range 5 {
					s.readyFor(t, m)
					s.eval(t, req)
				}
				before := s.health(t)
				var client, server []time.Duration
				failed := 0
				for range runs {
					s.readyFor(t, m) // every sample on the mode's path: a full pool
					start := time.Now()
					e := s.eval(t, req)
					client = append(client, time.Since(start))
					server = append(server, time.Duration(e.DurationMS)*time.Millisecond)
					if e.Status != api.StatusCompleted || e.Stdout != "1\n" {
						if failed++; failed == 1 {
							t.Errorf("a trivial run: %s", describe(e))
						}
					}
				}
				after := s.health(t)
				row := fmt.Sprintf("%-8s %-6s  client p50 %6.1f ms  p90 %6.1f ms   server p50 %4.0f ms  p90 %4.0f ms   (%d runs: zygote %d, pool %d, failed %d)",
					who, m.name, rlMS(rlPercentile(client, 50)), rlMS(rlPercentile(client, 90)), rlMS(rlPercentile(server, 50)), rlMS(rlPercentile(server, 90)),
					runs, zygoteServed(after)-zygoteServed(before), poolServed(after)-poolServed(before), failed)
				t.Log(row)
				table = append(table, row)
			})
		}
	}
	t.Logf("trivial /eval back to back, %d runs each:\n%s", runs, strings.Join(table, "\n"))
}

// rlPercentile is the p-th percentile (nearest rank) of ds.
func rlPercentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(i-1, 0)]
}

func rlMS(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
