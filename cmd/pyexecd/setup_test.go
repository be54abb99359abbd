package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

var rootMode = []idSpan{{200000, 65536}} // the root-mode jails' default ids

func TestSubIDPlan(t *testing.T) {
	r := func(user string, start, count int) jail.SubIDRange {
		return jail.SubIDRange{User: user, Start: start, Count: count}
	}
	tests := []struct {
		name       string
		uids, gids []jail.SubIDRange
		wantU      string
		wantG      string
	}{
		{"empty files", nil, nil, "px:1048576:65536", "px:1048576:65536"},
		{"has both", []jail.SubIDRange{r("px", 100000, 65536)}, []jail.SubIDRange{r("px", 100000, 65536)}, "", ""},
		{"by uid", []jail.SubIDRange{r("1001", 100000, 65536)}, []jail.SubIDRange{r("px", 100000, 65536)}, "", ""},
		{"others below", []jail.SubIDRange{r("a", 100000, 65536), r("b", 165536, 65536)}, nil,
			"px:1048576:65536", "px:1048576:65536"},
		{"the first block taken", []jail.SubIDRange{r("a", 1048576, 10)}, []jail.SubIDRange{r("b", 1114112, 65536)},
			"px:1179648:65536", "px:1179648:65536"},
		{"a range across blocks", nil, []jail.SubIDRange{r("b", 1100000, 100000)},
			"px:1245184:65536", "px:1245184:65536"},
		{"gid missing, uid's start free", []jail.SubIDRange{r("px", 100000, 65536)}, nil, "", "px:100000:65536"},
		{"gid missing, uid's start taken", []jail.SubIDRange{r("px", 100000, 65536)}, []jail.SubIDRange{r("o", 100000, 65536)},
			"", "px:1048576:65536"},
		{"uid missing, gid's start in the root-mode ids", nil, []jail.SubIDRange{r("px", 200000, 65536)}, "px:1048576:65536", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, g, err := subIDPlan(tt.uids, tt.gids, "px", 1001, rootMode)
			if err != nil {
				t.Fatal(err)
			}
			if u != tt.wantU || g != tt.wantG {
				t.Errorf("got %q %q, want %q %q", u, g, tt.wantU, tt.wantG)
			}
		})
	}
}

func TestFreeSubIDStartFull(t *testing.T) {
	if _, err := freeSubIDStart([]idSpan{{0, subIDLimit}}); err == nil {
		t.Error("found a range in a full id space")
	}
	if s, err := freeSubIDStart(rootMode); err != nil || s != subIDMin {
		t.Errorf("got %d %v, want %d", s, err, subIDMin)
	}
}

func TestWithSubIDLines(t *testing.T) {
	tests := []struct {
		name, in, add, remove, want string
	}{
		{"add to empty", "", "px:1:2", "", "px:1:2\n"},
		{"add after a line without newline", "a:1:2", "px:1:2", "", "a:1:2\npx:1:2\n"},
		{"add keeps comments", "# c\n\na:1:2\n", "px:1:2", "", "# c\n\na:1:2\npx:1:2\n"},
		{"remove", "a:1:2\npx:3:4\nb:5:6\n", "", "px:3:4", "a:1:2\nb:5:6\n"},
		{"remove the first only", "px:3:4\npx:3:4\n", "", "px:3:4", "px:3:4\n"},
		{"remove the last", "px:3:4\n", "", "px:3:4", ""},
		{"remove missing", "a:1:2\n", "", "px:3:4", "a:1:2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(withSubIDLines([]byte(tt.in), tt.add, tt.remove)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestEditSubIDFile: a line added then removed leaves the file as it was
// (mode too); a file the edit made and emptied goes; a held lock waits and
// one left by a dead process is taken over.
func TestEditSubIDFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "subuid")
	before := "root:100000:65536\n"
	if err := os.WriteFile(p, []byte(before), 0o640); err != nil {
		t.Fatal(err)
	}
	if made, err := editSubIDFile(p, "px:1048576:65536", "", false); err != nil || made {
		t.Fatalf("add: made %v, %v", made, err)
	}
	if b, _ := os.ReadFile(p); string(b) != before+"px:1048576:65536\n" {
		t.Errorf("after add: %q", b)
	}
	if _, err := editSubIDFile(p, "", "px:1048576:65536", true); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if b, _ := os.ReadFile(p); err != nil || string(b) != before || fi.Mode().Perm() != 0o640 {
		t.Errorf("after remove: %q, mode %v (%v)", b, fi.Mode(), err)
	}

	fresh := filepath.Join(dir, "subgid")
	if made, err := editSubIDFile(fresh, "", "px:1:2", true); err != nil || made {
		t.Errorf("remove from a missing file: made %v, %v", made, err)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("removing from a missing file made it")
	}
	if made, err := editSubIDFile(fresh, "px:1048576:65536", "", false); err != nil || !made {
		t.Fatalf("add to a missing file: made %v, %v", made, err)
	}
	if fi, err := os.Stat(fresh); err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("new file: %v (%v), want 0644", fi.Mode(), err)
	}
	if _, err := editSubIDFile(fresh, "", "px:1048576:65536", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("the file setup made is left, empty")
	}

	// A lock whose owner is dead is taken over.
	if err := os.WriteFile(p+".lock", []byte("999999999"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := editSubIDFile(p, "px:1:2", "", false); err != nil {
		t.Fatalf("with a stale lock: %v", err)
	}
	if _, err := os.Stat(p + ".lock"); err == nil {
		t.Error("the lock is left")
	}
	if _, err := editSubIDFile(filepath.Join(dir, "bad"), "", "", false); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("nonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := editSubIDFile(filepath.Join(dir, "bad"), "px:1:2", "", false); err == nil {
		t.Error("a malformed file was edited")
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".pyexec-") {
			t.Errorf("temp file %s left", e.Name())
		}
	}
}

func TestSetupRecords(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lib", "pyexec")
	var a setupRecord
	a.User, a.UID = "alice", 1001
	if err := a.mkdirRecorded(recordsDir(dir)); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Dir(dir), dir, recordsDir(dir)}; !reflect.DeepEqual(a.MadeDirs, want) {
		t.Errorf("made %v, want %v", a.MadeDirs, want)
	}
	if fi, err := os.Stat(recordsDir(dir)); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("records dir %v (%v), want 0755", fi.Mode(), err)
	}
	rel := interpreters.Relocation{Prefix: "/root/.pyenv/versions/3.12.1", Path: filepath.Join(dir, "interpreters", "3.12.1")}
	a.addInterpreter(rel)
	a.addInterpreter(rel)
	if len(a.Interpreters) != 1 {
		t.Errorf("interpreters %v: want one", a.Interpreters)
	}
	if err := a.write(dir); err != nil {
		t.Fatal(err)
	}
	b := setupRecord{User: "bob", UID: 1002}
	if err := b.write(dir); err != nil {
		t.Fatal(err)
	}
	got, found, err := readRecord(dir, "alice")
	if err != nil || !found || !reflect.DeepEqual(got, a) {
		t.Fatalf("read back %+v %v %v, want %+v", got, found, err, a)
	}
	if _, found, err := readRecord(dir, "carol"); found || err != nil {
		t.Errorf("a missing record: %v %v", found, err)
	}
	others, err := otherRecords(dir, "alice")
	if err != nil || len(others) != 1 || others[0].User != "bob" {
		t.Errorf("others of alice: %+v %v", others, err)
	}
	if err := os.WriteFile(recordPath(dir, "mallory"), []byte(`{"user": "alice"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readRecord(dir, "mallory"); err == nil {
		t.Error("a record naming another user was read")
	}
}

func TestUserName(t *testing.T) {
	for name, ok := range map[string]bool{"pyexec": true, "py_x-1.a": true, "": false, "../etc": false, "a/b": false,
		"-x": false, ".x": false, strings.Repeat("a", 33): false} {
		if userName.MatchString(name) != ok {
			t.Errorf("%q: accepted %v, want %v", name, !ok, ok)
		}
	}
}

// TestRunSetupUsage: `pyexecd setup` is dispatched before the server's
// flags, and its flags are its own, checked before anything is touched.
func TestRunSetupUsage(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"setup", "--help"}, nil, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage: pyexecd setup") {
		t.Errorf("pyexecd setup --help: exit %d, %q", code, stderr.String())
	}
	for _, tt := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, 2, "usage: pyexecd setup"},
		{[]string{"--help"}, 0, "usage: pyexecd setup"},
		{[]string{"--user", "../x"}, 2, "not a user name"},
		{[]string{"--user", "x", "extra"}, 2, "usage"},
		{[]string{"--port", "1"}, 2, "unknown flag"},
	} {
		var stdout, stderr bytes.Buffer
		if code := runSetup(tt.args, nil, &stdout, &stderr); code != tt.code || !strings.Contains(stderr.String(), tt.msg) {
			t.Errorf("setup %q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.code, tt.msg)
		}
		if stdout.Len() > 0 {
			t.Errorf("setup %q wrote to stdout: %q", tt.args, stdout.String())
		}
	}
}
