package server

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes fn allocates (and any goroutine alongside).
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestParseArchiveRefusesUnsafeEntries(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		status  int
		want    string // in the message
	}{
		{"absolute path", []tarEntry{{name: "/etc/passwd", body: "x"}}, 400, `"/etc/passwd"`},
		{"dot dot", []tarEntry{{name: "../x", body: "x"}}, 400, `"../x"`},
		{"dot dot inside", []tarEntry{{name: "a/../../x", body: "x"}}, 400, `"a/../../x"`},
		{"dot dot that stays inside", []tarEntry{{name: "a/../b.py", body: "x"}}, 400, `"a/../b.py"`},
		{"absolute symlink", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: "/etc/passwd"}}, 400, `"l": symlink target "/etc/passwd"`},
		{"symlink escaping", []tarEntry{{name: "a/l", typ: tar.TypeSymlink, linkname: "../../etc"}}, 400, `"a/l"`},
		{"empty symlink", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: ""}}, 400, `"l"`},
		{"symlink chain escaping", []tarEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "d/up", typ: tar.TypeSymlink, linkname: ".."},
			{name: "x", typ: tar.TypeSymlink, linkname: "d/up/.."},
		}, 400, `"x"`},
		{"symlink loop", []tarEntry{
			{name: "a", typ: tar.TypeSymlink, linkname: "b"},
			{name: "b", typ: tar.TypeSymlink, linkname: "a/x"},
		}, 400, "leaves the archive"},
		{"write through a symlink", []tarEntry{
			{name: "l", typ: tar.TypeSymlink, linkname: "sub"},
			{name: "l/x.py", body: "x"},
		}, 400, `"l" is not a directory`},
		{"hard link to a missing file", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "nothing"}}, 400, `"h": a hard link`},
		{"hard link outside", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "../etc/passwd"}}, 400, `"h": a hard link`},
		{"hard link to an absolute path", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: "/etc/shadow"}}, 400, `"h": a hard link`},
		{"hard link to a later file", []tarEntry{
			{name: "h", typ: tar.TypeLink, linkname: "f"},
			{name: "f", body: "x"},
		}, 400, `"h": a hard link`},
		{"hard link to a directory", []tarEntry{
			{name: "d/", typ: tar.TypeDir},
			{name: "h", typ: tar.TypeLink, linkname: "d"},
		}, 400, `"h": a hard link`},
		{"fifo", []tarEntry{{name: "p", typ: tar.TypeFifo}}, 400, `"p": fifos are not allowed`},
		{"char device", []tarEntry{{name: "null", typ: tar.TypeChar}}, 400, `"null": device files`},
		{"block device", []tarEntry{{name: "sda", typ: tar.TypeBlock}}, 400, `"sda": device files`},
		{"duplicate file", []tarEntry{{name: "a.py", body: "1"}, {name: "./a.py", body: "2"}}, 400, "appears more than once"},
		{"file then dir", []tarEntry{{name: "a", body: "1"}, {name: "a/b.py", body: "2"}}, 400, `"a" is not a directory`},
		{"path too long", []tarEntry{{name: strings.Repeat("a/", 2048) + "f", body: "x"}}, 400, `archive entry "a/a/a/`},
		{"path far too long", []tarEntry{{name: "d0/" + strings.Repeat("a/", 1<<18) + "f"}}, 400, "longer than 4095 bytes"},
		{"component too long", []tarEntry{{name: "d/" + strings.Repeat("x", 256), body: "x"}}, 400, "component longer than 255 bytes"},
		{"symlink target too long", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: strings.Repeat("a/", 2048)}}, 400, `"l": the link target is longer than 4095 bytes`},
		{"hard link target too long", []tarEntry{{name: "h", typ: tar.TypeLink, linkname: strings.Repeat("a/", 2048)}}, 400, `"h": the link target is longer`},
		{"long escaping target", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: strings.Repeat("../", 1000)}}, 400, `"l": symlink target "../../`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArchive(bytes.NewReader(makeTar(t, tt.entries...)), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a request error", err)
			}
			if re.Status != tt.status || !strings.Contains(re.Msg, tt.want) {
				t.Errorf("got %d %q, want %d containing %q", re.Status, re.Msg, tt.status, tt.want)
			}
			if len(re.Msg) > 400 {
				t.Errorf("the message repeats %d bytes of the request", len(re.Msg))
			}
		})
	}
}

func TestParseArchiveAccepts(t *testing.T) {
	entries := []tarEntry{
		{name: "pax_global_header", typ: tar.TypeXGlobalHeader, pax: map[string]string{"comment": "0123abcd"}},
		{name: "./", typ: tar.TypeDir, mode: 0o755},
		{name: "./main.py", body: "import pkg.mod\n"},
		{name: "pkg/sub/deep.py", body: "deep", mode: 0o400},
		{name: "pkg/mod.py", body: "print(1)", mode: 0o755},
		{name: "pkg/", typ: tar.TypeDir, mode: 0o750},
		{name: "pkg/link.py", typ: tar.TypeSymlink, linkname: "mod.py"},
		{name: "pkg/up", typ: tar.TypeSymlink, linkname: "../main.py"},
		{name: "copy.py", typ: tar.TypeLink, linkname: "./pkg/mod.py"},
		{name: "dangling", typ: tar.TypeSymlink, linkname: "not/there"},
	}
	plain := makeTar(t, entries...)
	for name, archive := range map[string][]byte{"plain": plain, "gzip": gzipped(t, plain)} {
		t.Run(name, func(t *testing.T) {
			tr, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
			if err != nil {
				t.Fatalf("parseArchive: %v", err)
			}
			var got []string
			for _, f := range tr.files {
				got = append(got, f.Path+" "+f.Mode.String())
			}
			want := []string{
				"main.py -rw-r--r--",
				"pkg drwxr-x---", // synthesized first, mode updated by its own entry
				"pkg/sub drwxr-xr-x",
				"pkg/sub/deep.py -rw-------",
				"pkg/mod.py -rwxr-xr-x",
				"pkg/link.py Lrwxrwxrwx",
				"pkg/up Lrwxrwxrwx",
				"copy.py -rw-r--r--",
				"dangling Lrwxrwxrwx",
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			data, ok := tr.regular("copy.py")
			if !ok || string(data) != "print(1)" {
				t.Errorf("hard link data = %q, %v", data, ok)
			}
			orig, _ := tr.regular("pkg/mod.py")
			if &orig[0] == &data[0] {
				t.Error("hard link shares its data instead of copying it")
			}
			if f := tr.files[tr.index["pkg/link.py"]]; f.Linkname != "mod.py" || f.Mode&fs.ModeSymlink == 0 {
				t.Errorf("symlink = %+v", f)
			}
		})
	}
}

func TestParseArchiveGitArchive(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		// CI machines have git (they clone the repository); elsewhere the
		// hand-built pax global header case still covers the parser.
		if os.Getenv("CI") == "true" {
			t.Fatal("git is not installed on a CI machine")
		}
		t.Skip("git is not installed (under CI=true this fails)")
	}
	dir := t.TempDir()
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(git, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com",
			"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+dir)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return out
	}
	run("init", "-q")
	if err := os.MkdirAll(filepath.Join(dir, "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range map[string]string{"main.py": "import pkg.mod\n", "pkg/mod.py": "X = 1\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run("add", ".")
	run("commit", "-q", "-m", "x")
	for _, format := range []string{"tar", "tar.gz"} {
		t.Run(format, func(t *testing.T) {
			archive := run("archive", "--format="+format, "HEAD")
			tr, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
			if err != nil {
				t.Fatalf("parseArchive: %v", err)
			}
			if data, ok := tr.regular("pkg/mod.py"); !ok || string(data) != "X = 1\n" {
				t.Errorf("pkg/mod.py = %q, %v", data, ok)
			}
		})
	}
}

func TestParseArchiveLimits(t *testing.T) {
	t.Run("too many entries", func(t *testing.T) {
		archive := makeTar(t, tarEntry{name: "a"}, tarEntry{name: "b"}, tarEntry{name: "c"})
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 2})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Msg, "more than 2 entries") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("expands past the size limit", func(t *testing.T) {
		big := strings.Repeat("x", 600)
		archive := gzipped(t, makeTar(t, tarEntry{name: "a", body: big}, tarEntry{name: "b", body: big}))
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1000, maxEntries: 10})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("err = %v, want 413", err)
		}
	})
	t.Run("hard links count toward the limit", func(t *testing.T) {
		archive := makeTar(t, tarEntry{name: "a", body: strings.Repeat("x", 600)},
			tarEntry{name: "b", typ: tar.TypeLink, linkname: "a"})
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1000, maxEntries: 10})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("err = %v, want 413", err)
		}
	})
	t.Run("implied directories count as entries", func(t *testing.T) {
		archive := makeTar(t, tarEntry{name: "a/b/c/d.py"})
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 3})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Msg, "more than 3 entries") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("deep paths", func(t *testing.T) {
		// Each entry implies 60 directories: 200 of them are over the cap.
		var entries []tarEntry
		for i := range 200 {
			entries = append(entries, tarEntry{name: fmt.Sprintf("d%d/", i), typ: tar.TypeDir},
				tarEntry{name: fmt.Sprintf("d%d/%sf", i, strings.Repeat("a/", 60))})
		}
		archive := gzipped(t, makeTar(t, entries...))
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 100 << 20, maxEntries: 10000})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Msg, "more than 10000 entries") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("too deep", func(t *testing.T) {
		// The hostile test's path: 2000 directories in one 4 KB entry.
		archive := makeTar(t, tarEntry{name: strings.Repeat("a/", 2000) + "f"})
		_, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Msg, "more than 64 directories deep") {
			t.Errorf("err = %v, want 400 naming the depth limit", err)
		}
	})
	t.Run("names count toward the size limit", func(t *testing.T) {
		var entries []tarEntry
		for i := range 10 {
			entries = append(entries, tarEntry{name: fmt.Sprintf("%03d%s", i, strings.Repeat("x", 200))})
		}
		_, err := parseArchive(bytes.NewReader(makeTar(t, entries...)), archiveLimits{maxBytes: 1000, maxEntries: 100})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("err = %v, want 413", err)
		}
	})
	t.Run("link targets count toward the size limit", func(t *testing.T) {
		var entries []tarEntry
		for i := range 10 {
			entries = append(entries, tarEntry{name: fmt.Sprint(i), typ: tar.TypeSymlink, linkname: strings.Repeat("x", 200)})
		}
		_, err := parseArchive(bytes.NewReader(makeTar(t, entries...)), archiveLimits{maxBytes: 1000, maxEntries: 100})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusRequestEntityTooLarge {
			t.Errorf("err = %v, want 413", err)
		}
	})
	t.Run("a claimed size is not allocated before the data arrives", func(t *testing.T) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: 64 << 20}); err != nil {
			t.Fatal(err)
		}
		tw.Write(make([]byte, 512)) // and nothing more: the stream ends
		alloc := allocated(func() {
			_, err := parseArchive(bytes.NewReader(buf.Bytes()), archiveLimits{maxBytes: 100 << 20, maxEntries: 10})
			if err == nil {
				t.Error("a truncated archive was accepted")
			}
		})
		if alloc > 16<<20 {
			t.Errorf("a 1 KiB archive claiming 64 MiB allocated %d MiB", alloc>>20)
		}
	})
	t.Run("not a tar", func(t *testing.T) {
		_, err := parseArchive(strings.NewReader(strings.Repeat("garbage!", 100)), archiveLimits{maxBytes: 1 << 20, maxEntries: 10})
		var re *requestError
		if err == nil || errors.As(err, &re) {
			t.Errorf("err = %v, want a format error", err)
		}
	})
	t.Run("broken gzip", func(t *testing.T) {
		_, err := parseArchive(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), archiveLimits{maxBytes: 1 << 20, maxEntries: 10})
		if err == nil {
			t.Error("err = nil")
		}
	})
	t.Run("empty", func(t *testing.T) {
		tr, err := parseArchive(bytes.NewReader(nil), archiveLimits{maxBytes: 1 << 20, maxEntries: 10})
		if err != nil || len(tr.files) != 0 {
			t.Errorf("got %v, %v", tr, err)
		}
	})
}

func TestCleanName(t *testing.T) {
	long := strings.Repeat("x", 254) + "/" + strings.Repeat(strings.Repeat("a", 60)+"/", 62) + strings.Repeat("b", 58) // 4095 bytes, 64 deep
	deepest := strings.Repeat("a/", maxPathDepth-1) + "b"
	tests := []struct {
		in, want string
		err      error
	}{
		{"main.py", "main.py", nil},
		{"./pkg//mod.py", "pkg/mod.py", nil},
		{"dir/", "dir", nil},
		{"", "", errBadPath},
		{".", "", errBadPath},
		{"./", "", errBadPath},
		{"/abs", "", errBadPath},
		{"..", "", errBadPath},
		{"a/../b", "", errBadPath},
		{"a\x00b", "", errBadPath},
		{long, long, nil},
		{"./" + long + "/", long, nil},
		{long + "c", "", errPathTooLong},
		{deepest, deepest, nil},
		{"a/" + deepest, "", errPathTooDeep},
		{strings.Repeat("a/", 2047) + "b", "", errPathTooDeep},
		{strings.Repeat("x", 255), strings.Repeat("x", 255), nil},
		{"d/" + strings.Repeat("x", 256) + "/f", "", errNameTooLong},
		{strings.Repeat("a/", 1<<18) + "f", "", errPathTooLong},
	}
	for _, tt := range tests {
		t.Run(quoteName(tt.in), func(t *testing.T) {
			got, err := cleanName(tt.in)
			if got != tt.want || err != tt.err {
				t.Errorf("cleanName(%s) = %q, %v; want %q, %v", quoteName(tt.in), got, err, tt.want, tt.err)
			}
		})
	}
}

func TestQuoteName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a.py", `"a.py"`},
		{strings.Repeat("x", 100), `"` + strings.Repeat("x", 100) + `"`},
		{strings.Repeat("x", 101), `"` + strings.Repeat("x", 100) + `"... (101 bytes)`},
		{strings.Repeat("x", 99) + "é", `"` + strings.Repeat("x", 99) + `"... (101 bytes)`}, // not cut inside a rune
	}
	for _, tt := range tests {
		if got := quoteName(tt.in); got != tt.want {
			t.Errorf("quoteName(%d bytes) = %s, want %s", len(tt.in), got, tt.want)
		}
	}
}
