package jail_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

func TestVersions(t *testing.T) {
	e := testEnv(t)
	for _, v := range []string{"3.10", "3.11", "3.12", "3.13"} {
		t.Run(v, func(t *testing.T) {
			res := run(t, e, e.python(t, v, "import sys\nprint('%d.%d' % sys.version_info[:2])"))
			if got := strings.TrimSpace(string(res.Stdout)); got != v || res.ExitCode != 0 {
				t.Fatalf("exit %d stdout %q stderr %q, want %s", res.ExitCode, res.Stdout, res.Stderr, v)
			}
		})
	}
}

func TestScriptSemantics(t *testing.T) {
	e := testEnv(t)
	spec := e.python(t, "3.12", `
import sys, os, json
from pkg.sub import mod
from helper import twice
print(json.dumps({
    "name": __name__, "file": __file__, "argv": sys.argv, "path0": sys.path[0],
    "cwd": os.getcwd(), "stdin": sys.stdin.read(), "env": os.environ.get("GREETING"),
    "mod": mod.VALUE, "twice": twice(21),
}))
`, "a b", "--flag", "ünï")
	spec.Files = append(spec.Files,
		jail.File{Path: "helper.py", Mode: 0o644, Data: []byte("def twice(x):\n    return 2 * x\n")},
		jail.File{Path: "pkg/__init__.py", Mode: 0o644},
		jail.File{Path: "pkg/sub/__init__.py", Mode: 0o644},
		jail.File{Path: "pkg/sub/mod.py", Mode: 0o644, Data: []byte("from ..sibling import X\nVALUE = X + 1\n")},
		jail.File{Path: "pkg/sibling.py", Mode: 0o644, Data: []byte("X = 41\n")},
	)
	spec.Stdin = []byte("line1\nline2 ✓\n")
	spec.Env = append(spec.Env, "GREETING=hello world=1")
	res := run(t, e, spec)
	if res.ExitCode != 0 {
		t.Fatalf("exit %d stderr %s", res.ExitCode, res.Stderr)
	}
	var got struct {
		Name, File, Path0, Cwd, Stdin, Env string
		Argv                               []string
		Mod, Twice                         int
	}
	if err := json.Unmarshal(res.Stdout, &got); err != nil {
		t.Fatalf("stdout %q: %v", res.Stdout, err)
	}
	want := []string{"/work/main.py", "a b", "--flag", "ünï"}
	if got.Name != "__main__" || got.File != "/work/main.py" || got.Path0 != "/work" || got.Cwd != "/work" ||
		got.Stdin != "line1\nline2 ✓\n" || got.Env != "hello world=1" || got.Mod != 42 || got.Twice != 42 ||
		strings.Join(got.Argv, "|") != strings.Join(want, "|") {
		t.Fatalf("got %+v", got)
	}
}

func TestTraceback(t *testing.T) {
	e := testEnv(t)
	spec := e.python(t, "3.12", "import helper\n\nhelper.boom()\n")
	spec.Files = append(spec.Files, jail.File{Path: "helper.py", Mode: 0o644, Data: []byte("def boom():\n    return undefined_name\n")})
	res := run(t, e, spec)
	if res.ExitCode != 1 {
		t.Fatalf("exit %d, want 1", res.ExitCode)
	}
	stderr := string(res.Stderr)
	for _, want := range []string{"Traceback (most recent call last):", `File "/work/main.py", line 3`, `File "/work/helper.py", line 2, in boom`, "NameError: name 'undefined_name' is not defined"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "bootstrap") || strings.Contains(stderr, "runpy") {
		t.Errorf("stderr names the bootstrap:\n%s", stderr)
	}
	rep, err := interpreters.ParseReport(res.Report)
	if err != nil || rep.ErrorType != "NameError" || rep.ErrorLine != 2 {
		t.Fatalf("report %+v, %v; want NameError at line 2 of the innermost user frame", rep, err)
	}
}

// isolationProbe reports, from inside the jail, what protects the host.
const isolationProbe = `
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
def sc(nr, *args):
    r = libc.syscall(nr, *args)
    return errno.errorcode.get(ctypes.get_errno(), "?") if r == -1 else "OK"
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key + ":"):
            return line.split()[1]
def writable(p):
    try:
        open(p, "w").close(); os.unlink(p); return "writable"
    except OSError as e:
        return errno.errorcode[e.errno]
uid_map = [l.split() for l in open("/proc/self/uid_map")]
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "euid": os.geteuid(),
    "host_ids": [int(m[1]) for m in uid_map],
    "CapEff": status("CapEff"), "CapBnd": status("CapBnd"), "NoNewPrivs": status("NoNewPrivs"), "Seccomp": status("Seccomp"),
    "mount": sc(165, b"none", b"/tmp", b"tmpfs", 0, None),
    "unshare": sc(272, 0x10000000),
    "unshare_ns": sc(272, 0x00020000),
    "ptrace": sc(101, 0, 0, 0, 0),
    "keyctl": sc(250, 0, -3, 0),
    "bpf": sc(321, 0, None, 0),
    "chroot": sc(161, b"/tmp"),
    "root": writable("/x"), "usr": writable("/usr/x"), "etc": writable("/etc/x"),
    "work": writable("/work/x"), "tmp": writable("/tmp/x"),
    "ls_root": sorted(os.listdir("/")),
    "root_home": sorted(os.listdir("/root")),
    "home": os.path.exists("/home"), "state": os.path.exists("/run"),
    "pid": os.getpid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
    "hostname": os.uname().nodename,
}))
`

func TestIsolation(t *testing.T) {
	e := testEnv(t)
	res := run(t, e, e.python(t, "3.12", isolationProbe))
	if res.ExitCode != 0 {
		t.Fatalf("exit %d stderr %s", res.ExitCode, res.Stderr)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Stdout, &got); err != nil {
		t.Fatalf("stdout %q: %v", res.Stdout, err)
	}
	t.Logf("inside the jail: %s", res.Stdout)
	checks := map[string]any{
		"uid": 1000.0, "euid": 1000.0, "gid": 1000.0,
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
		"mount": "EPERM", "unshare": "EPERM", "unshare_ns": "EPERM", "ptrace": "EPERM", "keyctl": "EPERM", "bpf": "EPERM", "chroot": "EPERM",
		"root": "EROFS", "usr": "EROFS", "etc": "EROFS", "work": "writable", "tmp": "writable",
		"home": false, "state": false, "hostname": "pyexec",
	}
	for k, want := range checks {
		if fmt.Sprint(got[k]) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	for _, id := range got["host_ids"].([]any) {
		if id.(float64) == 0 {
			t.Errorf("a jail id maps onto host root: %v", got["host_ids"])
		}
	}
	// pid 1 is the bootstrap's init; the code is its child.
	if pids := got["pids"].([]any); len(pids) != 2 || pids[0] != 1.0 || pids[1] != got["pid"] {
		t.Errorf("jail sees processes %v, want its init (1) and itself (%v)", pids, got["pid"])
	}
	if rh := fmt.Sprint(got["root_home"]); rh != "[.pyenv]" {
		t.Errorf("/root in the jail lists %s; want only the interpreter mountpoint", rh)
	}
}

// listener accepts connections on a loopback port of the host.
func listener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("pong"))
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestNetwork(t *testing.T) {
	e := testEnv(t)
	jailtest.NeedDefaultRoute(t)
	port := listener(t)
	code := fmt.Sprintf(`
import socket
try:
    s = socket.create_connection(("127.0.0.1", %d), timeout=2)
    print("reached", s.recv(4).decode())
except OSError as e:
    print("unreachable", type(e).__name__)
`, port)
	for _, tt := range []struct {
		name          string
		network, host bool
		want          string
	}{
		{"off", false, false, "unreachable"},
		// Its own namespace and NAT: not the host's loopback (net_test.go).
		{"on", true, false, "unreachable"},
		{"host", false, true, "reached pong"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			spec := e.python(t, "3.12", code)
			spec.Network, spec.HostNetwork = tt.network, tt.host
			res := run(t, e, spec)
			if !strings.HasPrefix(string(res.Stdout), tt.want) {
				t.Fatalf("network %v: stdout %q stderr %q, want %q", tt.network, res.Stdout, res.Stderr, tt.want)
			}
		})
	}
}

// hangMargin is how long past its limit a run may take to end before a
// test calls it a hang. The bounds it widens are about correctness (the
// limit fired, the run did not hang), not speed: slow hosts (the emulated
// cgroup v2 guest of CI) take seconds to start and stop a jail.
const hangMargin = 10 * time.Second

func TestLimits(t *testing.T) {
	e := testEnv(t)
	t.Run("memory", func(t *testing.T) {
		spec := e.python(t, "3.12", "print('start', flush=True)\nx = bytearray(500 * 1024 * 1024)\nprint('survived')")
		spec.Limits.MemoryBytes = 64 << 20
		res := run(t, e, spec)
		if !res.OOMKilled || res.ExitCode == 0 || strings.Contains(string(res.Stdout), "survived") {
			t.Fatalf("oom_killed %v exit %d stdout %q", res.OOMKilled, res.ExitCode, res.Stdout)
		}
		if res.Usage.MemoryPeak < 60<<20 || res.Usage.MemoryPeak > 65<<20 {
			t.Errorf("memory peak %d, want about the 64 MiB limit", res.Usage.MemoryPeak)
		}
	})
	t.Run("fork bomb", func(t *testing.T) {
		spec := e.python(t, "3.12", `
import os, time
n = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(100)
            os._exit(0)
        n += 1
    except OSError as e:
        print("stopped after", n, "forks:", e.strerror, flush=True)
        time.sleep(100)
`)
		spec.Limits.Pids = 32
		spec.Limits.Timeout = 2 * time.Second
		start := time.Now()
		res := run(t, e, spec)
		if !strings.HasPrefix(string(res.Stdout), "stopped after") || !res.TimedOut || time.Since(start) > spec.Limits.Timeout+hangMargin {
			t.Fatalf("stdout %q timed_out %v after %v", res.Stdout, res.TimedOut, time.Since(start))
		}
		t.Logf("%s", res.Stdout)
	})
	t.Run("disk", func(t *testing.T) {
		spec := e.python(t, "3.12", `
import errno
for path in ("/tmp/big", "/work/big"):
    try:
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(b"x" * (1 << 20))
        print(path, "wrote 64 MiB")
    except OSError as e:
        print(path, errno.errorcode[e.errno])
`)
		spec.Limits.DiskBytes = 16 << 20
		res := run(t, e, spec)
		if got := string(res.Stdout); got != "/tmp/big ENOSPC\n/work/big ENOSPC\n" {
			t.Fatalf("stdout %q stderr %q", got, res.Stderr)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		spec := e.python(t, "3.12", "import time\nprint('before sleep')\ntime.sleep(100)\nprint('after')")
		spec.Limits.Timeout = 2 * time.Second
		start := time.Now()
		res := run(t, e, spec)
		took := time.Since(start)
		if !res.TimedOut || took < spec.Limits.Timeout || took > spec.Limits.Timeout+hangMargin || string(res.Stdout) != "before sleep\n" {
			t.Fatalf("timed_out %v after %v stdout %q", res.TimedOut, took, res.Stdout)
		}
	})
	t.Run("output truncated", func(t *testing.T) {
		spec := e.python(t, "3.12", "import sys\nline = 'y' * 1023 + '\\n'\nfor _ in range(4 * 1024):\n    sys.stdout.write(line)\nsys.stderr.write('done')")
		spec.Limits.MaxOutputBytes = 64 << 10
		res := run(t, e, spec)
		if len(res.Stdout) != 64<<10 || !res.StdoutTruncated || res.StdoutBytes != 4<<20 || res.StderrTruncated || string(res.Stderr) != "done" || res.OutputLimit || res.ExitCode != 0 {
			t.Fatalf("kept %d of %d truncated %v output limit %v exit %d; stderr %q", len(res.Stdout), res.StdoutBytes, res.StdoutTruncated, res.OutputLimit, res.ExitCode, res.Stderr)
		}
	})
	t.Run("output flood", func(t *testing.T) {
		spec := e.python(t, "3.12", "import sys\nline = 'y' * 1023 + '\\n'\nwhile True:\n    sys.stdout.write(line)")
		spec.Limits.MaxOutputBytes = 64 << 10
		spec.Limits.Timeout = 20 * time.Second
		start := time.Now()
		res := run(t, e, spec)
		if !res.OutputLimit || res.TimedOut || len(res.Stdout) != 64<<10 || res.StdoutBytes < 16<<20 || time.Since(start) > 10*time.Second {
			t.Fatalf("output limit %v timed out %v kept %d of %d after %v", res.OutputLimit, res.TimedOut, len(res.Stdout), res.StdoutBytes, time.Since(start))
		}
	})
	t.Run("kill", func(t *testing.T) {
		spec := e.python(t, "3.12", "import time\nprint('up', flush=True)\ntime.sleep(100)")
		// Cancelled once the code has printed, however long its start
		// takes: the output before the kill is kept.
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ended, killedAt := make(chan struct{}), make(chan time.Time, 1)
		res, err := e.m.RunWatched(ctx, spec, func(j *jail.Jail) {
			go func() {
				for !strings.HasSuffix(j.Output().Stdout, "\n") { // python -u writes "up", then "\n"
					select {
					case <-ended:
						return
					case <-time.After(5 * time.Millisecond):
					}
				}
				killedAt <- time.Now()
				cancel()
			}()
		})
		close(ended)
		var took time.Duration
		select {
		case at := <-killedAt:
			took = time.Since(at)
		default:
			t.Fatalf("the run ended before it printed: err %v result %+v", err, res)
		}
		if err != nil || !res.Killed || res.TimedOut || took > hangMargin || string(res.Stdout) != "up\n" {
			t.Fatalf("err %v killed %v, ended %v after the kill, stdout %q", err, res.Killed, took, res.Stdout)
		}
	})
}

// TestPlacementCountsInTimeout: a cold jail's files are placed on the
// host before its process starts, on the run's clock: a request whose
// tree takes longer to place than its timeout ends timed out, without
// running its code (issue 12: placement is charged to the run).
func TestPlacementCountsInTimeout(t *testing.T) {
	e := testEnv(t)
	spec := e.python(t, "3.12", "print('ran')")
	for i := range 20000 {
		spec.Files = append(spec.Files, jail.File{Path: fmt.Sprintf("d%d/f%d", i%200, i), Mode: 0o644, Data: []byte("x")})
	}
	spec.Limits.Timeout = 200 * time.Millisecond
	spec.Limits.DiskBytes = 256 << 20 // a page each
	start := time.Now()
	res := run(t, e, spec)
	t.Logf("20000 files, 200 ms timeout: %v, timed out %v, stdout %q", time.Since(start).Round(time.Millisecond), res.TimedOut, res.Stdout)
	if !res.TimedOut || strings.Contains(string(res.Stdout), "ran") {
		t.Errorf("want the run timed out before its code ran: %+v", res)
	}
}
