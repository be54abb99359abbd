package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestStateDirUnreachable: a state dir the jails' ids cannot reach (inside
// a 0700 directory, as mktemp -d makes) stops the start-up with a message
// that names the directory and the fix, instead of a healthy server whose
// every run fails.
func TestStateDirUnreachable(t *testing.T) {
	requireJail(t)
	private, err := os.MkdirTemp("", "pyexec-private-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(private)
	s, err := launch([]string{"PYEXEC_JAIL_STATE_DIR=" + filepath.Join(private, "state")})
	if err == nil {
		s.stop()
		t.Fatal("the server started")
	}
	for _, want := range []string{private, "mode 0700", "cannot be searched", "chmod o+x"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start-up error lacks %q:\n%v", want, err)
		}
	}
}

// TestAlternatives: Debian's /usr/bin links into /etc/alternatives (awk,
// which, editor ...) work in pre_commands and subprocesses.
func TestAlternatives(t *testing.T) {
	s := sharedServer(t)
	status, raw := s.execSync(t, map[string]string{"main.py": "import subprocess\nprint(subprocess.run(['awk', 'BEGIN { print 6 * 7 }'], capture_output=True, text=True).stdout, end='')\n"},
		api.Metadata{Entrypoint: "main.py", PreCommands: []string{"awk 'BEGIN { exit 0 }'", "which sh > /dev/null"}})
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	e := decode[api.Execution](t, raw)
	if e.Status != api.StatusCompleted || e.Stdout != "42\n" {
		t.Errorf("awk through /etc/alternatives: %s", describe(e))
	}
}
