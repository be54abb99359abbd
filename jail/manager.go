package jail

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/seccomp"
	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/cgroup"
)

// Config is the service-wide jail setup.
type Config struct {
	// StateDir holds libcontainer's state (run/), the shared read-only
	// root skeleton (rootfs/) and the per-jail work dirs (work/). Put it on
	// a tmpfs such as /run. Required.
	StateDir string
	// HostIDBase and HostIDCount are the host uid/gid range the jail's ids
	// 0..HostIDCount-1 map onto. HostIDBase must not be 0. Zero count:
	// 65536.
	HostIDBase, HostIDCount int
	// SandboxUID is the uid (and gid) the command runs as inside the jail.
	// Zero: 1000.
	SandboxUID int
	// BaseMounts are the host paths every jail sees read-only (symlinks,
	// like /bin -> usr/bin, are recreated as symlinks). Nil:
	// DefaultBaseMounts().
	BaseMounts []string
	// Mounts are the extra host directories that Specs may ask for
	// (interpreter prefixes); their mountpoints are made once.
	Mounts []string
	// BindTargets are the paths inside the jail where Spec.Binds may mount
	// (their mountpoints are made once, in the shared skeleton).
	BindTargets []string
	// Files are read-only files placed in every jail (path -> content),
	// such as the interpreter bootstrap.
	Files map[string][]byte
	// ZygoteCgroupJoiner maps CgroupJoinerID of each zygote's namespace
	// onto the server's own uid, and the zygote keeps it as its saved uid.
	// A rootless server on cgroup v1 needs it: v1 lets a task join a group
	// through a cgroup.procs opened by the server only when the task's uid
	// or saved uid is the server's. The namespace stays owned (and its
	// budgets charged) by the zygote's own unprivileged id; runs drop it.
	ZygoteCgroupJoiner bool
	// Network is how runs with Spec.Network reach the outside.
	Network NetConfig
	// AllowInotify lets jails use inotify (refused by default: on the
	// shared read-only mounts one jail could watch another's file opens).
	AllowInotify bool
	// ZygoteRuns is how many runs one zygote may have at once (each runs
	// as its own host uid). Zero: 64.
	ZygoteRuns int
	// ZygotePrepared is how many runs each zygote keeps forked ahead of
	// their requests: namespaces, cgroup, mounts and ids made, waiting for
	// the code (see Zygote.Start). Zero: 1; negative: none (every run is
	// forked when its request comes).
	ZygotePrepared int
	// MaxReportBytes caps what a run's report pipe keeps (the bootstrap's
	// report, with the figures and output files it sends back). Zero: 1 MiB.
	MaxReportBytes int64
	// StartThreads is how many jails may be starting at once. Each start
	// runs on an OS thread locked for the life of the Manager (see
	// spawner). Zero: 8.
	StartThreads int
	// Logger receives sweep and cleanup reports. Nil: discard.
	Logger *slog.Logger
}

// DefaultBaseMounts returns the host paths a jail sees when
// Config.BaseMounts is nil (those that exist on the host).
func DefaultBaseMounts() []string {
	// /etc/alternatives: Debian's /usr/bin links (awk, which, editor, ...)
	// point into it. /etc/fonts: fontconfig's settings (matplotlib lists
	// the fonts with it).
	return []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ssl", "/etc/alternatives", "/etc/fonts"}
}

// Manager starts jails. It is safe for concurrent use.
type Manager struct {
	cfg      Config
	log      *slog.Logger
	cg       *cgroup.Manager
	rootfs   string
	runDir   string
	workDir  string
	binds    []string // base mounts that are directories
	seccomp  *configs.Seccomp
	allowed  map[string]bool // Config.Mounts
	targets  map[string]bool // Config.BindTargets
	lockFile *os.File

	slots    *idSlots // the user namespaces jails join
	zslots   *idSlots // the user namespaces of zygotes
	bpf      []byte   // the runs' seccomp program (zygotes hand it on)
	zseccomp *configs.Seccomp
	spawn    chan func()    // served by the start threads
	cleanups sync.WaitGroup // jails being removed after their Wait

	netHelper string // the NAT helper; "" when netErr says why not
	netErr    error
	netDir    string // records of running NAT helpers (for Sweep)

	mu      sync.Mutex
	running map[string]*Jail
}

// New checks that the host can isolate jails (root, user namespaces,
// seccomp), takes the state dir, sweeps what a previous server left in
// it and in cg, and builds the shared root skeleton. It fails closed: no
// Manager, no jails.
func New(cfg Config, cg *cgroup.Manager) (*Manager, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := checkHost(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(cfg.StateDir)), 0o755); err != nil {
		return nil, fmt.Errorf("state dir: %w", err)
	}
	if err := checkReachable(cfg.StateDir); err != nil {
		return nil, err
	}
	if cfg.HostIDCount == 0 {
		cfg.HostIDCount = 65536
	}
	if cfg.SandboxUID == 0 {
		cfg.SandboxUID = 1000
	}
	if cfg.ZygoteRuns <= 0 {
		cfg.ZygoteRuns = 64
	}
	if cfg.SandboxUID+cfg.ZygoteRuns > CgroupJoinerID {
		return nil, fmt.Errorf("sandbox uid %d and %d runs per zygote reach id %d, which zygotes keep", cfg.SandboxUID, cfg.ZygoteRuns, CgroupJoinerID)
	}
	switch {
	case cfg.ZygotePrepared == 0:
		cfg.ZygotePrepared = 1
	case cfg.ZygotePrepared < 0:
		cfg.ZygotePrepared = 0
	}
	if cfg.ZygotePrepared >= cfg.ZygoteRuns {
		return nil, fmt.Errorf("%d prepared runs per zygote leave none of its %d run slots for requests", cfg.ZygotePrepared, cfg.ZygoteRuns)
	}
	if cfg.StartThreads <= 0 {
		cfg.StartThreads = 8
	}
	if cfg.BaseMounts == nil {
		cfg.BaseMounts = DefaultBaseMounts()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{
		cfg: cfg, log: log, cg: cg,
		rootfs:   filepath.Join(cfg.StateDir, "rootfs"),
		runDir:   filepath.Join(cfg.StateDir, "run"),
		workDir:  filepath.Join(cfg.StateDir, "work"),
		seccomp:  seccompProfile(cfg.AllowInotify),
		zseccomp: zygoteSeccomp(cfg.AllowInotify),
		allowed:  map[string]bool{},
		targets:  map[string]bool{},
		running:  map[string]*Jail{},
		spawn:    make(chan func()),
		netDir:   filepath.Join(cfg.StateDir, "net"),
	}
	// No NAT helper: runs with network are refused, the rest run.
	if m.netHelper, m.netErr = findNetHelper(cfg.Network); m.netErr != nil && !errors.Is(m.netErr, ErrNoNetwork) {
		return nil, m.netErr
	} else if m.netErr != nil {
		log.Warn("runs with network are refused", "reason", m.netErr)
	}
	// Zygote slots take the top of the id range, one-id slots the rest.
	zyg := maxZygotes * cfg.zygoteIDs()
	m.slots = &idSlots{m: m, make: m.newSlot, limit: (cfg.HostIDCount - zyg) / 2}
	m.zslots = &idSlots{m: m, make: m.newZygoteSlot, limit: maxZygotes}
	for _, p := range cfg.Mounts {
		m.allowed[filepath.Clean(p)] = true
	}
	for _, p := range cfg.BindTargets {
		m.targets[filepath.Clean(p)] = true
	}
	prog, err := compileBPF(m.seccomp)
	if err != nil {
		return nil, err
	}
	m.bpf = prog
	if err := m.lock(); err != nil {
		return nil, err
	}
	for _, d := range []string{m.runDir, m.workDir, m.netDir} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			m.Close()
			return nil, fmt.Errorf("make state dir: %w", err)
		}
	}
	if err := m.Sweep(); err != nil {
		m.Close()
		return nil, fmt.Errorf("sweep leftovers: %w", err)
	}
	if err := m.buildRootfs(); err != nil {
		m.Close()
		return nil, fmt.Errorf("build root skeleton: %w", err)
	}
	for i := 0; i < cfg.StartThreads; i++ {
		go m.spawner()
	}
	return m, nil
}

// spawner starts containers from an OS thread that never exits.
//
// A jail's init is forked (CLONE_PARENT) as a child of the thread that
// called fork, and its parent-death signal fires when that thread exits,
// not the process. libcontainer itself locks threads and lets them die
// (its mount-source helper), and the Go scheduler may have run that helper
// on the thread that forked an earlier jail, killing it. A goroutine locked
// to its thread for good keeps every other goroutine off that thread, so a
// jail started here dies only with the server.
func (m *Manager) spawner() {
	runtime.LockOSThread() // never unlocked: the thread lives as long as the process
	for f := range m.spawn {
		f()
	}
}

// onStartThread runs f on one of the start threads.
func (m *Manager) onStartThread(f func() error) error {
	done := make(chan error, 1)
	m.spawn <- func() { done <- f() }
	return <-done
}

func (c Config) validate() error {
	switch {
	case c.StateDir == "" || !filepath.IsAbs(c.StateDir):
		return fmt.Errorf("jail state dir %q: must be an absolute path", c.StateDir)
	case c.HostIDBase <= 0:
		return errors.New("jail host id base must be > 0: jail root must never be host root")
	case c.HostIDCount < 0 || c.SandboxUID < 0 || (c.HostIDCount > 0 && c.SandboxUID >= c.HostIDCount):
		return fmt.Errorf("jail ids: sandbox uid %d outside the mapped range of %d", c.SandboxUID, c.HostIDCount)
	}
	return nil
}

// maxZygotes is how many zygote slots the id range keeps (live zygotes,
// and their replacements while they are recycled).
const maxZygotes = 16

// checkHost fails when jails could not be isolated.
func checkHost() error {
	if os.Geteuid() != 0 {
		return errors.New("jails need root: run pyexecd as root (jail users map to an unprivileged host id range)")
	}
	if !seccomp.Enabled {
		return errors.New("this binary was built without seccomp support (build with cgo and -tags seccomp)")
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return fmt.Errorf("user namespaces unavailable: %w", err)
	}
	if b, err := os.ReadFile("/proc/sys/user/max_user_namespaces"); err == nil && strings.TrimSpace(string(b)) == "0" {
		return errors.New("user namespaces are disabled (user.max_user_namespaces = 0)")
	}
	return nil
}

// lock takes an exclusive lock on the state dir so that two servers never
// sweep each other's jails.
func (m *Manager) lock() error {
	if err := os.MkdirAll(m.cfg.StateDir, 0o711); err != nil {
		return fmt.Errorf("make state dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(m.cfg.StateDir, "lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("open state lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return fmt.Errorf("state dir %s is in use by another pyexecd: %w", m.cfg.StateDir, err)
	}
	m.lockFile = f
	return nil
}

// Quiesce waits until every finished jail has been removed.
func (m *Manager) Quiesce() { m.cleanups.Wait() }

// Close waits for finished jails to be removed and releases the state dir.
// Running jails are not stopped: kill them first.
func (m *Manager) Close() error {
	m.Quiesce()
	m.slots.close()
	m.zslots.close()
	if m.lockFile == nil {
		return nil
	}
	err := m.lockFile.Close()
	m.lockFile = nil
	return err
}

// Running returns how many jails exist now: running, pooled, or being
// removed.
func (m *Manager) Running() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.running)
}

// KillAll kills every running jail.
func (m *Manager) KillAll() {
	m.mu.Lock()
	jails := make([]*Jail, 0, len(m.running))
	for _, j := range m.running {
		jails = append(jails, j)
	}
	m.mu.Unlock()
	for _, j := range jails {
		j.Kill()
	}
}
