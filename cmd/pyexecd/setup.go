package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/deploy"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// setupOptions are what `pyexecd setup` acts on: the flags, and the
// configuration's values they default to.
type setupOptions struct {
	User         string
	Undo         bool
	CgroupParent string
	InstallDeps  bool
	ConfigFile   string // for the unit's command line
	SetupDir     string // jail.setup_dir
	SubUIDFile   string
	SubGIDFile   string
	Reserved     []idSpan // the root-mode jails' ids, kept out of new sub-id ranges
	Interps      interpreters.Options
}

// runSetup is `pyexecd setup --user NAME [--undo]`: as root, once, it
// prepares the host for a rootless pyexecd run by that user (a sub-id
// range, delegated cgroups, interpreters it can read) and prints the
// systemd unit to install; --undo removes what it made. Progress goes to
// stderr, the unit to stdout.
func runSetup(args, env []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("pyexecd setup", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: pyexecd setup --user NAME [--undo] [flags]\n\n"+
			"As root, once: give NAME what a rootless pyexecd needs (a sub-id range in\n"+
			"/etc/subuid and /etc/subgid, the cgroup parent delegated in every hierarchy,\n"+
			"read-only copies of interpreters it cannot read) and print the systemd unit\n"+
			"to install (stdout). --undo removes what setup made for NAME.\n\n")
		fs.PrintDefaults()
	}
	o := setupOptions{SubUIDFile: jail.SubUIDFile, SubGIDFile: jail.SubGIDFile}
	fs.StringVar(&o.User, "user", "", "the user the rootless server runs as (required)")
	fs.BoolVar(&o.Undo, "undo", false, "remove what setup made for the user")
	fs.StringVar(&o.CgroupParent, "cgroup-parent", "", "the cgroup parent to delegate (default: jail.cgroup_parent, pyexec)")
	fs.BoolVar(&o.InstallDeps, "install-deps", false, "apt-get install uidmap (newuidmap, newgidmap) when missing")
	fs.StringVar(&o.ConfigFile, "config", "", "the YAML config file the server will use (setup_dir, cgroup parent, interpreters)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "pyexecd setup:", err)
		return 2
	}
	if o.User == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if !userName.MatchString(o.User) {
		fmt.Fprintf(stderr, "pyexecd setup: --user %q: not a user name\n", o.User)
		return 2
	}
	cfg, err := configs.Load(configs.LoadOptions{ConfigFile: o.ConfigFile, Env: env}) // resolved as for root
	if err != nil {
		fmt.Fprintln(stderr, "pyexecd setup: config:", err)
		return 2
	}
	if o.CgroupParent == "" {
		o.CgroupParent = cfg.Jail.CgroupParent
	}
	if o.CgroupParent == cgroup.SelfParent {
		// The unit's own group is systemd's to delegate; setup delegates
		// the default parent for a server started outside systemd.
		o.CgroupParent = configs.Defaults().Jail.CgroupParent
	}
	o.SetupDir = cfg.Jail.SetupDir
	o.Reserved = []idSpan{{cfg.Jail.HostIDBase, cfg.Jail.HostIDCount}}
	o.Interps = interpreters.Options{Roots: cfg.Interpreters.Roots, Paths: cfg.Interpreters.Paths,
		System: cfg.Interpreters.System, BaseMounts: jail.DefaultBaseMounts(), Env: env}
	if os.Geteuid() != 0 {
		fmt.Fprintln(stderr, "pyexecd setup: run it as root (it edits /etc/subuid, delegates cgroups, copies interpreters)")
		return 1
	}
	unlock, err := lockSetup()
	if err != nil {
		fmt.Fprintln(stderr, "pyexecd setup:", err)
		return 1
	}
	defer unlock()
	out := &setupLog{w: stderr}
	if o.Undo {
		err = undoSetup(o, out)
	} else {
		err = doSetup(context.Background(), o, out, stdout)
	}
	if err != nil {
		out.say("failed: %v", err)
		if !o.Undo {
			out.say("what was made is recorded in %s; `pyexecd setup --user %s --undo` removes it", recordPath(o.SetupDir, o.User), o.User)
		}
		return 1
	}
	return 0
}

// setupLog prints setup's progress lines.
type setupLog struct{ w io.Writer }

func (l *setupLog) say(format string, args ...any) {
	fmt.Fprintf(l.w, "pyexecd setup: "+format+"\n", args...)
}

// lockSetup serialises setups (they share the manifest and the records).
func lockSetup() (func(), error) {
	f, err := os.OpenFile("/run/pyexec-setup.lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock: %w", err)
	}
	return func() { f.Close() }, nil
}

func doSetup(ctx context.Context, o setupOptions, out *setupLog, stdout io.Writer) error {
	u, err := user.Lookup(o.User)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == 0 {
		return errors.New("--user: root needs no setup; run pyexecd as root")
	}
	rec, found, err := readRecord(o.SetupDir, o.User)
	if err != nil {
		return err
	}
	if found && rec.UID != uid {
		return fmt.Errorf("the record %s is for uid %d, and %s is uid %d now: run --undo first", recordPath(o.SetupDir, o.User), rec.UID, o.User, uid)
	}
	rec.User, rec.UID, rec.GID = o.User, uid, gid
	if err := rec.mkdirRecorded(recordsDir(o.SetupDir)); err != nil {
		return err
	}
	save := func() error { return rec.write(o.SetupDir) }
	if err := save(); err != nil {
		return err
	}

	if err := setupSubIDs(o, &rec, uid, out); err != nil {
		return err
	}
	if err := save(); err != nil {
		return err
	}
	uidmap := checkUidmap(o.InstallDeps, out)

	d, err := cgroup.Delegate(o.CgroupParent, uid, gid)
	if err != nil {
		return err
	}
	if i := rec.delegation(o.CgroupParent); i >= 0 {
		rec.Cgroups[i] = d.Merge(rec.Cgroups[i])
	} else {
		rec.Cgroups = append(rec.Cgroups, d)
	}
	if err := save(); err != nil {
		return err
	}
	out.say("cgroups: %s delegated to %s in %d hierarchies (%s)", o.CgroupParent, o.User, len(d.Dirs), delegatedDirs(d))
	if len(d.Enabled) > 0 {
		out.say("cgroups: enabled %s in the v2 root's cgroup.subtree_control (--undo leaves them on)", strings.Join(d.Enabled, ", "))
	}

	groups, err := userGroups(u)
	if err != nil {
		return err
	}
	reachable := interpreters.ReachableAs(uint32(uid), uint32(gid), groups)
	if err := setupInterpreters(ctx, o, &rec, reachable, save, out); err != nil {
		return err
	}
	if err := save(); err != nil {
		return err
	}

	command, err := unitCommand(o, reachable, out)
	if err != nil {
		return err
	}
	// On v2 the unit's own group (Delegate=yes) is the parent: the
	// server's processes and its jails' groups are then all below one
	// group the user may write, as the kernel requires to move a task.
	unitParent := o.CgroupParent
	if cgroup.DetectMode() == cgroup.ModeUnified {
		unitParent = cgroup.SelfParent
	}
	unit, err := deploy.RootlessUnit(o.User, command, unitParent)
	if err != nil {
		return err
	}
	switch cgroup.DetectMode() {
	case cgroup.ModeHybrid:
		dir := "/sys/fs/cgroup/unified/" + o.CgroupParent + "/" + cgroup.ServerLeaf
		out.say("cgroups, hybrid: libcontainer also puts every jail in the cgroup2 mount, where the kernel lets a process "+
			"move tasks only between groups below one whose cgroup.procs it may write: the server must run inside %s "+
			"(as root: echo PID > %s/cgroup.procs), or in a group of its own there that root or systemd delegated", dir, dir)
	case cgroup.ModeUnified:
		dir := "/sys/fs/cgroup/" + o.CgroupParent + "/" + cgroup.ServerLeaf
		out.say("cgroups, v2: the kernel lets a process move tasks only between groups below one whose cgroup.procs it "+
			"may write: the server must run inside %s (as root: echo PID > %s/cgroup.procs) or, better, be started by "+
			"systemd from the unit below, whose Delegate=yes hands it a group of its own (jail.cgroup_parent self)", dir, dir)
	}
	if !uidmap {
		out.say("NOT READY: newuidmap/newgidmap are missing: apt-get install uidmap (or run setup with --install-deps)")
	}
	out.say("done; recorded in %s. Install the unit printed on stdout as /etc/systemd/system/pyexec.service, then: "+
		"systemctl daemon-reload && systemctl enable --now pyexec", recordPath(o.SetupDir, o.User))
	_, err = io.WriteString(stdout, unit)
	return err
}

func delegatedDirs(d cgroup.Delegation) string {
	var names []string
	for _, dd := range d.Dirs {
		if h := filepath.Dir(dd.Dir); h == "/sys/fs/cgroup" {
			names = append(names, "cgroup2")
		} else {
			names = append(names, filepath.Base(h))
		}
	}
	return strings.Join(names, " ")
}

// setupSubIDs gives the user a range in /etc/subuid and /etc/subgid where
// it has none.
func setupSubIDs(o setupOptions, rec *setupRecord, uid int, out *setupLog) error {
	uids, err := readSubIDFile(o.SubUIDFile)
	if err != nil {
		return err
	}
	gids, err := readSubIDFile(o.SubGIDFile)
	if err != nil {
		return err
	}
	uidLine, gidLine, err := subIDPlan(uids, gids, o.User, uid, o.Reserved)
	if err != nil {
		return err
	}
	for _, f := range []struct {
		file, line string
		ranges     []jail.SubIDRange
		added      *string
		made       *bool
	}{
		{o.SubUIDFile, uidLine, uids, &rec.SubUID, &rec.SubUIDMade},
		{o.SubGIDFile, gidLine, gids, &rec.SubGID, &rec.SubGIDMade},
	} {
		if f.line == "" {
			r, _ := jail.SubIDsOf(f.ranges, o.User, uid)
			out.say("%s: %s has %d ids from %d", f.file, o.User, r.Count, r.Start)
			if overlapsAny(idSpan{r.Start, r.Count}, o.Reserved) {
				out.say("WARNING: that range overlaps the root-mode jails' host ids (jail.host_id_base %d, count %d): "+
					"a rootless server's jails would share host uids with a root server's", o.Reserved[0].start, o.Reserved[0].count)
			}
			continue
		}
		made, err := editSubIDFile(f.file, f.line, "", false)
		if err != nil {
			return err
		}
		*f.added, *f.made = f.line, *f.made || made
		out.say("%s: added %s", f.file, f.line)
	}
	return nil
}

// checkUidmap reports whether newuidmap and newgidmap are there, setuid
// or with file capabilities; with install, it installs the uidmap package
// when they are not.
func checkUidmap(install bool, out *setupLog) bool {
	missing := func() []string {
		var m []string
		for _, name := range []string{"newuidmap", "newgidmap"} {
			if !privilegedTool(name) {
				m = append(m, name)
			}
		}
		return m
	}
	m := missing()
	if len(m) == 0 {
		return true
	}
	if !install {
		out.say("%s: missing or not privileged (setuid or file capabilities): apt-get install uidmap", strings.Join(m, ", "))
		return false
	}
	out.say("%s missing: apt-get install uidmap", strings.Join(m, ", "))
	apt := func(args ...string) error {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		cmd.Stdout, cmd.Stderr = out.w, out.w
		return cmd.Run()
	}
	if err := apt("install", "-y", "-qq", "uidmap"); err != nil {
		if err := errors.Join(apt("update", "-qq"), apt("install", "-y", "-qq", "uidmap")); err != nil {
			out.say("apt-get install uidmap: %v", err)
		}
	}
	return len(missing()) == 0
}

func privilegedTool(name string) bool {
	for _, dir := range []string{"/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if fi.Mode()&os.ModeSetuid != 0 {
			return true
		}
		if n, err := syscall.Getxattr(p, "security.capability", nil); err == nil && n > 0 {
			return true
		}
	}
	return false
}

func userGroups(u *user.User) ([]uint32, error) {
	ids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups of %s: %w", u.Username, err)
	}
	var out []uint32
	for _, s := range ids {
		n, err := strconv.ParseUint(s, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("groups of %s: %w", u.Username, err)
		}
		out = append(out, uint32(n))
	}
	return out, nil
}

// setupInterpreters copies, read-only, every interpreter the server would
// find whose directories the user cannot reach, and lists the copies in
// the manifest the rootless server reads.
func setupInterpreters(ctx context.Context, o setupOptions, rec *setupRecord, reachable func(string) (bool, error), save func() error, out *setupLog) error {
	set, err := interpreters.Discover(ctx, o.Interps)
	if err != nil {
		out.say("interpreters: %v; nothing to copy", err)
		return nil
	}
	dir := interpreters.RelocationsDir(o.SetupDir)
	plan, err := interpreters.PlanRelocations(set.All(), dir, reachable)
	if err != nil {
		return err
	}
	out.say("interpreters: %d found, %d the user cannot read", len(set.All()), len(plan))
	if len(plan) == 0 {
		return nil
	}
	if err := rec.mkdirRecorded(dir); err != nil {
		return err
	}
	manifestPath := interpreters.ManifestPath(o.SetupDir)
	manifest, err := interpreters.ReadRelocations(manifestPath)
	if err != nil {
		return err
	}
	others, err := otherRecords(o.SetupDir, o.User)
	if err != nil {
		return err
	}
	for _, want := range plan {
		rel, known := knownRelocation(want.Prefix, *rec, others)
		if !known {
			if i := slices.IndexFunc(manifest, func(m interpreters.Relocation) bool { return m.Prefix == want.Prefix }); i >= 0 {
				out.say("interpreters: %s: the manifest lists %s, which no setup record has: left alone", want.Prefix, manifest[i].Path)
				continue
			}
			rel = want
		}
		rec.addInterpreter(rel)
		if err := save(); err != nil { // before the copy: --undo removes a partial one
			return err
		}
		_, err := os.Lstat(rel.Path)
		switch {
		case err == nil && known:
			out.say("interpreters: %s: %s is there", rel.Version, rel.Path)
		case err == nil:
			return fmt.Errorf("interpreters: %s exists and setup did not make it: remove it or move it away", rel.Path)
		case !errors.Is(err, os.ErrNotExist):
			return err
		default:
			if err := copyInterpreter(rel, out); err != nil {
				return err
			}
		}
		manifest = interpreters.MergeRelocations(manifest, []interpreters.Relocation{rel})
		if err := interpreters.WriteRelocations(manifestPath, manifest); err != nil {
			return err
		}
	}
	out.say("interpreters: manifest %s lists %d", manifestPath, len(manifest))
	return nil
}

// knownRelocation returns the relocation of prefix that this user's or
// another user's setup record has: setup made it.
func knownRelocation(prefix string, rec setupRecord, others []setupRecord) (interpreters.Relocation, bool) {
	for _, r := range append([]setupRecord{rec}, others...) {
		if rel, ok := r.interpreter(prefix); ok {
			return rel, true
		}
	}
	return interpreters.Relocation{}, false
}

// copyInterpreter makes rel.Path a read-only replica of rel.Prefix: it
// is built at <path>.partial and renamed into place once complete.
func copyInterpreter(rel interpreters.Relocation, out *setupLog) error {
	partial := rel.Path + ".partial"
	if err := os.RemoveAll(partial); err != nil {
		return err
	}
	st, err := interpreters.LinkTree(rel.Prefix, partial)
	if err != nil {
		return err
	}
	if err := os.Rename(partial, rel.Path); err != nil {
		_ = os.RemoveAll(partial)
		return err
	}
	out.say("interpreters: %s: %s copied to %s (%d hard links, %d copies, %d entries others may not read left out)",
		rel.Version, rel.Prefix, rel.Path, st.Linked, st.Copied, st.Skipped)
	return nil
}

// unitCommand is the unit's ExecStart: this pyexecd, with the config file
// setup was given. It warns when the user cannot run that binary.
func unitCommand(o setupOptions, reachable func(string) (bool, error), out *setupLog) (string, error) {
	bin, err := os.Executable()
	if err != nil {
		return "", err
	}
	if real, err := filepath.EvalSymlinks(bin); err == nil {
		bin = real
	}
	if ok, err := reachable(bin); err != nil || !ok {
		out.say("WARNING: %s cannot run %s: install pyexecd where it can (e.g. /usr/local/bin) and change ExecStart", o.User, bin)
	}
	args := []string{bin}
	if o.ConfigFile != "" {
		abs, err := filepath.Abs(o.ConfigFile)
		if err != nil {
			return "", err
		}
		args = append(args, "--config", abs)
	}
	for i, a := range args {
		if strings.ContainsAny(a, " \t\"'\\") {
			args[i] = strconv.Quote(a)
		}
	}
	return strings.Join(args, " "), nil
}

// undoSetup removes what the user's record says setup made, keeping what
// other users' records still need; the record goes last, once everything
// is gone (a failed undo keeps it, and runs again). It refuses while the
// delegated cgroups are in use: the user's server must be stopped first.
func undoSetup(o setupOptions, out *setupLog) error {
	rec, found, err := readRecord(o.SetupDir, o.User)
	if err != nil {
		return err
	}
	if !found {
		out.say("nothing recorded for %s in %s: nothing to undo", o.User, recordsDir(o.SetupDir))
		return nil
	}
	others, err := otherRecords(o.SetupDir, o.User)
	if err != nil {
		return err
	}
	// The cgroups first: groups below the parent mean a server is running
	// (or a crashed one left jails), and then nothing else is touched, not
	// the interpreters it has bound.
	var errs []error
	for _, d := range rec.Cgroups {
		if err := cgroup.Undelegate(d); err != nil {
			errs = append(errs, err)
			continue
		}
		out.say("cgroups: %s given back (%d hierarchies)", d.Parent, len(d.Dirs))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("undo stopped, the record stays (stop the server, then run --undo again): %w", err)
	}
	if err := undoInterpreters(o, rec, others, out); err != nil {
		errs = append(errs, err)
	}
	for _, f := range []struct {
		file, line string
		made       bool
	}{{o.SubUIDFile, rec.SubUID, rec.SubUIDMade}, {o.SubGIDFile, rec.SubGID, rec.SubGIDMade}} {
		if f.line == "" {
			continue
		}
		if _, err := editSubIDFile(f.file, "", f.line, f.made); err != nil {
			errs = append(errs, err)
			continue
		}
		out.say("%s: removed %s", f.file, f.line)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("undo (the record stays; run --undo again once fixed): %w", err)
	}
	if err := os.Remove(recordPath(o.SetupDir, o.User)); err != nil {
		return err
	}
	var kept []string
	for _, d := range slices.Backward(rec.MadeDirs) {
		if err := os.Remove(d); err == nil || errors.Is(err, os.ErrNotExist) {
			out.say("removed %s", d)
			continue
		}
		kept = append([]string{d}, kept...)
	}
	if len(kept) > 0 && len(others) > 0 {
		// Still holding another user's setup: the dirs become its to remove.
		heir := others[0]
		for _, d := range kept {
			if !slices.Contains(heir.MadeDirs, d) {
				heir.MadeDirs = append(heir.MadeDirs, d)
			}
		}
		slices.SortFunc(heir.MadeDirs, func(a, b string) int { return strings.Compare(a, b) }) // parents first
		if err := heir.write(o.SetupDir); err != nil {
			return err
		}
	}
	out.say("done: nothing setup made for %s is left", o.User)
	return nil
}

// undoInterpreters removes the record's copies and manifest entries that
// no other record has.
func undoInterpreters(o setupOptions, rec setupRecord, others []setupRecord, out *setupLog) error {
	dir := interpreters.RelocationsDir(o.SetupDir)
	manifestPath := interpreters.ManifestPath(o.SetupDir)
	manifest, err := interpreters.ReadRelocations(manifestPath)
	if err != nil {
		return err
	}
	var errs []error
	removed := 0
	for _, rel := range rec.Interpreters {
		if i := slices.IndexFunc(others, func(r setupRecord) bool { _, ok := r.interpreter(rel.Prefix); return ok }); i >= 0 {
			out.say("interpreters: %s kept: %s uses it too", rel.Path, others[i].User)
			continue
		}
		if filepath.Dir(rel.Path) != dir {
			errs = append(errs, fmt.Errorf("interpreters: %s is not in %s: left alone", rel.Path, dir))
			continue
		}
		manifest = slices.DeleteFunc(manifest, func(m interpreters.Relocation) bool { return m.Prefix == rel.Prefix })
		if err := interpreters.WriteRelocations(manifestPath, manifest); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := errors.Join(os.RemoveAll(rel.Path), os.RemoveAll(rel.Path+".partial")); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
		out.say("interpreters: removed %s", rel.Path)
	}
	if removed > 0 && len(manifest) == 0 {
		if err := os.Remove(manifestPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
