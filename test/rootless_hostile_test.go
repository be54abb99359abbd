package test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// escapeProbe tries what a hostile run would, and prints name=result for
// each: "ok" when the attempt succeeded, otherwise the errno.
const escapeProbe = `import ctypes, os, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
out = {}
def try_(name, f):
    try:
        r = f()
        out[name] = "ok" if r in (None, 0) or (isinstance(r, int) and r > 0) else "errno%d" % ctypes.get_errno()
    except OSError as e:
        out[name] = "errno%d" % e.errno
try_("mount", lambda: libc.mount(b"tmpfs", b"/tmp", b"tmpfs", 0, None))
try_("unshare_user", lambda: libc.unshare(0x10000000))
try_("unshare_net", lambda: libc.unshare(0x40000000))
try_("ptrace_init", lambda: libc.ptrace(16, 1, None, None))
try_("setuid0", lambda: os.setuid(0))
try_("chroot", lambda: os.chroot("/tmp"))
try_("cgroup_write", lambda: open("/sys/fs/cgroup/cgroup.procs", "w").write("1"))
try_("server_port", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close())
try_("state_dir", lambda: os.listdir(sys.argv[2]))
try_("home", lambda: os.listdir(sys.argv[3]))
try_("kmsg", lambda: open("/dev/kmsg").close())
try_("mknod", lambda: os.mknod("/tmp/null", 0o20666, os.makedev(1, 3)))
try_("kill_all", lambda: os.kill(-1, 0))
print(" ".join("%s=%s" % kv for kv in sorted(out.items())))
print("uid", os.getuid(), "euid", os.geteuid())
`

// TestRootlessHostile: issue 12's attacks from inside a run of a rootless
// server (zygote and cold): no mount, no new user or network namespace, no
// ptrace of pid 1, no uid 0, no chroot, no cgroup write, no reach of the
// server's port (its own network namespace), its state dir or the service
// user's home, no kernel log, no device nodes, no process to signal but
// its own (kill(-1) finds none: ESRCH; /sys/fs/cgroup is not there);
// socket families and inotify as for root. The server is well
// after each.
func TestRootlessHostile(t *testing.T) {
	const want = "cgroup_write=errno2 chroot=errno1 home=errno2 kill_all=errno3 kmsg=errno2 mknod=errno1 mount=errno1 " +
		"ptrace_init=errno1 server_port=errno111 setuid0=errno1 state_dir=errno2 unshare_net=errno1 unshare_user=errno1"
	const wantSockets = "unix=ok inet=ok inet6=ok netlink_route=ok netlink_audit=1 vsock=1 packet=1 alg=1 inotify=1"
	ru := newRootlessUser(t)
	for _, m := range []rlMode{rlModes[0], rlModes[2]} { // zygote, cold
		t.Run(m.name, func(t *testing.T) {
			s := ru.start(t, m.env...)
			port := s.URL[strings.LastIndexByte(s.URL, ':')+1:]
			args := fmt.Sprintf("import sys\nsys.argv[1:] = [%q, %q, %q]\n", port, ru.StateDir, ru.Home)
			e := s.evalVia(t, m, api.EvalRequest{Code: args + escapeProbe})
			lines := strings.Split(strings.TrimSpace(e.Stdout), "\n")
			if len(lines) != 2 || lines[0] != want {
				t.Errorf("escape probe:\ngot  %s\nwant %s\n(%s)", lines[0], want, describe(e))
			}
			if len(lines) == 2 && (strings.Contains(lines[1], "uid 0 ") || strings.Contains(lines[1], fmt.Sprintf(" %d", ru.UID))) {
				t.Errorf("the run's ids: %s", lines[1])
			}
			e = s.evalVia(t, m, api.EvalRequest{Code: socketProbe})
			if got := strings.TrimSpace(e.Stdout); got != wantSockets {
				t.Errorf("socket families:\ngot  %s\nwant %s\n(%s)", got, wantSockets, describe(e))
			}
			wantRun(t, s.eval(t, api.EvalRequest{Code: "print('still well')"}), "still well\n")
		})
	}
}
