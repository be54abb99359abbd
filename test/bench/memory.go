package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// usage is the memory of a set of processes, from /proc/<pid>/smaps_rollup
// (bytes; PSS divides each shared page among the processes that map it).
type usage struct {
	procs, groups int // processes; for zygotes, how many zygotes they are
	rss, pss      int64
}

// idle is what a server holds while nothing runs.
type idle struct {
	server  usage // pyexecd, and its rootless parent if it has one
	holders usage // the server's user-namespace holders (pyexec-holder)
	zygotes usage // each zygote (its leaf group "z") and the runs it prepared
	pool    usage // the pooled jails' processes (every other group)
}

// idleMemory reads the memory of s's processes: its own tree outside its
// jails' cgroups, and the jails' processes sorted by their cgroup.
func (s *server) idleMemory() idle {
	var m idle
	zygotes := map[string]bool{}
	tree := descendants(s.cmd.Process.Pid)
	for _, pid := range allPids() {
		path, ok := jailGroup(pid, s.cg)
		switch {
		case ok && filepath.Base(path) == "z":
			m.zygotes.add(pid)
			zygotes[filepath.Dir(path)] = true
		case ok && comm(pid) == preparedComm:
			m.zygotes.add(pid)
		case ok:
			m.pool.add(pid)
		case tree[pid] && comm(pid) == holderComm:
			m.holders.add(pid)
		case tree[pid]:
			m.server.add(pid)
		}
	}
	m.zygotes.groups = len(zygotes)
	return m
}

// preparedComm names the processes of a run a zygote forked ahead of its
// request (jail.PreparedComm).
const preparedComm = "pyexec-prep"

// holderComm names the server's user-namespace holders: processes of its
// own binary, one per namespace slot in use, that hold a namespace open.
const holderComm = "pyexec-holder"

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(b))
}

// plus is u and v together.
func (u usage) plus(v usage) usage {
	return usage{procs: u.procs + v.procs, groups: u.groups + v.groups, rss: u.rss + v.rss, pss: u.pss + v.pss}
}

func (u *usage) add(pid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return // ended meanwhile
	}
	u.procs++
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			u.rss += kb << 10
		case "Pss:":
			u.pss += kb << 10
		}
	}
}

// perGroup is u divided among its groups (zero without any).
func (u usage) perGroup() usage {
	if u.groups == 0 {
		return usage{}
	}
	return usage{procs: u.procs / u.groups, groups: 1, rss: u.rss / int64(u.groups), pss: u.pss / int64(u.groups)}
}

// jailGroup is the path below parent of pid's memory cgroup (v1) or of its
// only group (v2), when pid is in one of parent's groups.
func jailGroup(pid int, parent string) (string, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", false
	}
	var unified string
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-id:controllers:path
		f := strings.SplitN(line, ":", 3)
		switch {
		case len(f) != 3:
		case f[1] == "memory":
			return strings.CutPrefix(f[2], "/"+parent+"/")
		case f[0] == "0":
			unified = f[2]
		}
	}
	return strings.CutPrefix(unified, "/"+parent+"/")
}

func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// descendants is root and every process below it.
func descendants(root int) map[int]bool {
	children := map[int][]int{}
	for _, pid := range allPids() {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := map[int]bool{}
	var walk func(int)
	walk = func(p int) {
		out[p] = true
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(root)
	return out
}
