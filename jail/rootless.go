package jail

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// rootlessEnv marks the server process that runs inside the user namespace
// made by EnterRootless; its value is the host uid that owns it.
const rootlessEnv = "_PYEXEC_ROOTLESS_OWNER"

// RootlessOwner reports whether this process is a server re-executed by
// EnterRootless, and the host uid that started it.
func RootlessOwner() (int, bool) {
	v := os.Getenv(rootlessEnv)
	if v == "" {
		return 0, false
	}
	uid, err := strconv.Atoi(v)
	return uid, err == nil
}

// RootlessIDs are the ids of a rootless server's outer user namespace: its
// root is the user itself; ids 1..Count map onto the user's sub-id range.
type RootlessIDs struct {
	UID, GID int
	SubUID   SubIDRange
	SubGID   SubIDRange
}

// LookupRootlessIDs reads the current user's sub-id ranges.
func LookupRootlessIDs() (RootlessIDs, error) {
	uid, gid := os.Getuid(), os.Getgid()
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	su, err := ReadSubIDs(SubUIDFile, name, uid)
	if err != nil {
		return RootlessIDs{}, err
	}
	sg, err := ReadSubIDs(SubGIDFile, name, uid)
	if err != nil {
		return RootlessIDs{}, err
	}
	return RootlessIDs{UID: uid, GID: gid, SubUID: su, SubGID: sg}, nil
}

// Count is how many ids besides root the namespace maps (the smaller of
// the two ranges).
func (r RootlessIDs) Count() int { return min(r.SubUID.Count, r.SubGID.Count) }

// EnterRootless runs this binary again, with args and env, as the root of
// a new user namespace (and mount namespace) whose ids newuidmap and
// newgidmap map onto ids: 0 is the user, 1..Count the sub-id range. It
// waits for that process, passing on SIGTERM, SIGINT and SIGHUP, and
// returns its exit code. This is the only place newuidmap runs: jails
// live inside that namespace and need no helper of their own.
func EnterRootless(ids RootlessIDs, args, env []string) (int, error) {
	uidmap, err := exec.LookPath("newuidmap")
	if err != nil {
		return 0, errors.New("rootless mode needs newuidmap and newgidmap (Debian: apt-get install uidmap)")
	}
	gidmap, err := exec.LookPath("newgidmap")
	if err != nil {
		return 0, errors.New("rootless mode needs newgidmap (Debian: apt-get install uidmap)")
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("rootless: socket: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "idmap-ctl")
	theirs := os.NewFile(uintptr(pair[1]), "idmap-ctl-child")
	defer ours.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       args,
		Env:        append(append([]string(nil), env...), awaitIDMapEnv+"=1", rootlessEnv+"="+strconv.Itoa(ids.UID)),
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		theirs.Close()
		return 0, fmt.Errorf("rootless: start the server in a user namespace: %w", err)
	}
	theirs.Close()
	fail := func(err error) (int, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, err
	}
	buf := make([]byte, 1)
	if _, err := io.ReadFull(ours, buf); err != nil || buf[0] != 'r' {
		return fail(fmt.Errorf("rootless: the server did not wait for its id maps: %v", err))
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	for _, m := range []struct {
		tool string
		id   int
		r    SubIDRange
	}{{uidmap, ids.UID, ids.SubUID}, {gidmap, ids.GID, ids.SubGID}} {
		argv := []string{pid, "0", strconv.Itoa(m.id), "1", "1", strconv.Itoa(m.r.Start), strconv.Itoa(ids.Count())}
		if out, err := exec.Command(m.tool, argv...).CombinedOutput(); err != nil {
			return fail(fmt.Errorf("rootless: %s %v: %w: %s", filepath.Base(m.tool), argv, err, out))
		}
	}
	if _, err := ours.Write([]byte{'g'}); err != nil {
		return fail(fmt.Errorf("rootless: %w", err))
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	for {
		select {
		case s := <-sigs:
			_ = cmd.Process.Signal(s)
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
					return 128 + int(ws.Signal()), nil
				}
				return ee.ExitCode(), nil
			}
			if err != nil {
				return 0, fmt.Errorf("rootless: wait for the server: %w", err)
			}
			return 0, nil
		}
	}
}

// Overlay makes a host directory the server cannot reach visible at path
// Prefix inside its mount namespace, from a readable copy at Source (an
// interpreter built under /root, whose RUNPATH names its build prefix).
type Overlay struct {
	Prefix, Source string
}

// PrepareRootlessMounts runs once in a rootless server, in its own mount
// namespace: it stops mount events from reaching the host, then puts a
// tmpfs over the first unreachable ancestor of each overlay's prefix and
// binds the copy there, read-only. Overlays whose prefix is reachable are
// left alone.
func PrepareRootlessMounts(overlays []Overlay) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SLAVE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	covered := map[string]bool{} // tmpfs mounted on these
	for _, o := range overlays {
		if !filepath.IsAbs(o.Prefix) || !filepath.IsAbs(o.Source) {
			return fmt.Errorf("overlay %v: paths must be absolute", o)
		}
		if unix.Access(filepath.Join(o.Prefix, "bin"), unix.X_OK) == nil {
			continue
		}
		// A tmpfs mounted for an earlier overlay (pyenv's versions share
		// /root) already hides the host's directory: the prefix is made
		// in it, not covered again.
		if coveredAncestor(covered, o.Prefix) == "" {
			top := unreachableAncestor(o.Prefix)
			if top == "" {
				continue
			}
			if err := unix.Mount("tmpfs", top, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755,size=1m"); err != nil {
				return fmt.Errorf("cover %s: %w", top, err)
			}
			covered[top] = true
		}
		if err := os.MkdirAll(o.Prefix, 0o755); err != nil {
			return fmt.Errorf("mountpoint %s: %w", o.Prefix, err)
		}
		if err := unix.Mount(o.Source, o.Prefix, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s at %s: %w", o.Source, o.Prefix, err)
		}
		if err := unix.Mount("", o.Prefix, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
			return fmt.Errorf("make %s read-only: %w", o.Prefix, err)
		}
	}
	return nil
}

// coveredAncestor returns the directory of covered that is p or one of
// its ancestors, or "".
func coveredAncestor(covered map[string]bool, p string) string {
	for d := filepath.Clean(p); ; d = filepath.Dir(d) {
		if covered[d] {
			return d
		}
		if d == "/" {
			return ""
		}
	}
}

// unreachableAncestor returns the first directory on the way to p that
// this process cannot search, or "" when every one can be (or when a
// directory on the way does not exist: there is nothing to hide then).
func unreachableAncestor(p string) string {
	dir := "/"
	for _, part := range splitPath(p) {
		next := filepath.Join(dir, part)
		if err := unix.Access(next, unix.X_OK); err != nil {
			if errors.Is(err, unix.EACCES) {
				return next
			}
			return ""
		}
		dir = next
	}
	return ""
}

func splitPath(p string) []string {
	var parts []string
	for p = filepath.Clean(p); p != "/" && p != "."; p = filepath.Dir(p) {
		parts = append([]string{filepath.Base(p)}, parts...)
	}
	return parts
}
