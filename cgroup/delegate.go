package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Delegation is what Delegate did to hand a parent group to a user, kept
// (as JSON) so that Undelegate undoes exactly that.
type Delegation struct {
	Parent string         `json:"parent"` // the group name, e.g. "pyexec"
	UID    int            `json:"uid"`
	GID    int            `json:"gid"`
	Dirs   []DelegatedDir `json:"dirs"`
	// Enabled are the controllers Delegate enabled in the v2 root's
	// cgroup.subtree_control. Undelegate leaves them on: other groups may
	// have come to rely on them, and the kernel refuses to turn off one a
	// group below uses.
	Enabled []string `json:"enabled,omitempty"`
}

// DelegatedDir is the parent group's directory in one hierarchy.
type DelegatedDir struct {
	Dir  string `json:"dir"`  // e.g. /sys/fs/cgroup/memory/pyexec
	Made bool   `json:"made"` // Delegate created it: Undelegate removes it once empty
	// Owners are the paths Delegate chowned (the directory and the files
	// that move tasks), each with the owner it had before.
	Owners []Owner `json:"owners"`
}

// Owner is a file's owner.
type Owner struct {
	Path string `json:"path"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
}

// Hierarchy is one cgroup hierarchy mounted under /sys/fs/cgroup.
type Hierarchy struct {
	Dir string // its mount point, e.g. /sys/fs/cgroup/memory
	V2  bool   // cgroup2: the unified root, or hybrid's controller-less mount
	// Options are a v1 hierarchy's controllers as mount options
	// ("cpu", "name=systemd").
	Options []string
}

// cgroupRoot is where hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// ParseHierarchies reads /proc/self/mountinfo and returns the cgroup
// hierarchies mounted at cgroupRoot or directly below it, each once, with
// their root (bind mounts of a sub-group elsewhere are not hierarchies).
func ParseHierarchies(r io.Reader) ([]Hierarchy, error) {
	var out []Hierarchy
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superopts
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 3 || (rf[0] != "cgroup" && rf[0] != "cgroup2") {
			continue
		}
		root, dir := lf[3], unescapeMount(lf[4])
		if root != "/" || (dir != cgroupRoot && filepath.Dir(dir) != cgroupRoot) || seen[dir] {
			continue
		}
		seen[dir] = true
		h := Hierarchy{Dir: dir, V2: rf[0] == "cgroup2"}
		if !h.V2 {
			h.Options = controllerOptions(rf[2])
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	slices.SortFunc(out, func(a, b Hierarchy) int { return strings.Compare(a.Dir, b.Dir) })
	return out, nil
}

// controllerOptions picks the controllers out of a v1 mount's super
// options ("rw,cpu,cpuacct" or "rw,name=systemd,xattr").
func controllerOptions(superopts string) []string {
	var out []string
	for _, o := range strings.Split(superopts, ",") {
		switch {
		case strings.HasPrefix(o, "name="):
			out = append(out, o)
		case strings.Contains(o, "="), o == "rw", o == "ro", o == "noprefix", o == "clone_children",
			o == "xattr", o == "cpuset_v2_mode", o == "favordynmods", o == "none":
		default:
			out = append(out, o)
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 is a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// DelegatedFiles are the files of a parent group that Delegate hands to
// the user besides the directory: those that move tasks into the group
// (and, in v2, enable controllers for its children). Never the limit
// files: the user then cannot raise the parent's caps, only set its own
// groups' below them.
func DelegatedFiles(v2 bool) []string {
	if v2 {
		return []string{"cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}
	}
	return []string{"cgroup.procs", "tasks"}
}

// RootControllers are the v2 controllers Delegate makes sure the root
// enables for its children: the limits pyexec sets.
var RootControllers = []string{"memory", "cpu", "pids"}

// Delegate hands the parent group named parent to the user uid:gid in
// every cgroup hierarchy mounted under /sys/fs/cgroup (v1 controllers,
// name=systemd and hybrid's unified mount, or the v2 root): it creates
// <hierarchy>/<parent> where missing, gives a new cpuset group the root's
// cpus and mems (a child needs them before it can hold tasks), and chowns
// the directory and DelegatedFiles to the user, who can then create
// groups below it, set their limits and move processes into them. On v2
// it also enables RootControllers in the root's cgroup.subtree_control.
//
// It refuses, changing nothing, a parent that another user has, or that
// root has with groups or tasks in it (a root-mode server's). Running it
// again for the same user changes nothing. On error, what it did is undone.
func Delegate(parent string, uid, gid int) (Delegation, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return Delegation{}, fmt.Errorf("delegate cgroups: %w", err)
	}
	defer f.Close()
	hs, err := ParseHierarchies(f)
	if err != nil {
		return Delegation{}, fmt.Errorf("delegate cgroups: %w", err)
	}
	return DelegateIn(hs, parent, uid, gid)
}

// DelegateIn is Delegate over the hierarchies hs.
func DelegateIn(hs []Hierarchy, parent string, uid, gid int) (Delegation, error) {
	if !validName(parent) || strings.Contains(parent, "process_api") {
		return Delegation{}, fmt.Errorf("delegate cgroups: parent %q: want a single name of letters, digits, '.', '_' or '-'", parent)
	}
	if uid <= 0 || gid < 0 {
		return Delegation{}, fmt.Errorf("delegate cgroups: uid %d: want an ordinary user", uid)
	}
	if len(hs) == 0 {
		return Delegation{}, errors.New("delegate cgroups: no cgroup hierarchy is mounted under " + cgroupRoot)
	}
	for _, h := range hs {
		if err := checkDelegable(filepath.Join(h.Dir, parent), uid); err != nil {
			return Delegation{}, fmt.Errorf("delegate cgroups: %w", err)
		}
	}
	d := Delegation{Parent: parent, UID: uid, GID: gid}
	for _, h := range hs {
		dd, err := delegateDir(h, parent, uid, gid)
		if dd.Dir != "" {
			d.Dirs = append(d.Dirs, dd)
		}
		if err == nil && h.V2 {
			// The server's leaf: a server is started in it (a v2 group
			// whose controllers are on for its children takes no task).
			var leaf DelegatedDir
			leaf, err = delegateDir(h, parent+"/"+ServerLeaf, uid, gid)
			if leaf.Dir != "" {
				d.Dirs = append(d.Dirs, leaf)
			}
		}
		if err == nil && h.V2 && h.Dir == cgroupRoot {
			d.Enabled, err = enableRootControllers(h.Dir)
		}
		if err != nil {
			_ = Undelegate(d)
			return Delegation{}, fmt.Errorf("delegate cgroups: %w", err)
		}
	}
	return d, nil
}

// checkDelegable fails for a group that exists and belongs to another
// user, or to root and is in use.
func checkDelegable(dir string, uid int) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	owner := int(fi.Sys().(*syscall.Stat_t).Uid)
	switch owner {
	case uid:
		return nil
	case 0:
		held, err := holds(dir)
		if err != nil {
			return err
		}
		if held != "" {
			return fmt.Errorf("%s is in use by root (%s): a root-mode server's? Stop it or pick another parent", dir, held)
		}
		return nil
	}
	return fmt.Errorf("%s is delegated to uid %d: pick another parent", dir, owner)
}

// delegateDir delegates the parent in one hierarchy. The DelegatedDir it
// returns says what was done even on error.
func delegateDir(h Hierarchy, parent string, uid, gid int) (DelegatedDir, error) {
	dd := DelegatedDir{Dir: filepath.Join(h.Dir, parent)}
	err := os.Mkdir(dd.Dir, 0o755)
	switch {
	case err == nil:
		dd.Made = true
	case !errors.Is(err, os.ErrExist):
		return DelegatedDir{}, err
	}
	if slices.Contains(h.Options, "cpuset") {
		if err := inheritCpuset(h.Dir, dd.Dir); err != nil {
			return dd, err
		}
	}
	for _, name := range append([]string{""}, DelegatedFiles(h.V2)...) {
		p := filepath.Join(dd.Dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			return dd, err
		}
		st := fi.Sys().(*syscall.Stat_t)
		if int(st.Uid) == uid && int(st.Gid) == gid {
			continue
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return dd, err
		}
		dd.Owners = append(dd.Owners, Owner{Path: p, UID: int(st.Uid), GID: int(st.Gid)})
	}
	return dd, nil
}

// inheritCpuset copies the root's cpuset.cpus and cpuset.mems into a
// group whose own are empty: a v1 cpuset group without them holds no
// task, and its user could not write them (they are limit files).
func inheritCpuset(root, dir string) error {
	for _, name := range []string{"cpuset.cpus", "cpuset.mems"} {
		own, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(own)) != "" {
			continue
		}
		v, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), v, 0); err != nil {
			return fmt.Errorf("write %s: %w", filepath.Join(dir, name), err)
		}
	}
	return nil
}

// enableRootControllers turns on, in the v2 root's subtree_control, the
// RootControllers it offers and has off, and returns those.
func enableRootControllers(root string) ([]string, error) {
	avail, err := os.ReadFile(filepath.Join(root, "cgroup.controllers"))
	if err != nil {
		return nil, err
	}
	on, err := os.ReadFile(filepath.Join(root, "cgroup.subtree_control"))
	if err != nil {
		return nil, err
	}
	var enable []string
	for _, c := range RootControllers {
		if slices.Contains(strings.Fields(string(avail)), c) && !slices.Contains(strings.Fields(string(on)), c) {
			enable = append(enable, c)
		}
	}
	if len(enable) == 0 {
		return nil, nil
	}
	p := filepath.Join(root, "cgroup.subtree_control")
	if err := os.WriteFile(p, []byte("+"+strings.Join(enable, " +")), 0); err != nil {
		return nil, fmt.Errorf("enable %s in %s: %w", strings.Join(enable, ","), p, err)
	}
	return enable, nil
}

// Undelegate undoes d: it removes the directories Delegate made, when they
// hold no group and no task, and gives the others' files back to their
// former owners. A directory already gone is not an error; one still in
// use is kept and named in the error (call Undelegate again once it is
// free). Controllers Delegate enabled stay enabled (see Delegation).
func Undelegate(d Delegation) error {
	var errs []error
	for _, dd := range slices.Backward(d.Dirs) {
		if _, err := os.Stat(dd.Dir); errors.Is(err, os.ErrNotExist) {
			continue
		}
		if !dd.Made {
			for _, o := range slices.Backward(dd.Owners) {
				if err := os.Chown(o.Path, o.UID, o.GID); err != nil && !errors.Is(err, os.ErrNotExist) {
					errs = append(errs, err)
				}
			}
			continue
		}
		// The leaf a server moved itself into (v2) goes with the parent
		// once it is empty; one still in use keeps both (holds says so).
		_ = os.Remove(filepath.Join(dd.Dir, ServerLeaf))
		held, err := holds(dd.Dir)
		switch {
		case err != nil:
			errs = append(errs, err)
		case held != "":
			errs = append(errs, fmt.Errorf("%s kept: %w (%s)", dd.Dir, ErrParentInUse, held))
		default:
			if err := rmdir(dd.Dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("undelegate cgroup parent %s: %w", d.Parent, err)
	}
	return nil
}

// Merge returns d as a record of both d and the earlier prev: a second
// Delegate finds everything in place and changes nothing, yet the record
// must still say what the first one made and whose files it chowned.
func (d Delegation) Merge(prev Delegation) Delegation {
	out := prev
	out.Parent, out.UID, out.GID = d.Parent, d.UID, d.GID
	out.Dirs = slices.Clone(prev.Dirs)
	for _, dd := range d.Dirs {
		i := slices.IndexFunc(out.Dirs, func(p DelegatedDir) bool { return p.Dir == dd.Dir })
		if i < 0 {
			out.Dirs = append(out.Dirs, dd)
			continue
		}
		old := &out.Dirs[i]
		old.Made = old.Made || dd.Made
		for _, o := range dd.Owners {
			if !slices.ContainsFunc(old.Owners, func(p Owner) bool { return p.Path == o.Path }) {
				old.Owners = append(old.Owners, o)
			}
		}
	}
	out.Enabled = slices.Clone(prev.Enabled)
	for _, c := range d.Enabled {
		if !slices.Contains(out.Enabled, c) {
			out.Enabled = append(out.Enabled, c)
		}
	}
	return out
}
