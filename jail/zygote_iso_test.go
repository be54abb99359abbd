package jail_test

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// zstart starts code in a run of z (not waited for).
func zstart(t testing.TB, z *jail.Zygote, code string, l jail.Limits) *jail.Jail {
	t.Helper()
	j, err := z.Start(jail.Activation{
		Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
		Limits:  l,
		Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
	})
	if err != nil {
		t.Fatalf("zygote run: %v", err)
	}
	return j
}

// TestZygoteExitStatuses: pid 1 is an init, so the code's own signals and
// exit statuses are those of `python main.py`.
func TestZygoteExitStatuses(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	tests := []struct {
		name     string
		code     string
		exit     int
		signal   syscall.Signal
		inStderr string
	}{
		{name: "ok", code: "print(1)", exit: 0},
		{name: "sys.exit(3)", code: "import sys; sys.exit(3)", exit: 3},
		{name: "exception", code: "1/0", exit: 1, inStderr: "ZeroDivisionError"},
		{name: "SIGTERM to itself", code: "import os, signal; os.kill(os.getpid(), signal.SIGTERM)", exit: 143, signal: syscall.SIGTERM},
		{name: "KeyboardInterrupt", code: "raise KeyboardInterrupt", exit: 130, signal: syscall.SIGINT, inStderr: "KeyboardInterrupt"},
		{name: "SIGKILL to itself", code: "import os; os.kill(os.getpid(), 9)", exit: 137, signal: syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := zrun(t, z, tt.code, jail.Limits{})
			if res.ExitCode != tt.exit || res.Signal != tt.signal || !strings.Contains(string(res.Stderr), tt.inStderr) {
				t.Errorf("exit %d signal %d stderr %q; want exit %d signal %d with %q",
					res.ExitCode, res.Signal, res.Stderr, tt.exit, tt.signal, tt.inStderr)
			}
		})
	}
}

// TestZygoteReapsOrphans: a grandchild orphaned by its parent is reaped by
// the run's pid 1, not left a zombie.
func TestZygoteReapsOrphans(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	code := `import os, time
pid = os.fork()
if pid == 0:
    if os.fork() == 0:
        time.sleep(0.2)
        os._exit(0)
    os._exit(0)
os.waitpid(pid, 0)
for _ in range(100):
    time.sleep(0.05)
    states = []
    for p in os.listdir("/proc"):
        if p.isdigit() and int(p) != os.getpid():
            try:
                states.append(open("/proc/%s/stat" % p).read().split(")")[1].split()[0])
            except OSError:
                pass
    if states == ["S"]:  # only pid 1, waiting
        break
print(sorted(os.listdir("/proc")[:0]), states)
`
	res := zrun(t, z, code, jail.Limits{})
	if strings.TrimSpace(string(res.Stdout)) != "[] ['S']" {
		t.Errorf("processes left besides pid 1: %q (stderr %q)", res.Stdout, res.Stderr)
	}
}

// TestZygoteIsolation: two concurrent runs forked from one zygote see
// nothing of each other (files, processes, loopback listeners, abstract
// sockets, SysV and POSIX IPC), a later run nothing of an earlier one, and
// random streams differ.
func TestZygoteIsolation(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	holder := `import ctypes, os, socket, time, random
libc = ctypes.CDLL(None, use_errno=True)
open("/tmp/secret", "w").write("x")
open("/work/secret", "w").write("x")
open("/dev/shm/secret", "w").write("x")
tcp = socket.socket(); tcp.bind(("127.0.0.1", 47001)); tcp.listen()
ab = socket.socket(socket.AF_UNIX); ab.bind("\0pyexec-iso"); ab.listen()
shm = libc.shmget(4711, 4096, 0o1666)
mq = libc.mq_open(b"/pyexec-iso", os.O_CREAT | os.O_RDWR, 0o666, None)
print("ready", shm >= 0, mq >= 0, random.random(), flush=True)
time.sleep(20)
`
	probe := `import ctypes, os, socket, random
libc = ctypes.CDLL(None, use_errno=True)
seen = []
for p in ("/tmp/secret", "/work/secret", "/dev/shm/secret"):
    if os.path.exists(p):
        seen.append(p)
for fam, addr in ((socket.AF_INET, ("127.0.0.1", 47001)), (socket.AF_UNIX, "\0pyexec-iso")):
    s = socket.socket(fam)
    try:
        s.connect(addr)
        seen.append(repr(addr))
    except OSError:
        pass
if libc.shmget(4711, 0, 0) >= 0:
    seen.append("shm")
if libc.mq_open(b"/pyexec-iso", os.O_RDONLY, 0, None) >= 0:
    seen.append("mq")
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(seen, pids, random.random())
`
	a := zstart(t, z, holder, jail.Limits{Timeout: 30 * time.Second})
	defer func() { a.Kill(); _, _ = a.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	// The whole line: under -u each of print's pieces is its own write.
	for !strings.HasSuffix(a.Output().Stdout, "\n") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ready := strings.Fields(a.Output().Stdout)
	if len(ready) != 4 || ready[1] != "True" || ready[2] != "True" {
		t.Fatalf("holder: %q %q", a.Output().Stdout, a.Output().Stderr)
	}
	check := func(name string) string {
		res := zrun(t, z, probe, jail.Limits{})
		out := strings.TrimSpace(string(res.Stdout))
		if !strings.HasPrefix(out, "[] [1, 2] ") {
			t.Errorf("%s run sees %q (stderr %q)", name, out, res.Stderr)
		}
		f := strings.Fields(out)
		return f[len(f)-1]
	}
	r1 := check("concurrent")
	a.Kill()
	_, _ = a.Wait()
	r2 := check("later")
	if r1 == r2 || r1 == ready[3] {
		t.Errorf("random streams repeat across runs: %s %s %s", ready[3], r1, r2)
	}
}

// TestZygoteCannotReachOthers: a run can signal, trace or read the memory
// of neither its pid 1 (root of the zygote's namespace) nor anything
// outside its pid namespace, and has no capabilities.
func TestZygoteCannotReachOthers(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	code := `import os, ctypes
libc = ctypes.CDLL(None, use_errno=True)
out = []
try:
    os.kill(1, 15); out.append("kill-1")
except OSError:
    pass
for f in ("/proc/1/mem", "/proc/1/environ"):
    try:
        open(f, "rb").read(1); out.append(f)
    except OSError:
        pass
if libc.ptrace(16, 1, 0, 0) == 0:  # PTRACE_ATTACH
    out.append("ptrace")
st = dict(l.split(":\t", 1) for l in open("/proc/self/status").read().splitlines() if ":\t" in l)
print(out, st["CapEff"].strip(), st["CapBnd"].strip(), st["NoNewPrivs"].strip(), st["Seccomp"].strip(), os.getuid() != 0)
`
	res := zrun(t, z, code, jail.Limits{})
	if got := strings.TrimSpace(string(res.Stdout)); got != "[] 0000000000000000 0000000000000000 1 2 True" {
		t.Errorf("run reached: %q (stderr %q)", got, res.Stderr)
	}
}

// TestZygoteLimits: the run's own cgroup holds its memory and pids limits
// and its timeout ends it with its output kept; any disk size works.
func TestZygoteLimits(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	t.Run("oom", func(t *testing.T) {
		res := zrun(t, z, "x = bytearray(300 << 20)\nprint(len(x))", jail.Limits{Limits: cgroupLimits(64<<20, 0)})
		if !res.OOMKilled || res.ExitCode != 137 {
			t.Errorf("oom: %+v", res)
		}
	})
	t.Run("pids", func(t *testing.T) {
		res := zrun(t, z, "import os, time\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(5)\n            os._exit(0)\n        n += 1\nexcept OSError as e:\n    print(n, e.errno)\n", jail.Limits{Limits: cgroupLimits(0, 32), Timeout: 3 * time.Second})
		if got := strings.TrimSpace(string(res.Stdout)); !strings.HasSuffix(got, " 11") {
			t.Errorf("fork bomb: %q %q", res.Stdout, res.Stderr)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		res := zrun(t, z, "import time\nprint('before', flush=True)\ntime.sleep(100)", jail.Limits{Timeout: time.Second})
		if !res.TimedOut || string(res.Stdout) != "before\n" || time.Since(start) > 20*time.Second {
			t.Errorf("timeout: %+v after %v", res, time.Since(start))
		}
	})
	t.Run("disk", func(t *testing.T) {
		res := zrun(t, z, "import os\nst = os.statvfs('/work')\nprint(st.f_blocks * st.f_frsize)", jail.Limits{DiskBytes: 8 << 20})
		if got := strings.TrimSpace(string(res.Stdout)); got != "8388608" {
			t.Errorf("/work size %q, want 8 MiB", got)
		}
	})
}

func cgroupLimits(mem, pids int64) cgroup.Limits { return cgroup.Limits{MemoryBytes: mem, Pids: pids} }
