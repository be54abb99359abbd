package server

import (
	"archive/tar"
	"bytes"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

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
		})
	}
}

func TestParseArchiveAccepts(t *testing.T) {
	entries := []tarEntry{
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
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"main.py", "main.py", true},
		{"./pkg//mod.py", "pkg/mod.py", true},
		{"dir/", "dir", true},
		{"", "", false},
		{".", "", false},
		{"./", "", false},
		{"/abs", "", false},
		{"..", "", false},
		{"a/../b", "", false},
		{"a\x00b", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := cleanName(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("cleanName(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
