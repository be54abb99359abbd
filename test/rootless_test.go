package test

// A rootless pyexecd (issue 10) end to end: the real binary started as an
// unprivileged user that the test creates and `pyexecd setup` prepares,
// with zygotes on (the default) and off.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// rootlessSeq numbers the cgroup parents of the rootless users.
var rootlessSeq atomic.Int32

// rootlessUser is a user prepared by `pyexecd setup`, with what its
// servers need: a copy of pyexecd it can run, a home, an
// XDG_RUNTIME_DIR, a state dir it owns, and its sub-id range.
type rootlessUser struct {
	*setupUser
	GID      int
	Bin      string // pyexecd, copied where the user can run it
	Home     string // $HOME, 0755: the jails' ids search the state dir below it
	Runtime  string // $XDG_RUNTIME_DIR, 0700 as pam_systemd makes it
	StateDir string // jail.state_dir, passed explicitly
	// SubStart and SubCount are the user's range in /etc/subuid (and
	// /etc/subgid): every id its jails run as.
	SubStart, SubCount int
}

// newRootlessUser creates a user with newSetupUser (so it needs root:
// skipped off CI without it, failed under CI=true) and what its servers
// need. Everything goes when t ends.
func newRootlessUser(t *testing.T) *rootlessUser {
	t.Helper()
	parent := fmt.Sprintf("pyexec-rl-e2e-%d-%d", os.Getpid()%100000, rootlessSeq.Add(1))
	u := newSetupUser(t, parent)
	ru := &rootlessUser{setupUser: u, Home: filepath.Join(u.base, "home"), Runtime: filepath.Join(u.base, "xdg-runtime")}
	ru.StateDir = filepath.Join(ru.Home, ".cache", "pyexec", "run")
	pw, err := user.Lookup(u.Name)
	if err != nil {
		t.Fatal(err)
	}
	if ru.GID, err = strconv.Atoi(pw.Gid); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{{ru.Home, 0o755}, {ru.Runtime, 0o700}} {
		if err := os.Mkdir(d.path, d.mode); err != nil {
			t.Fatal(err)
		}
		if err := errors.Join(os.Chmod(d.path, d.mode), os.Chown(d.path, u.UID, ru.GID)); err != nil {
			t.Fatal(err)
		}
	}
	// The binary under test may be in a directory only root can search (go
	// test's own build): the user gets a copy of it.
	ru.Bin = filepath.Join(u.base, "bin", "pyexecd")
	if err := copyExecutable(binPath, ru.Bin); err != nil {
		t.Fatal(err)
	}
	lines := setupSubIDLines(t, u.Name)
	if len(lines) == 0 {
		t.Fatalf("setup gave %s no sub-id range", u.Name)
	}
	f := strings.Split(lines[0], ":")
	if len(f) != 3 {
		t.Fatalf("sub-id line %q", lines[0])
	}
	ru.SubStart, _ = strconv.Atoi(f[1])
	ru.SubCount, _ = strconv.Atoi(f[2])
	if ru.SubStart <= 0 || ru.SubCount <= 0 {
		t.Fatalf("sub-id line %q", lines[0])
	}
	// After the servers' own checks (their cleanups run first) and before
	// setup --undo: what a failed test left would stop --undo and userdel.
	t.Cleanup(func() { ru.scrub(t) })
	return ru
}

// scrub removes, as root, what the user's servers should not have left
// (a test that stopped early, or a bug), and says so: by then the tests
// that check for leftovers have reported them.
func (ru *rootlessUser) scrub(t *testing.T) {
	t.Helper()
	if left := ru.leftovers(); len(left) > 0 {
		t.Logf("scrub: removing what the servers left, so that setup --undo can run:\n  %s", strings.Join(left, "\n  "))
	}
	if err := ru.removeLeftovers(); err != nil {
		t.Errorf("scrub: %v", err)
	}
}

// removeLeftovers kills the processes of the user and its range and
// removes the groups below the delegated parent (not the parent: setup's).
func (ru *rootlessUser) removeLeftovers() error {
	procs := ru.procs()
	for _, p := range procs {
		pid, _, _ := strings.Cut(p, ":")
		if n, err := strconv.Atoi(pid); err == nil {
			_ = syscall.Kill(n, syscall.SIGKILL)
		}
	}
	var errs []error
	if left := rlWaitEmpty(ru.procs, 5*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("processes of %s survive SIGKILL: %v", ru.Name, left))
	}
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + ru.Parent + "/*")
	more, _ := filepath.Glob("/sys/fs/cgroup/" + ru.Parent + "/*")
	for _, d := range append(dirs, more...) {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			errs = append(errs, rmdirDepthFirst(d))
		}
	}
	// Container state and work dirs: their mounts were in the server's
	// mount namespace, gone with it (never delete through a mount).
	if mi, err := os.ReadFile("/proc/self/mountinfo"); err != nil || strings.Contains(string(mi), " "+ru.StateDir+"/") {
		return errors.Join(append(errs, fmt.Errorf("not removing the state in %s: a mount below it, or %v", ru.StateDir, err))...)
	}
	for _, sub := range []string{"run", "work"} {
		entries, _ := os.ReadDir(filepath.Join(ru.StateDir, sub))
		for _, e := range entries {
			errs = append(errs, os.RemoveAll(filepath.Join(ru.StateDir, sub, e.Name())))
		}
	}
	return errors.Join(errs...)
}

// rmdirDepthFirst removes the cgroup dir and the groups below it.
func rmdirDepthFirst(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, rmdirDepthFirst(filepath.Join(dir, e.Name())))
		}
	}
	if err := syscall.Rmdir(dir); err != nil && !errors.Is(err, syscall.ENOENT) {
		errs = append(errs, fmt.Errorf("rmdir %s: %w", dir, err))
	}
	return errors.Join(errs...)
}

func copyExecutable(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// cgroup2Dir is the user's delegated group in the cgroup2 hierarchy
// (hybrid's unified mount, or the v2 root), "" on a pure v1 host. As
// setup tells the operator, the server must run inside it: the kernel
// moves a process between cgroup2 groups only for a writer of their
// common ancestor.
func (ru *rootlessUser) cgroup2Dir() string {
	switch hostCgroupMode() {
	case "hybrid":
		return "/sys/fs/cgroup/unified/" + ru.Parent
	case "v2":
		return "/sys/fs/cgroup/" + ru.Parent
	}
	return ""
}

// procs lists every process of the user and of its sub-id range (the
// server, its holders, zygotes, jails and runs), as "pid:comm".
func (ru *rootlessUser) procs() []string {
	return append(jailtest.Procs(ru.UID, 1, true), jailtest.Procs(ru.SubStart, ru.SubCount, true)...)
}

// procsNamed lists the processes of procs whose comm is tag.
func (ru *rootlessUser) procsNamed(tag string) []string {
	var out []string
	for _, p := range ru.procs() {
		if strings.HasSuffix(p, ":"+tag) {
			out = append(out, p)
		}
	}
	return out
}

// traces lists what jails leave on disk and in the cgroup hierarchies: any
// group below the delegated parent (zygotes' too), and container state and
// work dirs.
func (ru *rootlessUser) traces() []string {
	return append(jailtest.Traces(ru.StateDir, ru.Parent), jailtest.ZygoteTraces(ru.StateDir, ru.Parent)...)
}

// leftovers is everything a stopped server must not leave: its traces and
// any process of the user or its range.
func (ru *rootlessUser) leftovers() []string {
	out := ru.traces()
	for _, p := range ru.procs() {
		out = append(out, "process "+p)
	}
	return out
}

// rlWaitEmpty is jailtest.WaitEmpty.
func rlWaitEmpty(list func() []string, d time.Duration) []string { return jailtest.WaitEmpty(list, d) }

// rlServer is a pyexecd run by a rootlessUser. Its cmd is the process the
// user started, which re-executes itself into the user namespace (the
// server proper, see inner) and waits for it.
type rlServer struct {
	*Server
	u      *rootlessUser
	killed bool // the test SIGKILLed it: no exit status to check
	// cgroupDir, when set, is the cgroup2 group the server is born in
	// instead of the user's delegated one.
	cgroupDir string
	reported  bool // stop's problems were reported already
}

// start starts a server as the user, in the cgroup2 group delegated to
// it, with env entries (KEY=value) added to its environment; it is
// stopped, and everything checked, when t ends. Only one server of a user
// may run at a time (they share the state dir).
func (ru *rootlessUser) start(t *testing.T, env ...string) *rlServer {
	t.Helper()
	return ru.startIn(t, "", env...)
}

// startIn is start with the server born in the cgroup2 group dir (none:
// the user's delegated group).
func (ru *rootlessUser) startIn(t *testing.T, dir string, env ...string) *rlServer {
	t.Helper()
	s := &rlServer{Server: &Server{StateDir: ru.StateDir, CgroupParent: ru.Parent, IDBase: ru.SubStart}, u: ru, cgroupDir: dir}
	if err := retryPort(func() error { return s.launch(env) }); err != nil {
		t.Fatalf("start pyexecd as %s: %v", ru.Name, err)
	}
	t.Cleanup(func() {
		if problems := s.stop(); !s.reported {
			for _, p := range problems {
				t.Error(p)
			}
		}
		if t.Failed() {
			t.Logf("rootless pyexecd stderr:\n%s", tail(s.Stderr(), 32<<10))
		}
	})
	return s
}

func (s *rlServer) launch(extra []string) error {
	ru := s.u
	port, err := s.newPort()
	if err != nil {
		return err
	}
	cmd := exec.Command(ru.Bin)
	cmd.Dir = ru.Home
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// The user's own environment, not root's; jail.mode is left to auto
	// (rootless by the euid).
	cmd.Env = append([]string{
		"HOME=" + ru.Home, "USER=" + ru.Name, "LOGNAME=" + ru.Name,
		"XDG_RUNTIME_DIR=" + ru.Runtime,
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"PYEXEC_SERVER_HOST=127.0.0.1",
		"PYEXEC_SERVER_PORT=" + strconv.Itoa(port),
		"PYEXEC_JAIL_STATE_DIR=" + ru.StateDir,
		"PYEXEC_LOG_LEVEL=info",
	}, ru.Env...) // setup dir and cgroup parent
	cmd.Env = append(cmd.Env, extra...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		// An empty Groups clears the supplementary groups (setgroups(0)).
		Credential: &syscall.Credential{Uid: uint32(ru.UID), Gid: uint32(ru.GID), Groups: []uint32{}},
	}
	dir := ru.cgroup2Dir()
	if s.cgroupDir != "" {
		dir = s.cgroupDir
	}
	if leaf := filepath.Join(dir, "pyexecd"); s.cgroupDir == "" && dir != "" {
		dir = leaf // setup's leaf for the server (cgroup.ServerLeaf)
		// removeLeftovers may have taken it with the groups below the parent.
		if err := os.Mkdir(leaf, 0o755); err == nil {
			for _, f := range []string{"", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"} {
				_ = os.Chown(filepath.Join(leaf, f), ru.UID, ru.GID)
			}
		}
	}
	if dir != "" {
		// Born in the delegated group (clone3 CLONE_INTO_CGROUP), as root
		// would place it: echo PID > dir/cgroup.procs.
		f, err := os.Open(dir)
		if err != nil {
			return fmt.Errorf("the delegated cgroup2 group: %w", err)
		}
		defer f.Close()
		cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD = true, int(f.Fd())
	}
	// The jails must not hold the output pipes once the server is gone;
	// if they do, Wait still returns (and the leftovers name them).
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s as %s: %w", ru.Bin, ru.Name, err)
	}
	return s.await(cmd)
}

// stop terminates the server (SIGTERM, SIGKILL after stopTimeout), checks
// that it exited 0 (unless the test killed it) and that the user has
// nothing left: no process of it or its sub-id range, no group below the
// delegated parent in any hierarchy, no container state. The delegated
// parents themselves are setup's: they stay. Later calls return the same.
func (s *rlServer) stop() []string {
	s.stopOnce.Do(func() {
		if _, ok := s.signal(syscall.SIGTERM, stopTimeout); !ok {
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.problems = append(s.problems, fmt.Sprintf("pyexecd did not exit within %v of SIGTERM; killed", stopTimeout))
		}
		if s.exitErr != nil && !s.killed {
			s.problems = append(s.problems, fmt.Sprintf("pyexecd exited with %v, want status 0", s.exitErr))
		}
		if left := rlWaitEmpty(s.u.leftovers, leftoverSettle); len(left) > 0 {
			s.problems = append(s.problems, fmt.Sprintf("the rootless pyexecd left behind:\n  %s", strings.Join(left, "\n  ")))
			// Reported: gone, so that the user's next server starts clean
			// and is not blamed for them.
			if err := s.u.removeLeftovers(); err != nil {
				s.problems = append(s.problems, err.Error())
			}
		}
	})
	return s.problems
}

// mustStop stops the server now and reports what stop found.
func (s *rlServer) mustStop(t *testing.T) {
	t.Helper()
	for _, p := range s.stop() {
		t.Error(p)
	}
	s.reported = true
}

// inner is the pid of the server proper: the child the started process
// re-executed into the user namespace.
func (s *rlServer) inner(t *testing.T) int {
	t.Helper()
	outer := s.cmd.Process.Pid
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		i := strings.LastIndexByte(string(b), ')')
		if f := strings.Fields(string(b[i+1:])); i > 0 && len(f) > 1 && f[1] == strconv.Itoa(outer) {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	t.Fatalf("no child of the started pyexecd (pid %d): the server in the namespace", outer)
	return 0
}

// zygoteServed is how many runs the zygote of the default series forked.
func zygoteServed(h api.Health) int64 {
	for _, z := range h.Zygotes {
		if strings.HasPrefix(z.Version, "3.12.") {
			return z.Served
		}
	}
	return 0
}

// poolServed is how many runs the default series' pool served.
func poolServed(h api.Health) int64 {
	for _, p := range h.Pool {
		if strings.HasPrefix(p.Version, "3.12.") {
			return p.Served
		}
	}
	return 0
}

// rlMode is one way a rootless server runs its jails.
type rlMode struct {
	name string
	env  []string
	path string // "zygote", "pool" or "cold": what must serve a 3.12 run
}

var rlModes = []rlMode{
	{"zygote", nil, "zygote"}, // the defaults: zygotes on (and a pool behind them)
	{"pool", []string{"PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=1"}, "pool"},
	{"cold", []string{"PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=0"}, "cold"},
}

// readyFor waits for what serves the mode's runs.
func (s *Server) readyFor(t testing.TB, m rlMode) {
	t.Helper()
	switch m.path {
	case "zygote":
		s.waitZygote(t)
	case "pool":
		s.waitWarm(t)
	}
}

// evalVia runs req and fails t unless the mode's path served it (a zygote
// fork, a pooled jail, or neither).
func (s *Server) evalVia(t testing.TB, m rlMode, req api.EvalRequest) api.Execution {
	t.Helper()
	s.readyFor(t, m)
	before := s.health(t)
	e := s.eval(t, req)
	after := s.health(t)
	z, p := zygoteServed(after)-zygoteServed(before), poolServed(after)-poolServed(before)
	switch {
	case m.path == "zygote" && z != 1, m.path == "pool" && (p != 1 || z != 0), m.path == "cold" && (p != 0 || z != 0):
		t.Errorf("want the run served by the %s path; zygote served %d, pool %d (%s)", m.path, z, p, describe(e))
	}
	return e
}

// identityProbe prints what the code sees of itself, then sleeps so that
// the test can look at its process from the host.
const identityProbe = `import json, os, time
st = dict(l.rstrip("\n").split(":\t", 1) for l in open("/proc/self/status") if ":\t" in l)
print(json.dumps({"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(), "groups": os.getgroups(),
                  "CapEff": st["CapEff"], "CapBnd": st["CapBnd"], "NoNewPrivs": st["NoNewPrivs"],
                  "Seccomp": st["Seccomp"]}), flush=True)
time.sleep(60)
`

// waitStdout polls the running record id until its stdout ends in a
// newline, and returns the stdout.
func (s *Server) waitStdout(t *testing.T, id string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, e := s.get(t, id, 0)
		if strings.HasSuffix(e.Stdout, "\n") {
			return e.Stdout
		}
		if e.Finished() {
			t.Fatalf("execution %s ended before it printed: %s", id, describe(e))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("execution %s printed no line within 30 s", id)
	return ""
}

// hostIDs reads the real, effective, saved and filesystem uids of pid.
func hostIDs(pid string) ([]int, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return nil, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			var ids []int
			for _, f := range strings.Fields(rest) {
				n, err := strconv.Atoi(f)
				if err != nil {
					return nil, err
				}
				ids = append(ids, n)
			}
			return ids, nil
		}
	}
	return nil, errors.New("no Uid line")
}

// TestRootless: pyexecd started as an unprivileged user (created here, set
// up by `pyexecd setup`), with zygotes (the default), with them off and a
// pool, and with neither: /health says rootless with the user's id map and
// delegated cgroups; the code runs as a non-root uid of the user's range
// (never the user, never root, in a user namespace root does not own)
// with no capability, no_new_privs and seccomp; a 64 MiB limit OOM-kills
// a 300 MiB allocation; a pids limit stops a fork bomb; a timeout ends a
// run and keeps its output; each server leaves nothing when it stops.
func TestRootless(t *testing.T) {
	ru := newRootlessUser(t)
	for _, m := range rlModes {
		t.Run(m.name, func(t *testing.T) {
			s := ru.start(t, m.env...)
			s.readyFor(t, m)

			t.Run("health", func(t *testing.T) {
				h := s.health(t)
				en := h.Enforced
				if en == nil || en.IDs == nil || en.Cgroup == nil {
					t.Fatalf("/health enforced %+v: want mode, ids and cgroup", en)
				}
				if b, err := json.MarshalIndent(en, "", "  "); err == nil && m.path == "zygote" {
					t.Logf("rootless /health enforced:\n%s", b)
				}
				if en.Mode != "rootless" {
					t.Errorf("mode %q, want rootless", en.Mode)
				}
				if ids := en.IDs; ids.FirstHostID != ru.SubStart || ids.Count <= 0 || ids.Count > ru.SubCount || ids.IDsPerJail != 2 ||
					!strings.Contains(ids.NamespaceOwner, "host uid "+strconv.Itoa(ru.UID)+",") {
					t.Errorf("ids %+v; want the jails in %s's range %d+%d, in the namespace of host uid %d", ids, ru.Name, ru.SubStart, ru.SubCount, ru.UID)
				}
				if cg := en.Cgroup; !cg.Delegated || cg.Parent != "/"+ru.Parent || cg.Version != hostCgroupMode() {
					t.Errorf("cgroup %+v; want %s delegated, version %s", cg, "/"+ru.Parent, hostCgroupMode())
				}
				if !en.MemoryLimit || !en.PidsLimit || !en.CPULimit || en.CgroupMode != hostCgroupMode() {
					t.Errorf("limits memory %v pids %v cpu %v, cgroup mode %q: want all enforced in %s", en.MemoryLimit, en.PidsLimit, en.CPULimit, en.CgroupMode, hostCgroupMode())
				}
				for _, l := range en.Limits {
					if !l.Enforced {
						t.Errorf("limit %s not enforced: %s", l.Name, l.By)
					}
				}
				if len(en.SupplementaryGroups) != 0 {
					t.Errorf("supplementary groups %v, want none", en.SupplementaryGroups)
				}
			})

			t.Run("identity", func(t *testing.T) {
				s.readyFor(t, m)
				before := s.health(t)
				id := s.execAsync(t, map[string]string{"main.py": tagged("rl-identity", identityProbe)}, api.Metadata{Entrypoint: "main.py"})
				out := s.waitStdout(t, id)
				var in struct {
					UID, EUID, GID int
					Groups         []int
					CapEff, CapBnd string
					NoNewPrivs     string
					Seccomp        string
				}
				if err := json.Unmarshal([]byte(out), &in); err != nil {
					t.Fatalf("probe printed %q: %v", out, err)
				}
				t.Logf("inside: %s", strings.TrimSpace(out))
				if in.UID == 0 || in.EUID == 0 || in.GID == 0 || len(in.Groups) != 0 {
					t.Errorf("the code runs as uid %d euid %d gid %d groups %v; want non-root, no groups", in.UID, in.EUID, in.GID, in.Groups)
				}
				if in.CapEff != "0000000000000000" || in.CapBnd != "0000000000000000" || in.NoNewPrivs != "1" || in.Seccomp != "2" {
					t.Errorf("CapEff %s CapBnd %s NoNewPrivs %s Seccomp %s; want 0, 0, 1, 2", in.CapEff, in.CapBnd, in.NoNewPrivs, in.Seccomp)
				}
				// From the host: a uid of the user's range, in a user
				// namespace that neither root nor the user owns.
				procs := ru.procsNamed("rl-identity")
				if len(procs) == 0 {
					t.Fatalf("no host process of the run among the user's: %v", ru.procs())
				}
				for _, p := range procs {
					pid, _, _ := strings.Cut(p, ":")
					ids, err := hostIDs(pid)
					if err != nil {
						t.Fatal(err)
					}
					owner, err := jailtest.NSOwner(pid)
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("host: pid %s uids %v, user namespace owned by host uid %d (%s's range %d+%d)", pid, ids, owner, ru.Name, ru.SubStart, ru.SubCount)
					for _, id := range ids {
						if id < ru.SubStart || id >= ru.SubStart+ru.SubCount {
							t.Errorf("pid %s runs as host uid %d, outside %s's range", pid, id, ru.Name)
						}
					}
					if owner == 0 || owner < ru.SubStart || owner >= ru.SubStart+ru.SubCount {
						claim := ""
						if before.Enforced != nil && before.Enforced.IDs != nil {
							claim = before.Enforced.IDs.NamespaceOwner
						}
						t.Errorf("pid %s's user namespace is owned by host uid %d (%s is %d), want an id of its range %d+%d (issue 10; /health: %q)",
							pid, owner, ru.Name, ru.UID, ru.SubStart, ru.SubCount, claim)
					}
				}
				if r := s.kill(t, id); r.Status != http.StatusOK {
					t.Errorf("DELETE: %d %s", r.Status, r.Body)
				}
				if e := s.waitDone(t, id); e.Status != api.StatusKilled {
					t.Errorf("killed probe: %s", describe(e))
				}
				after := s.health(t)
				if z := zygoteServed(after) - zygoteServed(before); (m.path == "zygote") != (z == 1) {
					t.Errorf("zygote served %d runs in %s mode", z, m.name)
				}
				if left := rlWaitEmpty(func() []string { return ru.procsNamed("rl-identity") }, 10*time.Second); len(left) > 0 {
					t.Errorf("the killed run's processes are left: %v", left)
				}
			})

			t.Run("eval", func(t *testing.T) {
				e := s.evalVia(t, m, api.EvalRequest{Code: "import sys\nprint('ok', sys.version_info[:2])"})
				wantRun(t, e, "ok (3, 12)\n")
			})

			t.Run("oom", func(t *testing.T) {
				e := s.evalVia(t, m, api.EvalRequest{
					Code:   tagged("rl-oom", "print('start', flush=True)\ndata = bytearray(300 << 20)\nprint('survived')"),
					Config: &api.Config{MemoryMB: ptr(64)},
				})
				if e.Status != api.StatusFailed || !e.OOMKilled || e.Stdout != "start\n" {
					t.Errorf("got %s; want failed, oom_killed, stdout \"start\\n\"", describe(e))
				}
				if e.Usage == nil || e.Usage.MemoryPeakBytes > 65<<20 {
					t.Errorf("usage %+v; want a memory peak within the 64 MiB limit", e.Usage)
				}
				if left := rlWaitEmpty(func() []string { return ru.procsNamed("rl-oom") }, 10*time.Second); len(left) > 0 {
					t.Errorf("processes of the OOM-killed run are left: %v", left)
				}
			})

			t.Run("pids", func(t *testing.T) {
				e := s.evalVia(t, m, api.EvalRequest{
					Code: tagged("rl-forkbomb", `import os, time
n = 0
while True:
    try:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
    except OSError as e:
        print("stopped after", n, "forks, errno", e.errno, flush=True)
        break
`),
					Config: &api.Config{PidsLimit: ptr(32), TimeoutSeconds: ptr(30)},
				})
				var n, errno int
				if _, err := fmt.Sscanf(e.Stdout, "stopped after %d forks, errno %d\n", &n, &errno); err != nil ||
					e.Status != api.StatusCompleted || n >= 32 || errno != int(syscall.EAGAIN) {
					t.Errorf("got %s; want completed, stopped after < 32 forks with EAGAIN", describe(e))
				}
				t.Logf("fork bomb: %s", strings.TrimSpace(e.Stdout))
				if left := rlWaitEmpty(func() []string { return ru.procsNamed("rl-forkbomb") }, 10*time.Second); len(left) > 0 {
					t.Errorf("the fork bomb's processes are left: %v", left)
				}
			})

			t.Run("timeout", func(t *testing.T) {
				start := time.Now()
				e := s.evalVia(t, m, api.EvalRequest{
					Code:   tagged("rl-timeout", "import time\nprint('before', flush=True)\ntime.sleep(300)\nprint('after')"),
					Config: &api.Config{TimeoutSeconds: ptr(1)},
				})
				// A hang check (the code sleeps 300 s), not a latency goal.
				if took := time.Since(start); took > 60*time.Second {
					t.Errorf("a 1 s timeout answered after %v", took)
				}
				if e.Status != api.StatusFailed || !e.TimedOut || e.Stdout != "before\n" {
					t.Errorf("got %s; want failed, timed_out, stdout \"before\\n\"", describe(e))
				}
				if left := rlWaitEmpty(func() []string { return ru.procsNamed("rl-timeout") }, 10*time.Second); len(left) > 0 {
					t.Errorf("processes of the timed-out run are left: %v", left)
				}
			})
			s.mustStop(t)
		})
	}
}
