package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/jail"
)

// enforcement is what /health says every jail gets: the jail manager's and
// the cgroup manager's own descriptions, in host terms.
func enforcement(d jail.Description, cg *cgroup.Manager, limitsOff []string) api.Enforcement {
	ctl := cg.Controllers()
	first := hostIDOf(d.IDBase)
	mode := "root"
	top := hostIDOf(d.IDBase+d.IDCount-1) + 1 // just past the range
	owner := fmt.Sprintf("host uid %d+2n for jail slot n and %d-%d*(k+1) for zygote k (unprivileged ids of the range), never root", first, top, d.ZygoteIDs)
	if d.ZygoteCgroupJoiner {
		owner += fmt.Sprintf("; zygotes keep the service user (uid %d) as saved uid only, to join their runs to cgroup v1 groups; runs drop it", hostIDOf(0))
	}
	if d.Rootless {
		mode = "rootless"
		owner += fmt.Sprintf("; every slot is nested in the user namespace of host uid %d, the service user", hostIDOf(0))
	}
	e := api.Enforcement{
		UserNamespace: true, Seccomp: true, NoNewPrivs: true,
		Namespaces:  append([]string{"user"}, d.Namespaces...),
		CgroupMode:  cg.Mode().String(),
		MemoryLimit: ctl.Memory, CPULimit: ctl.CPU, PidsLimit: ctl.Pids,
		Mode: mode,
		IDs: &api.IDMap{
			FirstHostID: first, Count: d.IDCount, IDsPerJail: 2, SandboxUID: d.SandboxUID,
			CodeHostUIDs:   fmt.Sprintf("%d+2n+1 for jail slot n, and zygote k's root+1+r for its concurrent run r: concurrent jails never share one", first),
			NamespaceOwner: owner,
		},
		Cgroup:               &api.CgroupInfo{Version: cg.Mode().String(), Parent: cg.Parent(), Delegated: d.Rootless},
		UserNamespaceSysctls: d.Sysctls,
		Devices:              d.Devices,
		SupplementaryGroups:  d.SupplementaryGroups,
	}
	v2 := cg.Mode() == cgroup.ModeUnified
	file := func(v1, v2name string) string {
		if v2 {
			return "cgroup " + v2name
		}
		return "cgroup " + v1
	}
	e.Limits = []api.LimitEnforcement{
		{Name: "memory", Enforced: ctl.Memory, By: file("memory.limit_in_bytes, memsw (swap off)", "memory.max, memory.swap.max=0")},
		{Name: "pids", Enforced: ctl.Pids, By: file("pids.max", "pids.max")},
		{Name: "cpu", Enforced: ctl.CPU, By: file("cpu.shares, cpu.cfs_quota_us", "cpu.weight, cpu.max")},
		{Name: "disk", Enforced: true, By: "tmpfs size of /work and /tmp"},
		{Name: "timeout", Enforced: true, By: "the server kills the jail's pid namespace and cgroup"},
		{Name: "output", Enforced: true, By: "the server keeps at most max_output_bytes of each stream"},
		{Name: "socket_families", Enforced: true, By: "seccomp allows only " + strings.Join(d.SocketFamilies, ", ")},
		{Name: "inotify_refused", Enforced: !d.Inotify, By: "seccomp (jail.allow_inotify false)"},
	}
	for _, r := range d.Rlimits {
		e.Limits = append(e.Limits, api.LimitEnforcement{Name: "rlimit_" + r.Name, Enforced: true, By: fmt.Sprintf("rlimit %d", r.Value)})
	}
	for _, name := range limitsOff {
		for i := range e.Limits {
			if e.Limits[i].Name == name {
				e.Limits[i].Enforced, e.Limits[i].By = false, "not applied (jail.allow_unenforced_limits)"
			}
		}
	}
	return e
}

// hostIDOf maps an id of this process's user namespace to the host id
// (the same id as root; through the sub-id range rootless).
func hostIDOf(id int) int {
	for _, m := range uidMap() {
		if id >= m.inside && id < m.inside+m.count {
			return m.outside + id - m.inside
		}
	}
	return id
}

// idRange is one line of /proc/self/uid_map.
type idRange struct{ inside, outside, count int }

// uidMap reads this process's uid map; nil when unreadable.
func uidMap() []idRange {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return nil
	}
	var out []idRange
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		var r idRange
		if _, err := fmt.Sscan(line, &r.inside, &r.outside, &r.count); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// unenforced names the limits the cgroups cannot enforce.
func unenforced(ctl cgroup.Controllers) []string {
	var off []string
	if !ctl.Memory {
		off = append(off, "memory")
	}
	if !ctl.Pids {
		off = append(off, "pids")
	}
	if !ctl.CPU {
		off = append(off, "cpu")
	}
	return off
}
