package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
)

// setupUsers numbers the users newSetupUser makes.
var setupUsers atomic.Int32

// setupUser is a throw-away user that `pyexecd setup` has prepared for a
// rootless server.
type setupUser struct {
	Name     string
	UID      int
	Parent   string   // the cgroup parent delegated to it
	SetupDir string   // jail.setup_dir of setup and of the user's server
	Env      []string // for the user's server: PYEXEC_JAIL_SETUP_DIR, PYEXEC_JAIL_CGROUP_PARENT
	Unit     string   // the systemd unit setup printed
	Log      string   // setup's stderr
	base     string
	undone   bool
}

// newSetupUser creates a system user (no home, no shell) and runs
// `pyexecd setup --user` for it with the cgroup parent, in a setup dir of
// its own. When t ends it runs --undo, unless the test did, and deletes
// the user.
func newSetupUser(t *testing.T, parent string) *setupUser {
	t.Helper()
	requireJail(t)
	for _, tool := range []string{"useradd", "userdel", "su", "unshare"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
	}
	u := &setupUser{Name: fmt.Sprintf("pxsetup%d%d", os.Getpid()%100000, setupUsers.Add(1)), Parent: parent}
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", u.Name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v\n%s", err, out)
	}
	base, err := os.MkdirTemp("", "pyexec-setup-e2e-")
	if err == nil {
		err = os.Chmod(base, 0o755) // the user must reach the copies
	}
	if err != nil {
		t.Fatal(err)
	}
	u.base, u.SetupDir = base, filepath.Join(base, "lib", "pyexec") // setup makes it
	u.Env = []string{"PYEXEC_JAIL_SETUP_DIR=" + u.SetupDir, "PYEXEC_JAIL_CGROUP_PARENT=" + parent}
	t.Cleanup(func() {
		if !u.undone {
			if _, stderr, err := u.setup("--undo"); err != nil {
				t.Errorf("cleanup --undo: %v\n%s", err, stderr)
			}
		}
		if out, err := exec.Command("userdel", u.Name).CombinedOutput(); err != nil {
			t.Errorf("userdel: %v\n%s", err, out)
		}
		os.RemoveAll(base)
	})
	if lines := setupSubIDLines(t, u.Name); len(lines) > 0 {
		t.Fatalf("the new user has sub-id lines already: %v", lines)
	}
	u.UID = setupUID(t, u.Name)
	u.Unit, u.Log, err = u.setup()
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, u.Log)
	}
	return u
}

// setup runs `pyexecd setup --user` for the user with args added.
func (u *setupUser) setup(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(binPath, append([]string{"setup", "--user", u.Name, "--cgroup-parent", u.Parent}, args...)...)
	cmd.Env = append(os.Environ(), "PYEXEC_JAIL_SETUP_DIR="+u.SetupDir)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// run runs script with sh as the user.
func (u *setupUser) run(script string) error {
	out, err := exec.Command("su", u.Name, "-s", "/bin/sh", "-c", script).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// TestSetup runs `pyexecd setup --user U` for a user the test creates, as
// an operator would, and checks what it made: U's ranges in /etc/subuid
// and /etc/subgid, the cgroup parent handed to U in every hierarchy (not
// its limit files), interpreter copies U can read (and run once bound at
// their build prefix, as the rootless server does), the unit printed. A
// second run changes nothing; --undo removes all of it.
func TestSetup(t *testing.T) {
	const parent = "pyexec-setup-e2e"
	u := newSetupUser(t, parent)
	name, setupDir, base := u.Name, u.SetupDir, u.base
	t.Logf("setup:\n%s", u.Log)
	for _, want := range []string{"User=" + name + "\n", "Delegate=yes\n", "Environment=PYEXEC_JAIL_CGROUP_PARENT=" + parent + "\n"} {
		if !strings.Contains(u.Unit, want) {
			t.Errorf("the unit printed has no %q:\n%s", want, u.Unit)
		}
	}

	// Sub-ids: one range in each file, 65536 ids.
	lines := setupSubIDLines(t, name)
	if len(lines) != 2 || !strings.HasSuffix(lines[0], ":65536") || lines[0] != lines[1] {
		t.Errorf("sub-id lines %v: want one %s:START:65536 in each of /etc/subuid and /etc/subgid", lines, name)
	}

	// Cgroups: the parent and the files that move tasks are the user's,
	// the limits are not.
	hs := setupHierarchies(t)
	for _, h := range hs {
		dir := filepath.Join(h.Dir, parent)
		for _, f := range append([]string{""}, cgroup.DelegatedFiles(h.V2)...) {
			if got := setupOwner(t, filepath.Join(dir, f)); got != u.UID {
				t.Errorf("%s: owner %d, want %s (%d)", filepath.Join(dir, f), got, name, u.UID)
			}
		}
		for _, limit := range []string{"memory.limit_in_bytes", "pids.max", "memory.max", "cpu.shares"} {
			if p := filepath.Join(dir, limit); setupExists(p) && setupOwner(t, p) != 0 {
				t.Errorf("%s was handed over", p)
			}
		}
	}

	// Interpreters: every copy is readable by the user, and runs bound at
	// its build prefix, which the user cannot read itself.
	rels, err := interpreters.ReadRelocations(interpreters.ManifestPath(setupDir))
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) == 0 {
		t.Log("no interpreter needed a copy (none under an unreadable prefix)")
	}
	for _, r := range rels {
		if err := u.run("test -r " + r.Path + "/bin/python3"); err != nil {
			t.Errorf("%s cannot read %s/bin/python3: %v", name, r.Path, err)
		}
		if err := u.run("test -r " + r.Prefix + "/bin/python3"); err == nil {
			t.Errorf("%s can read %s: it needed no copy", name, r.Prefix)
		}
	}
	if len(rels) > 0 {
		r := rels[0]
		hide := r.Prefix
		for u.run("test -x "+filepath.Dir(hide)) != nil && filepath.Dir(hide) != "/" {
			hide = filepath.Dir(hide) // the topmost ancestor the user cannot enter
		}
		script := fmt.Sprintf(`unshare --map-root-user --mount sh -ec 'mount -t tmpfs tmpfs %s; mkdir -p %s; mount --bind -o ro %s %s; %s/bin/python3 -c "import sys, ssl, sqlite3; print(sys.prefix)"'`,
			hide, r.Prefix, r.Path, r.Prefix, r.Prefix)
		if err := u.run(script); err != nil {
			t.Errorf("%s bound at %s does not run: %v\n%s", r.Path, r.Prefix, err, script)
		}
	}

	// A second run changes nothing.
	record := filepath.Join(setupDir, "setup", name+".json")
	first, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := u.setup(); err != nil {
		t.Fatalf("second setup: %v\n%s", err, stderr)
	}
	if again, _ := os.ReadFile(record); !bytes.Equal(first, again) {
		t.Errorf("the second setup changed the record:\n%s\n---\n%s", first, again)
	}
	if got := setupSubIDLines(t, name); strings.Join(got, ",") != strings.Join(lines, ",") {
		t.Errorf("the second setup changed the sub-ids: %v, then %v", lines, got)
	}
	var rec struct {
		Interpreters []interpreters.Relocation `json:"interpreters"`
	}
	if err := json.Unmarshal(first, &rec); err != nil || len(rec.Interpreters) != len(rels) {
		t.Errorf("record lists %d interpreters (%v), the manifest %d", len(rec.Interpreters), err, len(rels))
	}

	// --undo: all of it goes, the originals stay.
	_, stderr, err := u.setup("--undo")
	if err != nil {
		t.Fatalf("undo: %v\n%s", err, stderr)
	}
	u.undone = true
	t.Logf("undo:\n%s", stderr)
	if got := setupSubIDLines(t, name); len(got) > 0 {
		t.Errorf("sub-id lines left: %v", got)
	}
	for _, h := range hs {
		if p := filepath.Join(h.Dir, parent); setupExists(p) {
			t.Errorf("%s left", p)
		}
	}
	if setupExists(filepath.Join(base, "lib")) {
		entries, _ := filepath.Glob(filepath.Join(base, "lib", "*", "*"))
		t.Errorf("the setup dir is left: %v", entries)
	}
	for _, r := range rels {
		if !setupExists(filepath.Join(r.Prefix, "bin", "python3")) {
			t.Errorf("%s/bin/python3 is gone: undo took the original", r.Prefix)
		}
	}
	if _, stderr, err := u.setup("--undo"); err != nil || !strings.Contains(stderr, "nothing to undo") {
		t.Errorf("a second --undo: %v\n%s", err, stderr)
	}
}

// subIDLines returns the user's lines of /etc/subuid, then /etc/subgid.
func setupSubIDLines(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, name+":") {
				out = append(out, l)
			}
		}
	}
	return out
}

func setupUID(t *testing.T, name string) int {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		t.Fatal(err)
	}
	var uid int
	if _, err := fmt.Sscan(string(out), &uid); err != nil {
		t.Fatal(err)
	}
	return uid
}

func setupOwner(t *testing.T, p string) int {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid)
}

func setupExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func setupHierarchies(t *testing.T) []cgroup.Hierarchy {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hs, err := cgroup.ParseHierarchies(f)
	if err != nil || len(hs) == 0 {
		t.Fatalf("cgroup hierarchies: %v %v", hs, err)
	}
	return hs
}
