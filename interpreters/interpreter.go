package interpreters

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Interpreter is one host Python.
type Interpreter struct {
	// Version is the full version, "3.12.1".
	Version string
	// Series is major.minor, "3.12": what python_version selects.
	Series string
	// Executable is the host path of the python binary, symlinks resolved.
	Executable string
	// Prefix and ExecPrefix are sys.prefix and sys.exec_prefix.
	Prefix, ExecPrefix string
	// Mounts are host directories a jail must bind read-only at the same
	// path for this interpreter to run (pyenv builds carry absolute library
	// paths). Empty when everything is under the jail's base mounts (/usr).
	Mounts []string
	// Stdlib lists the top-level module names of the standard library,
	// sorted: sys.stdlib_module_names and sys.builtin_module_names (on
	// 3.8 and 3.9, the built-in ones plus a static list).
	Stdlib []string
	// Installed lists the top-level modules of the interpreter's own
	// site-packages, sorted: what runs can import without a layer.
	Installed []string
}

// version is a parsed "X.Y.Z".
type version struct{ major, minor, patch int }

func parseVersion(s string) (version, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return version{}, fmt.Errorf("version %q: want X.Y or X.Y.Z", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return version{}, fmt.Errorf("version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	return version{n[0], n[1], n[2]}, nil
}

func (v version) less(o version) bool {
	if v.major != o.major {
		return v.major < o.major
	}
	if v.minor != o.minor {
		return v.minor < o.minor
	}
	return v.patch < o.patch
}

// mountsFor returns the directories among dirs that are not already under
// one of the jail's base mounts, without duplicates or nesting.
func mountsFor(base []string, dirs ...string) []string {
	var out []string
	covered := func(d string) bool {
		for _, b := range append(base, out...) {
			if d == b || strings.HasPrefix(d, strings.TrimSuffix(b, "/")+"/") {
				return true
			}
		}
		return false
	}
	for _, d := range dirs {
		d = filepath.Clean(d)
		if d == "/" || covered(d) {
			continue
		}
		out = append(out, d)
	}
	return out
}
