package jail

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/pyexec/pyexec/cgroup"
)

// File is one entry to place in the jail's /work before the command
// starts. Path is slash-separated and relative; Mode holds the permission
// bits plus fs.ModeDir or fs.ModeSymlink for directories and links.
type File struct {
	Path     string
	Mode     fs.FileMode
	Data     []byte
	Linkname string
}

// Bind mounts host directory Source at Target inside the jail.
type Bind struct {
	Source, Target string
	// Writable leaves the mount read-write; the jail's sandbox user must
	// own Source (host uid HostIDBase+SandboxUID) to write to it.
	Writable bool
}

// Limits bound one jail. Zero Timeout, DiskBytes or MaxOutputBytes take
// the defaults below; zero cgroup limits mean unlimited.
type Limits struct {
	cgroup.Limits
	// DiskBytes sizes each of the tmpfs /work and /tmp. Zero: 64 MiB.
	DiskBytes int64
	// Timeout is the wall-clock limit from start to exit. Zero: 30 s.
	Timeout time.Duration
	// MaxOutputBytes caps what is kept of stdout and of stderr each; the
	// rest is read, counted and dropped, and a stream that goes 16 MiB past
	// it stops the run (Result.OutputLimit). Zero: 1 MiB.
	MaxOutputBytes int64
}

const (
	defaultDisk    = 64 << 20
	defaultTimeout = 30 * time.Second
	defaultOutput  = 1 << 20
	maxReportBytes = 1 << 20
)

// reportMax is what a report pipe keeps (Config.MaxReportBytes).
func (m *Manager) reportMax() int64 {
	if m.cfg.MaxReportBytes > 0 {
		return m.cfg.MaxReportBytes
	}
	return maxReportBytes
}

func (l Limits) withDefaults() Limits {
	if l.DiskBytes <= 0 {
		l.DiskBytes = defaultDisk
	}
	if l.Timeout <= 0 {
		l.Timeout = defaultTimeout
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = defaultOutput
	}
	return l
}

// Spec is one run.
type Spec struct {
	// Args is the command, absolute path first.
	Args []string
	// Env is the complete environment of the command.
	Env []string
	// Mounts are extra host directories bound read-only at the same path
	// (an interpreter's prefix). Each must be one the Manager was told
	// about in Config.Mounts, so its mountpoint exists.
	Mounts []string
	// Binds are extra host directories mounted at targets the Manager was
	// told about in Config.BindTargets (a dependency layer, read-only; an
	// install's output dir, writable).
	Binds []Bind
	// Files are placed in /work, owned by the sandbox user.
	Files []File
	// Stdin is the command's standard input.
	Stdin []byte
	// Limits bound the run.
	Limits Limits
	// Network gives the jail a network namespace of its own with a
	// user-mode NAT to the outside (NetConfig: the host, link-local and
	// private ranges stay unreachable); false (the default), only
	// loopback. Start fails with ErrNoNetwork when no NAT helper is
	// available.
	Network bool
	// HostNetwork leaves the jail in the host's network namespace. Only for
	// jails of the server's own choosing whose network the operator
	// configured (a package install from a configured index, which may be
	// on the host's loopback); never for a request's code.
	HostNetwork bool
	// Report, when true, opens descriptor 3 in the jail as the write end of
	// a pipe whose content comes back in Result.Report.
	Report bool
	// Status, with Report, opens the next descriptor after the report and
	// a warm jail's control pipe (4, or 5) as the write end of a pipe on
	// which the command writes how it ended, one line "exit N", before it
	// leaves (the bootstrap's -t). Wait returns on that line, without
	// waiting for the jail's init to end and its namespaces to be torn
	// down; without a line it waits for the init's exit.
	Status bool
}

// Result is what one run did.
type Result struct {
	// ExitCode is the command's exit status, or 128+signal when a signal
	// ended it.
	ExitCode int
	// Signal is the signal that ended the command, 0 if it exited.
	Signal syscall.Signal
	// Stdout and Stderr hold at most Limits.MaxOutputBytes each.
	Stdout, Stderr []byte
	// StdoutBytes and StderrBytes count everything written, kept or not.
	StdoutBytes, StderrBytes int64
	StdoutTruncated          bool
	StderrTruncated          bool
	// Report is what the command wrote to descriptor 3 (Spec.Report).
	Report []byte
	// TimedOut: the wall-clock limit ended the run.
	TimedOut bool
	// OOMKilled: the kernel killed a task for exceeding the memory limit.
	OOMKilled bool
	// Killed: the run was stopped by Kill or by its context.
	Killed bool
	// OutputLimit: the run was stopped because a stream went 16 MiB past
	// MaxOutputBytes.
	OutputLimit bool
	// Usage is what the jail's cgroup measured.
	Usage cgroup.Usage
	// Duration is the wall time from start of the container to its exit.
	Duration time.Duration
}
