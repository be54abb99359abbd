package jail

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// An idSlot is one user namespace that jails join, one jail at a time. It
// is owned by an unprivileged host uid of the configured range, so that
// what a jail holds (inotify instances, queued signals, message queues,
// pipe pages, the namespaces themselves) is charged to that uid and to
// nobody else: not to host root, not to the server, not to a jail in
// another slot. Slot n maps the jail's root to host id base+2n and its
// sandbox user to base+2n+1; concurrent jails therefore always run as
// distinct host uids.
type idSlot struct {
	n         int
	rootID    int  // host uid and gid of the jail's root (and the namespace's owner)
	sandboxID int  // host uid and gid of the jail's sandbox user (the first one)
	runs      int  // sandbox ids mapped: 1, or a zygote's concurrent runs
	joiner    bool // CgroupJoinerID is mapped onto the server's uid
	nsPath    string
	holder    *os.Process
	ctlMu     sync.Mutex
	ctl       *os.File      // the holder's request socket
	dead      chan struct{} // closed when the holder exited
	exit      string        // how the holder ended; read after dead is closed
}

// alive reports whether the slot's namespace is still held.
func (s *idSlot) alive() bool {
	select {
	case <-s.dead:
		return false
	default:
		return true
	}
}

// idMaps are the slot's uid and gid maps as libcontainer wants them
// (it uses them to know whom to chown /dev and the like to).
func (s *idSlot) idMaps(sandboxUID int) []configs.IDMap {
	return []configs.IDMap{
		{ContainerID: 0, HostID: int64(s.rootID), Size: 1},
		{ContainerID: int64(sandboxUID), HostID: int64(s.sandboxID), Size: int64(s.runs)},
	}
}

// maxRlimits is how many limits one holder request carries
// (pyexec_rlimit_req in preinit_linux.go).
const maxRlimits = 8

// setRlimits has the slot's holder lower pid's rlimits: pid is a jail's
// init in the slot's namespace, stopped before it runs the command.
func (s *idSlot) setRlimits(pid int, limits []configs.Rlimit) error {
	if len(limits) > maxRlimits {
		return fmt.Errorf("set rlimits: %d limits, at most %d", len(limits), maxRlimits)
	}
	req := make([]byte, 8+maxRlimits*24)
	binary.NativeEndian.PutUint32(req[0:], uint32(pid))
	binary.NativeEndian.PutUint32(req[4:], uint32(len(limits)))
	for i, l := range limits {
		// The holder, unprivileged on the host, may lower a hard limit but
		// not raise it: never ask for more than the init inherited from
		// this process (a server started with the kernel's default hard
		// RLIMIT_NOFILE of 4096 would otherwise get EPERM for a zygote).
		var own unix.Rlimit
		if err := unix.Getrlimit(int(l.Type), &own); err == nil {
			l.Hard = min(l.Hard, own.Max)
			l.Soft = min(l.Soft, l.Hard)
		}
		b := req[8+i*24:]
		binary.NativeEndian.PutUint32(b[0:], uint32(l.Type))
		binary.NativeEndian.PutUint64(b[8:], l.Soft)
		binary.NativeEndian.PutUint64(b[16:], l.Hard)
	}
	s.ctlMu.Lock()
	defer s.ctlMu.Unlock()
	if err := s.ctl.SetDeadline(time.Now().Add(holderReadyTimeout)); err != nil {
		return fmt.Errorf("set rlimits: %w", err)
	}
	if _, err := s.ctl.Write(req); err != nil {
		return fmt.Errorf("set rlimits: holder: %w", err)
	}
	ans := make([]byte, 4)
	if _, err := io.ReadFull(s.ctl, ans); err != nil {
		return fmt.Errorf("set rlimits: holder: %w", err)
	}
	if errno := syscall.Errno(binary.NativeEndian.Uint32(ans)); errno != 0 {
		return fmt.Errorf("set rlimits of %d: %w", pid, errno)
	}
	return nil
}

// idSlots hands out slots; a released slot is reused by a later jail.
type idSlots struct {
	m     *Manager
	make  func(n int) (*idSlot, error)
	mu    sync.Mutex
	free  []*idSlot
	all   []*idSlot
	made  int
	limit int // HostIDCount/2
}

// acquire returns a free slot, making one when none is free.
func (s *idSlots) acquire() (*idSlot, error) {
	s.mu.Lock()
	for len(s.free) > 0 {
		sl := s.free[len(s.free)-1]
		s.free = s.free[:len(s.free)-1]
		if sl.alive() {
			s.mu.Unlock()
			return sl, nil
		}
		// Its holder died (killed from outside): the slot's ids are free
		// again once its jail is gone, which it is, being released.
		s.m.log.Warn("user namespace holder died; making a new one", "slot", sl.n)
		s.mu.Unlock()
		return s.remake(sl)
	}
	if s.made >= s.limit {
		s.mu.Unlock()
		return nil, fmt.Errorf("no free jail id slot: all %d in use (raise jail.host_id_count)", s.limit)
	}
	n := s.made
	s.made++
	s.mu.Unlock()
	sl, err := s.make(n)
	if err != nil {
		s.mu.Lock()
		// Give the number back so that a later try reuses it.
		s.free = append(s.free, &idSlot{n: n, dead: closedChan()})
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	s.all = append(s.all, sl)
	s.mu.Unlock()
	return sl, nil
}

func (s *idSlots) remake(old *idSlot) (*idSlot, error) {
	sl, err := s.make(old.n)
	if err != nil {
		s.mu.Lock()
		s.free = append(s.free, old)
		s.mu.Unlock()
		return nil, err
	}
	s.mu.Lock()
	s.all = append(s.all, sl)
	s.mu.Unlock()
	return sl, nil
}

// release returns a slot whose jail is gone (no task of it is left).
func (s *idSlots) release(sl *idSlot) {
	if sl == nil {
		return
	}
	s.mu.Lock()
	s.free = append(s.free, sl)
	s.mu.Unlock()
}

// close kills every holder.
func (s *idSlots) close() {
	s.mu.Lock()
	all := s.all
	s.all, s.free = nil, nil
	s.mu.Unlock()
	for _, sl := range all {
		if sl.holder != nil {
			_ = sl.holder.Kill()
			<-sl.dead
			sl.ctl.Close()
		}
	}
}

// inUse counts the slots that hold a jail now.
func (s *idSlots) inUse() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.made - len(s.free)
}

func closedChan() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}

// holderReadyTimeout bounds the start of a holder process.
const holderReadyTimeout = 10 * time.Second

// newSlot starts the holder of slot n: this binary, started as the slot's
// root id with no supplementary groups, which unshares a user namespace
// before its Go runtime starts (pyexec_preinit); the server then writes
// the namespace's id maps. The holder is started from a start thread, so
// its parent-death signal fires only when the server dies.
func (m *Manager) newSlot(n int) (*idSlot, error) {
	sl := &idSlot{n: n, rootID: m.cfg.HostIDBase + 2*n, sandboxID: m.cfg.HostIDBase + 2*n + 1, runs: 1, dead: make(chan struct{})}
	return m.startHolder(sl)
}

// CgroupJoinerID is the id of a zygote's namespace that
// Config.ZygoteCgroupJoiner maps onto the server's uid (the bootstrap's
// _ZJOINER): above every sandbox id.
const CgroupJoinerID = 65533

// zygoteIDs is how many ids a zygote slot takes: its root and one per run.
func (c Config) zygoteIDs() int { return 1 + c.ZygoteRuns }

// newZygoteSlot makes zygote slot n, from the top of the id range down:
// its root is one id, and runs get the ZygoteRuns ids above it (the jail's
// SandboxUID and up), so that concurrent runs of one zygote never share a
// host uid either.
func (m *Manager) newZygoteSlot(n int) (*idSlot, error) {
	w := m.cfg.zygoteIDs()
	root := m.cfg.HostIDBase + m.cfg.HostIDCount - (n+1)*w
	sl := &idSlot{n: n, rootID: root, sandboxID: root + 1, runs: m.cfg.ZygoteRuns, dead: make(chan struct{}),
		joiner: m.cfg.ZygoteCgroupJoiner}
	return m.startHolder(sl)
}

// startHolder starts the holder of sl's user namespace and writes its maps.
func (m *Manager) startHolder(sl *idSlot) (*idSlot, error) {
	n := sl.n
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("holder socket: %w", err)
	}
	// Non-blocking, so that the runtime poller can time out our reads.
	if err := unix.SetNonblock(pair[0], true); err != nil {
		unix.Close(pair[0])
		unix.Close(pair[1])
		return nil, fmt.Errorf("holder socket: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "holder-ctl")
	theirs := os.NewFile(uintptr(pair[1]), "holder-ctl-child")
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{"pyexec-userns-holder"},
		Env:        []string{holderEnv + "=1"},
		Dir:        "/",
		ExtraFiles: []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{
			Credential: &syscall.Credential{Uid: uint32(sl.rootID), Gid: uint32(sl.rootID), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
			Setsid:     true,
		},
	}
	err = m.onStartThread(cmd.Start)
	theirs.Close()
	if err != nil {
		ours.Close()
		return nil, fmt.Errorf("start user namespace holder: %w", err)
	}
	sl.ctl = ours
	sl.holder = cmd.Process
	go func() {
		if err := cmd.Wait(); err != nil {
			sl.exit = err.Error()
		}
		close(sl.dead)
	}()
	fail := func(err error) (*idSlot, error) {
		_ = cmd.Process.Kill()
		<-sl.dead
		ours.Close()
		return nil, err
	}
	if err := ours.SetDeadline(time.Now().Add(holderReadyTimeout)); err != nil {
		return fail(fmt.Errorf("user namespace holder: %w", err))
	}
	buf := make([]byte, 1)
	if _, err := ours.Read(buf); err != nil || buf[0] != 'r' {
		_ = cmd.Process.Kill()
		<-sl.dead
		ours.Close()
		return nil, fmt.Errorf("user namespace holder did not get ready (%s): %w", sl.exit, errors.Join(err, errHolder))
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	maps := fmt.Sprintf("0 %d 1\n%d %d %d\n", sl.rootID, m.cfg.SandboxUID, sl.sandboxID, sl.runs)
	if sl.joiner {
		maps += fmt.Sprintf("%d %d 1\n", CgroupJoinerID, os.Geteuid())
	}
	for _, f := range []string{"uid_map", "gid_map"} {
		if err := os.WriteFile("/proc/"+pid+"/"+f, []byte(maps), 0); err != nil {
			return fail(fmt.Errorf("write holder %s: %w", f, err))
		}
	}
	if _, err := ours.Write([]byte{'g'}); err != nil {
		return fail(fmt.Errorf("user namespace holder: %w", err))
	}
	if err := ours.SetDeadline(time.Time{}); err != nil {
		return fail(fmt.Errorf("user namespace holder: %w", err))
	}
	sl.nsPath = "/proc/" + pid + "/ns/user"
	m.log.Debug("user namespace slot ready", "slot", n, "owner", sl.rootID, "sandbox", sl.sandboxID)
	return sl, nil
}

// errHolder marks a holder that did not start.
var errHolder = errors.New("cannot create a user namespace as an unprivileged id")
