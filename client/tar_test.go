package client

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// entries lists "name" for files and "name/" for directories, with the
// content of files after a '='.
func entries(t *testing.T, b []byte) []string {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			out = append(out, hdr.Name)
		case tar.TypeReg:
			data, _ := io.ReadAll(tr)
			out = append(out, hdr.Name+"="+string(data))
		default:
			t.Errorf("unexpected entry %q of type %c", hdr.Name, hdr.Typeflag)
		}
	}
}

func TestTarFromMap(t *testing.T) {
	files := map[string]string{"main.py": "import pkg.util", "pkg/util.py": "X = 1", "pkg/sub/a.py": "", "./b.txt": "b"}
	b1, err := TarFromMap(files)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(entries(t, b1), " ")
	want := "b.txt=b main.py=import pkg.util pkg/ pkg/sub/ pkg/sub/a.py= pkg/util.py=X = 1"
	if got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	b2, _ := TarFromMap(files)
	if !bytes.Equal(b1, b2) {
		t.Error("TarFromMap is not deterministic")
	}
	for _, bad := range []string{"", "/etc/passwd", "../x.py", "a/../../x.py", "."} {
		if _, err := TarFromMap(map[string]string{bad: ""}); err == nil {
			t.Errorf("TarFromMap accepted %q", bad)
		}
	}
	if _, err := TarFromMap(map[string]string{"a.py": "", "./a.py": ""}); err == nil {
		t.Error("TarFromMap accepted a duplicate")
	}
}

func writeFile(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestTarFromFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "script.py")
	writeFile(t, p, "print(1)")
	b, err := TarFromFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, b), " "); got != "script.py=print(1)" {
		t.Errorf("entries = %s", got)
	}
	if _, err := TarFromFile(dir); err == nil {
		t.Error("TarFromFile accepted a directory")
	}
	if _, err := TarFromFile(filepath.Join(dir, "missing.py")); err == nil {
		t.Error("TarFromFile accepted a missing file")
	}
}

func TestTarFromFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "b.py"), "B")
	writeFile(t, filepath.Join(dir, "x", "a.py"), "A")
	writeFile(t, filepath.Join(dir, "y", "b.py"), "B2")
	b, err := TarFromFiles(filepath.Join(dir, "b.py"), filepath.Join(dir, "x", "a.py"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, b), " "); got != "a.py=A b.py=B" {
		t.Errorf("entries = %s", got)
	}
	if _, err := TarFromFiles(filepath.Join(dir, "b.py"), filepath.Join(dir, "y", "b.py")); err == nil {
		t.Error("TarFromFiles accepted two files named b.py")
	}
	if _, err := TarFromFiles(); err == nil {
		t.Error("TarFromFiles accepted no files")
	}
}

func TestTarFromDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "proj")
	writeFile(t, filepath.Join(dir, "main.py"), "M")
	writeFile(t, filepath.Join(dir, "pkg", "__init__.py"), "")
	writeFile(t, filepath.Join(dir, "pkg", "__pycache__", "x.pyc"), "junk")
	writeFile(t, filepath.Join(dir, ".git", "HEAD"), "ref")
	writeFile(t, filepath.Join(root, "secret.txt"), "S")
	want := "main.py=M pkg/ pkg/__init__.py="
	if err := os.Symlink(filepath.Join(root, "secret.txt"), filepath.Join(dir, "leak.txt")); err == nil {
		if err := os.Symlink("main.py", filepath.Join(dir, "alias.py")); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join(dir, "pkg"), filepath.Join(dir, "pkglink")); err != nil {
			t.Fatal(err)
		}
		want = "alias.py=M " + want
	} else if runtime.GOOS != "windows" {
		t.Fatal(err)
	}
	b, err := TarFromDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(entries(t, b), " "); got != want {
		t.Errorf("entries:\n got %s\nwant %s", got, want)
	}
	if _, err := TarFromDir(filepath.Join(dir, "main.py")); err == nil {
		t.Error("TarFromDir accepted a file")
	}
}

func TestDetectEntrypoint(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		want  string
	}{
		{"main wins", []string{"a.py", "main.py", "__main__.py"}, "main.py"},
		{"dunder main", []string{"z.py", "__main__.py"}, "__main__.py"},
		{"first sorted", []string{"z.py", "b.py", "README.md"}, "b.py"},
		{"root first", []string{"a/b.py", "z.py"}, "z.py"},
		{"nested main", []string{"a.py", "src/main.py"}, "src/main.py"},
		{"shallow main", []string{"pkg/main.py", "./main.py"}, "main.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DetectEntrypoint(tt.names)
			if err != nil || got != tt.want {
				t.Errorf("DetectEntrypoint(%q) = %q, %v; want %q", tt.names, got, err, tt.want)
			}
		})
	}
	if _, err := DetectEntrypoint([]string{"README.md"}); !errors.Is(err, ErrNoEntrypoint) {
		t.Errorf("no .py: error = %v", err)
	}
}

func TestTarNames(t *testing.T) {
	b, err := TarFromMap(map[string]string{"main.py": "", "pkg/a.py": ""})
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(b)
	_ = zw.Close()
	for name, data := range map[string][]byte{"plain": b, "gzip": gz.Bytes()} {
		t.Run(name, func(t *testing.T) {
			names, err := TarNames(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(names, ","); got != "main.py,pkg/a.py" {
				t.Errorf("names = %s", got)
			}
		})
	}
	if _, err := TarNames(strings.NewReader("this is not a tar archive at all, not even close...")); err == nil {
		t.Error("TarNames accepted garbage")
	}
}
