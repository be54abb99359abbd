package interpreters

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBootstrapBytecode runs the bootstrap with a host interpreter, outside
// a jail, from a directory of its own: it writes no bytecode for its own
// imports (none next to itself, none for the modules it imports), while
// the user's code runs with the interpreter's setting: its imports are
// cached as under `python main.py`, and -B still turns that off.
func TestBootstrapBytecode(t *testing.T) {
	set, err := Discover(context.Background(), Options{System: true, Env: os.Environ()})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI machines have Pythons: %v", err)
		}
		t.Skipf("no interpreter on this host: %v (under CI=true this fails)", err)
	}
	in := set.Default()
	for _, tt := range []struct {
		name  string
		flags []string
		want  string // sys.dont_write_bytecode as the user's code sees it
	}{
		{"default", nil, "False"},
		{"-B", []string{"-B"}, "True"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			boot := filepath.Join(dir, "boot", "bootstrap.py")
			work := filepath.Join(dir, "work")
			prefix := filepath.Join(dir, "pycache") // all bytecode goes here
			writeTestFile(t, boot, string(Bootstrap))
			writeTestFile(t, filepath.Join(work, "main.py"), "import sys, helper\nprint(sys.dont_write_bytecode)\n")
			writeTestFile(t, filepath.Join(work, "helper.py"), "X = 1\n")

			// -p makes the bootstrap import subprocess; it always imports ctypes.
			args := append(append([]string{}, tt.flags...), "-u", boot, "-p", "true", "--", filepath.Join(work, "main.py"))
			cmd := exec.Command(in.Executable, args...)
			cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8", "PYTHONPYCACHEPREFIX=" + prefix}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%s %v: %v\n%s", in.Executable, args, err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("the user's code sees sys.dont_write_bytecode = %s, want %s", got, tt.want)
			}

			var written []string
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err == nil && (d.Name() == "__pycache__" || strings.HasSuffix(p, ".pyc")) {
					written = append(written, strings.TrimPrefix(p, dir))
				}
				return nil
			})
			var helper bool
			for _, p := range written {
				switch {
				case strings.HasPrefix(p, "/pycache"+work) && strings.Contains(p, "helper."):
					helper = true
				case strings.Contains(p, "/ctypes/") || strings.Contains(p, "subprocess."):
					t.Errorf("bytecode written for the bootstrap's own import: %s", p)
				case strings.Contains(p, "bootstrap"):
					t.Errorf("bytecode written for the bootstrap: %s", p)
				}
			}
			if want := tt.want == "False"; helper != want {
				t.Errorf("bytecode for the user's module written: %v, want %v (written: %v)", helper, want, written)
			}
		})
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
