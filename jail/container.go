package jail

import (
	"fmt"
	"strconv"

	"github.com/opencontainers/cgroups"
	// The device rule manager: without it libcontainer refuses device rules.
	_ "github.com/opencontainers/cgroups/devices"
	devices "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

const (
	roBind    = unix.MS_BIND | unix.MS_REC | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
	tmpfsFlag = unix.MS_NOSUID | unix.MS_NODEV
)

// charDevice is a host device bound into the jail (user namespaces cannot
// mknod).
func charDevice(path string, major, minor int64) *devices.Device {
	return &devices.Device{
		Rule: devices.Rule{Type: devices.CharDevice, Major: major, Minor: minor,
			Permissions: "rwm", Allow: true},
		Path: path, FileMode: 0o666,
	}
}

var (
	jailDevices = []*devices.Device{
		charDevice("/dev/null", 1, 3),
		charDevice("/dev/zero", 1, 5),
		charDevice("/dev/full", 1, 7),
		charDevice("/dev/random", 1, 8),
		charDevice("/dev/urandom", 1, 9),
	}
	deviceRules = func() []*devices.Rule {
		rules := make([]*devices.Rule, len(jailDevices))
		for i, d := range jailDevices {
			rules[i] = &d.Rule
		}
		return rules
	}()
)

// containerConfig is the libcontainer configuration of one jail.
func (m *Manager) containerConfig(spec *Spec, slot *idSlot, cgroupPath, workDir string) (*configs.Config, error) {
	l := spec.Limits
	mounts := []*configs.Mount{
		{Source: "proc", Destination: "/proc", Device: "proc", Flags: unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=64k"},
		{Source: "shm", Destination: "/dev/shm", Device: "tmpfs", Flags: tmpfsFlag | unix.MS_NOEXEC, Data: fmt.Sprintf("mode=1777,size=%d", min(l.DiskBytes, 64<<20))},
		{Source: "tmpfs", Destination: "/tmp", Device: "tmpfs", Flags: tmpfsFlag, Data: fmt.Sprintf("mode=1777,size=%d", l.DiskBytes)},
		{Source: workDir, Destination: "/work", Device: "bind", Flags: unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV},
	}
	for _, p := range m.binds {
		mounts = append(mounts, &configs.Mount{Source: p, Destination: p, Device: "bind", Flags: roBind})
	}
	for _, p := range spec.Mounts {
		if !m.allowed[p] {
			return nil, fmt.Errorf("mount %s: not among the manager's mounts", p)
		}
		mounts = append(mounts, &configs.Mount{Source: p, Destination: p, Device: "bind", Flags: roBind})
	}
	for _, b := range spec.Binds {
		if !m.targets[b.Target] {
			return nil, fmt.Errorf("bind target %s: not among the manager's bind targets", b.Target)
		}
		// Not recursive: a jail must not hold mounts made below Source
		// later (an install's tmpfs inside the layer cache).
		flags := unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV
		if b.Writable {
			flags = unix.MS_BIND | unix.MS_NOSUID | unix.MS_NODEV
		}
		mounts = append(mounts, &configs.Mount{Source: b.Source, Destination: b.Target, Device: "bind", Flags: flags})
	}

	ns := configs.Namespaces{
		// The slot's user namespace, owned by an unprivileged host uid.
		{Type: configs.NEWUSER, Path: slot.nsPath}, {Type: configs.NEWNS}, {Type: configs.NEWPID},
		{Type: configs.NEWIPC}, {Type: configs.NEWUTS}, {Type: configs.NEWCGROUP},
	}
	// A network namespace of its own, loopback only; with Spec.Network the
	// NAT helper adds its tap before the code starts (attachNet).
	var networks []*configs.Network
	if !spec.HostNetwork {
		ns = append(ns, configs.Namespace{Type: configs.NEWNET})
		networks = []*configs.Network{{Type: "loopback", Address: "127.0.0.1/8", Gateway: "localhost"}}
	}
	ids := slot.idMaps(m.cfg.SandboxUID)
	sysctls := perJailSysctls()
	if spec.Network {
		// The NAT helper's tap gets no IPv6 (the helper runs IPv4 only):
		// no link-local address, no route.
		sysctls["net.ipv6.conf.default.disable_ipv6"] = "1"
	}
	oomScore := 1000 // under host memory pressure, jails go first
	return &configs.Config{
		Rootfs:          m.rootfs,
		Readonlyfs:      true,
		RootPropagation: unix.MS_SLAVE | unix.MS_REC,
		Mounts:          mounts,
		Devices:         jailDevices,
		Hostname:        "pyexec",
		Namespaces:      ns,
		Networks:        networks,
		UIDMappings:     ids,
		GIDMappings:     ids,
		Capabilities:    &configs.Capabilities{},
		NoNewPrivileges: true,
		Seccomp:         m.seccomp,
		OomScoreAdj:     &oomScore,
		Cgroups: &cgroups.Cgroup{
			Path: cgroupPath,
			// Memory, CPU and pids limits are written by package cgroup;
			// libcontainer joins the group and writes only the device
			// allowlist (the jail's five character devices, nothing else).
			Resources: &cgroups.Resources{Devices: deviceRules},
		},
		// The slot namespace's own budgets (per user in it); what its owner
		// is charged on the host stays below the host's per-user defaults.
		Sysctl: sysctls,

		MaskPaths: []string{
			"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
			"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
			"/proc/interrupts", "/proc/sysrq-trigger",
		},
		ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"},
	}, nil
}

// jailRlimits are the rlimits of a jail's init, set by the slot's holder
// (see idSlot.setRlimits) before the command runs, not by libcontainer.
func jailRlimits(l Limits) []configs.Rlimit {
	nofile := uint64(1024)
	// Files cannot outgrow the tmpfs anyway; the rlimit sits above it so
	// that a full disk reads as ENOSPC, not EFBIG.
	fsize := uint64(l.DiskBytes + 1<<20)
	return []configs.Rlimit{
		{Type: unix.RLIMIT_CORE, Hard: 0, Soft: 0},
		{Type: unix.RLIMIT_NOFILE, Hard: nofile, Soft: nofile},
		{Type: unix.RLIMIT_FSIZE, Hard: fsize, Soft: fsize},
		{Type: unix.RLIMIT_SIGPENDING, Hard: sigPending, Soft: sigPending},
		{Type: unix.RLIMIT_MSGQUEUE, Hard: msgQueueBytes, Soft: msgQueueBytes},
	}
}

// zygoteRlimits are a zygote's own: it holds the descriptors of the runs it
// is making (each run sets its own limits).
func zygoteRlimits() []configs.Rlimit {
	return []configs.Rlimit{
		{Type: unix.RLIMIT_CORE, Hard: 0, Soft: 0},
		{Type: unix.RLIMIT_NOFILE, Hard: 8192, Soft: 8192},
	}
}

// Per-jail budgets of what the kernel counts per user. A jail's slot has
// its own owner, so these bound one jail; in rootless mode every slot is
// nested in the service user's namespace and these keep one jail from
// taking that user's whole host budget (128 inotify instances by default).
const (
	sigPending    = 1024
	msgQueueBytes = 256 << 10
)

func perJailSysctls() map[string]string {
	return map[string]string{
		"user.max_inotify_instances": "16",
		"user.max_inotify_watches":   "8192",
		"user.max_fanotify_groups":   "0",
		"user.max_fanotify_marks":    "0",
	}
}

// zygoteCaps are what a zygote keeps, in its own user namespace only: what
// making a run's namespaces, mounts and uid takes. Every run drops them all
// before its code starts.
func zygoteCaps() *configs.Capabilities {
	caps := []string{"CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_CHOWN",
		"CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_NET_ADMIN",
		// Mapping its root into a run's own user namespace (the kernel
		// asks for it when the map holds the creator's uid as root).
		"CAP_SETFCAP"}
	return &configs.Capabilities{Bounding: caps, Effective: caps, Permitted: caps}
}

// zygoteConfig is the libcontainer configuration of a zygote's template
// jail: a jail's, with the zygote's capabilities and looser filter, no
// user namespaces of its own to make (user.max_user_namespaces 0), and its
// process in the leaf cgroupPath of its group, whose other children are its
// runs' groups.
func (m *Manager) zygoteConfig(spec *Spec, slot *idSlot, cgroupPath, workDir string) (*configs.Config, error) {
	cfg, err := m.containerConfig(spec, slot, cgroupPath, workDir)
	if err != nil {
		return nil, err
	}
	cfg.Capabilities = zygoteCaps()
	cfg.Seccomp = m.zseccomp
	// Each run makes one user namespace (its code's); nothing else does.
	cfg.Sysctl["user.max_user_namespaces"] = strconv.Itoa(m.cfg.ZygoteRuns)
	// The kernel counts a run's inotify use in every namespace above it:
	// the zygote's allows each run its budget (set by the run in its own
	// namespace), so that runs do not share one.
	for _, k := range []string{"user.max_inotify_instances", "user.max_inotify_watches"} {
		n, err := strconv.Atoi(cfg.Sysctl[k])
		if err != nil {
			return nil, fmt.Errorf("sysctl %s: %w", k, err)
		}
		cfg.Sysctl[k] = strconv.Itoa(n * max(m.cfg.ZygoteRuns, 1))
	}
	return cfg, nil
}
