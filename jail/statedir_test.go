package jail

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckReachable(t *testing.T) {
	base := t.TempDir()
	private := filepath.Join(base, "private")
	open := filepath.Join(base, "open")
	for d, mode := range map[string]os.FileMode{private: 0o700, open: 0o711} {
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		dir     string
		wantErr string
	}{
		{filepath.Join(open, "state"), ""},
		{filepath.Join(private, "state"), "its parent " + private + " (mode 0700)"},
		{filepath.Join(private, "a", "state"), "no such file"},
	}
	for _, tt := range tests {
		err := checkReachable(tt.dir)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkReachable(%s) = %v, want %q", tt.dir, err, tt.wantErr)
		}
	}
}
