package test

import (
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// socketProbe tries every socket family issue 12 names and inotify.
const socketProbe = `import socket, ctypes
libc = ctypes.CDLL(None, use_errno=True)
out = []
for name, fam, typ, proto in (("unix", 1, 1, 0), ("inet", 2, 1, 0), ("inet6", 10, 1, 0),
                              ("netlink_route", 16, 3, 0), ("netlink_audit", 16, 3, 9),
                              ("vsock", 40, 1, 0), ("packet", 17, 3, 0), ("alg", 38, 5, 0)):
    try:
        socket.socket(fam, typ, proto).close()
        out.append(name + "=ok")
    except OSError as e:
        out.append("%s=%d" % (name, e.errno))
fd = libc.inotify_init1(0)
out.append("inotify=%s" % ("ok" if fd >= 0 else ctypes.get_errno()))
print(" ".join(out))
`

// TestSocketFamiliesAndInotify: a run may open only the socket families
// Python needs (AF_VSOCK has no namespaces: jails would share the host's
// vsock port space) and, by default, no inotify (on the shared read-only
// mounts one run could watch another's file opens), on the zygote and the
// cold path alike; jail.allow_inotify turns inotify on.
func TestSocketFamiliesAndInotify(t *testing.T) {
	const want = "unix=ok inet=ok inet6=ok netlink_route=ok netlink_audit=1 vsock=1 packet=1 alg=1 inotify=1"
	for _, tc := range []struct{ name, env string }{
		{"zygote", "PYEXEC_ZYGOTE_ENABLED=true"},
		{"cold", "PYEXEC_ZYGOTE_ENABLED=false"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.env, "PYEXEC_POOL_SIZES=3.12=0")
			if tc.name == "zygote" {
				s.waitZygote(t)
			}
			e := s.eval(t, api.EvalRequest{Code: socketProbe})
			if got := strings.TrimSpace(e.Stdout); got != want {
				t.Errorf("got  %s\nwant %s\n(%s)", got, want, describe(e))
			}
		})
	}
	t.Run("inotify allowed", func(t *testing.T) {
		s := startServer(t, "PYEXEC_JAIL_ALLOW_INOTIFY=true")
		e := s.eval(t, api.EvalRequest{Code: socketProbe})
		if !strings.HasSuffix(strings.TrimSpace(e.Stdout), " inotify=ok") {
			t.Errorf("with jail.allow_inotify: %s", describe(e))
		}
	})
}
