package jail

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Description is what the Manager enforces on every jail, for /health.
type Description struct {
	// Rootless: the server runs in a user namespace of an ordinary user;
	// ids are then those of that namespace (HostIDOffset turns them into
	// host ids).
	Rootless bool
	// IDBase and IDCount are the range jails map onto: jail slot n maps
	// its root to IDBase+2n and its sandbox user to IDBase+2n+1, so
	// concurrent jails never share a host uid. Neither is ever host root.
	IDBase, IDCount int
	// SandboxUID is the uid the code runs as inside the jail.
	SandboxUID int
	// Namespaces are the namespaces each jail gets besides its slot's user
	// namespace (owned by an unprivileged id, never by host root).
	Namespaces []string
	// Rlimits are the per-jail rlimits, by name.
	Rlimits []NamedLimit
	// Sysctls are the budgets of each jail's own user namespace.
	Sysctls map[string]string
	// Devices are the character devices a jail sees (the cgroup device
	// rules allow these and nothing else).
	Devices []string
	// SupplementaryGroups is empty: jails run with no host groups.
	SupplementaryGroups []int
	// SocketFamilies are the only socket families seccomp lets a jail open.
	SocketFamilies []string
	// Inotify: seccomp lets jails use inotify (Config.AllowInotify).
	Inotify bool
	// ZygoteIDs is how many ids each zygote slot takes, from the top of the
	// range down: its root (the namespace's owner), then one per
	// concurrent run (the code's host uid).
	ZygoteIDs int
	// ZygoteCgroupJoiner: zygotes keep the server's uid as their saved uid
	// (Config.ZygoteCgroupJoiner).
	ZygoteCgroupJoiner bool
}

// NamedLimit is one rlimit.
type NamedLimit struct {
	Name  string
	Value uint64
}

func rlimitName(r int) string {
	switch r {
	case unix.RLIMIT_CORE:
		return "core"
	case unix.RLIMIT_NOFILE:
		return "nofile"
	case unix.RLIMIT_FSIZE:
		return "fsize"
	case unix.RLIMIT_SIGPENDING:
		return "sigpending"
	case unix.RLIMIT_MSGQUEUE:
		return "msgqueue"
	}
	return fmt.Sprint(r)
}

// Describe reports what m applies to every jail; disk is the default disk
// size (the file-size rlimit follows it).
func (m *Manager) Describe(rootless bool, disk int64) Description {
	d := Description{
		Rootless: rootless, IDBase: m.cfg.HostIDBase, IDCount: m.cfg.HostIDCount,
		SandboxUID: m.cfg.SandboxUID,
		Namespaces: []string{"mount", "pid", "ipc", "uts", "cgroup", "net"},
		Sysctls:    perJailSysctls(), SupplementaryGroups: []int{},
		SocketFamilies: []string{"AF_UNIX", "AF_INET", "AF_INET6", "AF_NETLINK (NETLINK_ROUTE only)"},
		Inotify:        m.cfg.AllowInotify,
		ZygoteIDs:      m.cfg.zygoteIDs(), ZygoteCgroupJoiner: m.cfg.ZygoteCgroupJoiner,
	}
	for _, r := range jailRlimits(Limits{DiskBytes: disk}.withDefaults()) {
		d.Rlimits = append(d.Rlimits, NamedLimit{Name: rlimitName(r.Type), Value: r.Hard})
	}
	for _, dev := range jailDevices {
		d.Devices = append(d.Devices, dev.Path)
	}
	return d
}
