package jail

import (
	"fmt"
	"os"
	"path/filepath"
)

// checkReachable fails when a jail's ids could not reach dir: every
// directory above it must be searchable by others, since the jails' roots
// are unprivileged host ids that own none of them (a state dir inside a
// 0700 directory, as mktemp -d makes, would start a server whose every run
// fails in libcontainer with "permission denied").
func checkReachable(dir string) error {
	dir = filepath.Clean(dir)
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("state dir %s: %w", dir, err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("state dir %s: its parent %s (mode %04o) cannot be searched by the jails' unprivileged ids: "+
				"use a state dir whose parents others may search (such as the default /run/pyexec), or chmod o+x %s",
				dir, p, fi.Mode().Perm(), p)
		}
		if p == "/" {
			return nil
		}
	}
}
