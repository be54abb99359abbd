package interpreters

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/jail/jailtest"
)

func TestReadRelocations(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, body string
		want       []Relocation
		err        string
	}{
		{"list", `[{"prefix": "/root/.pyenv/versions/3.12.1", "path": "/var/lib/pyexec/interpreters/3.12.1", "version": "3.12.1"},
		           {"prefix": "/root/.pyenv/versions/3.11.7", "path": "/var/lib/pyexec/interpreters/3.11.7"}]`,
			[]Relocation{
				{Prefix: "/root/.pyenv/versions/3.12.1", Path: "/var/lib/pyexec/interpreters/3.12.1", Version: "3.12.1"},
				{Prefix: "/root/.pyenv/versions/3.11.7", Path: "/var/lib/pyexec/interpreters/3.11.7"},
			}, ""},
		{"empty", `[]`, []Relocation{}, ""},
		{"not json", `{`, nil, "unexpected end"},
		{"relative", `[{"prefix": "root/x", "path": "/a"}]`, nil, "not an absolute clean path"},
		{"unclean", `[{"prefix": "/root/x/../y", "path": "/a"}]`, nil, "not an absolute clean path"},
		{"root", `[{"prefix": "/", "path": "/a"}]`, nil, "not an absolute clean path"},
		{"twice", `[{"prefix": "/p", "path": "/a"}, {"prefix": "/p", "path": "/b"}]`, nil, "listed twice"},
		{"nested", `[{"prefix": "/p", "path": "/p/copy"}]`, nil, "nested"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name+".json")
			if err := os.WriteFile(p, []byte(tt.body), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := ReadRelocations(p)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		got, err := ReadRelocations(filepath.Join(dir, "none.json"))
		if err != nil || got != nil {
			t.Errorf("got %v, %v; want nil, nil", got, err)
		}
	})
}

func TestWriteRelocations(t *testing.T) {
	p := ManifestPath(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	want := []Relocation{{Prefix: "/root/.pyenv/versions/3.12.1", Path: "/var/lib/pyexec/interpreters/3.12.1", Version: "3.12.1"}}
	for range 2 { // the second write replaces the first
		if err := WriteRelocations(p, want); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadRelocations(p)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, want)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("manifest mode %v (%v), want 0644", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(p))
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want the manifest only (no temp files)", len(entries))
	}
	if err := WriteRelocations(p, []Relocation{{Prefix: "rel", Path: "/x"}}); err == nil {
		t.Error("an invalid list was written")
	}
	if err := WriteRelocations(p, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); strings.TrimSpace(string(b)) != "[]" {
		t.Errorf("empty manifest is %q, want []", b)
	}
}

func TestPlanRelocations(t *testing.T) {
	list := []Interpreter{
		{Version: "3.12.1", Mounts: []string{"/root/.pyenv/versions/3.12.1"}},
		{Version: "3.11.2"}, // /usr/bin/python3.11: under the base mounts
		{Version: "3.10.13", Mounts: []string{"/opt/pythons/3.10.13"}},
		{Version: "3.9.18", Mounts: []string{"/root/py/3.9", "/root/py/3.9-exec"}},
	}
	reachable := func(p string) (bool, error) { return !strings.HasPrefix(p, "/root/"), nil }
	got, err := PlanRelocations(list, "/var/lib/pyexec/interpreters", reachable)
	if err != nil {
		t.Fatal(err)
	}
	want := []Relocation{
		{Prefix: "/root/.pyenv/versions/3.12.1", Path: "/var/lib/pyexec/interpreters/3.12.1", Version: "3.12.1"},
		{Prefix: "/root/py/3.9", Path: "/var/lib/pyexec/interpreters/3.9.18", Version: "3.9.18"},
		{Prefix: "/root/py/3.9-exec", Path: "/var/lib/pyexec/interpreters/3.9.18-1", Version: "3.9.18"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	boom := errors.New("boom")
	if _, err := PlanRelocations(list, "/x", func(string) (bool, error) { return false, boom }); !errors.Is(err, boom) {
		t.Errorf("a failing check gave %v", err)
	}
}

func TestMergeRelocations(t *testing.T) {
	a := Relocation{Prefix: "/a", Path: "/c/a"}
	b := Relocation{Prefix: "/b", Path: "/c/b"}
	got := MergeRelocations([]Relocation{a}, []Relocation{{Prefix: "/a", Path: "/other"}, b})
	if want := []Relocation{a, b}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

// TestLinkTree: files are hard links, what others may not read stays out,
// set-id and writable files become safe copies, symlinks are kept.
func TestLinkTree(t *testing.T) {
	src := filepath.Join(t.TempDir(), "3.12.1")
	files := map[string]os.FileMode{
		"bin/python3.12":     0o755,
		"lib/libpython.so":   0o755,
		"lib/os.py":          0o644,
		"lib/secret":         0o600,
		"lib/suid":           os.ModeSetuid | 0o755,
		"lib/shared":         0o666,
		"private/inside.txt": 0o644,
	}
	for name, mode := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(src, "private"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("python3.12", filepath.Join(src, "bin/python3")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(src, "lib/fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "copy")
	st, err := LinkTree(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if want := (TreeStats{Linked: 3, Copied: 2, Skipped: 3}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	for _, name := range []string{"bin/python3.12", "lib/libpython.so", "lib/os.py"} {
		a, _ := os.Stat(filepath.Join(src, name))
		b, err := os.Stat(filepath.Join(dst, name))
		if err != nil || !os.SameFile(a, b) {
			t.Errorf("%s: not a hard link of the source (%v)", name, err)
		}
	}
	for name, want := range map[string]os.FileMode{"lib/suid": 0o755, "lib/shared": 0o644} {
		a, _ := os.Stat(filepath.Join(src, name))
		b, err := os.Stat(filepath.Join(dst, name))
		if err != nil || os.SameFile(a, b) || b.Mode() != want {
			t.Errorf("%s: want a copy of mode %v, got %v (%v)", name, want, b.Mode(), err)
		}
	}
	for _, name := range []string{"lib/secret", "private", "lib/fifo"} {
		if _, err := os.Lstat(filepath.Join(dst, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s was copied (%v)", name, err)
		}
	}
	if l, err := os.Readlink(filepath.Join(dst, "bin/python3")); err != nil || l != "python3.12" {
		t.Errorf("symlink: %q, %v", l, err)
	}
	for _, d := range []string{"", "bin", "lib"} {
		if fi, err := os.Stat(filepath.Join(dst, d)); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("dir %q: mode %v (%v), want 0755", d, fi.Mode(), err)
		}
	}

	if _, err := LinkTree(src, dst); err == nil {
		t.Error("LinkTree over an existing dst succeeded")
	}
	if err := os.Chmod(src, 0o700); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "copy")
	if _, err := LinkTree(src, other); err == nil || !strings.Contains(err.Error(), "others may not read") {
		t.Errorf("a private source: %v", err)
	}
	if _, err := os.Lstat(other); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed LinkTree left %s", other)
	}
}

// TestLinkTreeAcrossFilesystems: from /dev/shm (tmpfs) to the temp dir,
// files are copied with their mode and modification time.
func TestLinkTreeAcrossFilesystems(t *testing.T) {
	src, err := os.MkdirTemp("/dev/shm", "pyexec-linktree-")
	if err != nil {
		// CI's machines have a tmpfs /dev/shm and a disk temp dir (.ci/run
		// runs on this machine's kind): there a missing one is a failure.
		if os.Getenv("CI") == "true" {
			t.Fatalf("no /dev/shm: %v", err)
		}
		t.Skipf("no /dev/shm: %v (under CI=true this fails)", err)
	}
	t.Cleanup(func() { os.RemoveAll(src) })
	if err := os.Chmod(src, 0o755); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	var a, b syscall.Stat_t
	if err := syscall.Stat(src, &a); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Stat(filepath.Dir(dst), &b); err != nil {
		t.Fatal(err)
	}
	if a.Dev == b.Dev {
		if os.Getenv("CI") == "true" {
			t.Fatal("/dev/shm and the temp dir are one filesystem: the cross-filesystem copy is not tested")
		}
		t.Skip("/dev/shm and the temp dir are one filesystem (under CI=true this fails)")
	}
	f := filepath.Join(src, "os.py")
	if err := os.WriteFile(f, []byte("x = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(f, old, old); err != nil {
		t.Fatal(err)
	}
	st, err := LinkTree(src, dst)
	if err != nil {
		t.Fatal(err)
	}
	if st.Copied != 1 || st.Linked != 0 {
		t.Errorf("stats %+v, want one copy", st)
	}
	fi, err := os.Stat(filepath.Join(dst, "os.py"))
	if err != nil || !fi.ModTime().Equal(old) || fi.Mode().Perm() != 0o644 {
		t.Errorf("copy: %v %v (%v), want mode 0644 and the source's mtime", fi.Mode(), fi.ModTime(), err)
	}
}

// TestReachableAs checks access with another user's credentials (root
// only): nobody can enter / but not root's 0700 home.
func TestReachableAs(t *testing.T) {
	jailtest.Require(t, "access checks as another user")
	home, err := os.MkdirTemp("", "pyexec-reach-") // t.TempDir's parent is 0700
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	private := filepath.Join(home, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(home, 0o755); err != nil {
		t.Fatal(err)
	}
	nobody := ReachableAs(65534, 65534, nil)
	for p, want := range map[string]bool{"/usr": true, private: false, filepath.Join(private, "x"): false, home: true} {
		got, err := nobody(p)
		if err != nil || got != want {
			t.Errorf("%s: reachable %v (%v), want %v", p, got, err, want)
		}
	}
	root := ReachableAs(0, 0, nil)
	if ok, err := root(private); err != nil || !ok {
		t.Errorf("root: %v %v", ok, err)
	}
}
