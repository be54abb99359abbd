package interpreters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"time"
)

// Options says where to look for interpreters. The zero value looks in
// $PYENV_ROOT/versions (else ~/.pyenv/versions) only.
type Options struct {
	// Roots are directories holding one interpreter prefix per entry, as
	// pyenv's versions directory does. Empty: $PYENV_ROOT/versions, else
	// ~/.pyenv/versions of the user running the server.
	Roots []string
	// Paths are extra python executables.
	Paths []string
	// System adds /usr/bin/python3.X and /usr/local/bin/python3.X.
	System bool
	// Default is the series or version used when a request names none.
	// Empty: 3.12 if found, else the newest.
	Default string
	// BaseMounts are the host directories every jail mounts anyway (/usr,
	// /lib...); interpreters under them need no mount of their own.
	BaseMounts []string
	// Env is the environment to read PYENV_ROOT and HOME from.
	Env []string
	// Logger receives one line per interpreter skipped. Nil: discard.
	Logger *slog.Logger
}

// minVersion is the oldest Python the bootstrap supports.
var minVersion = version{3, 8, 0}

// probeScript prints what discovery needs, without site (fast, and no
// .pth side effects): implementation, version, prefixes, the standard
// library's top-level modules (sys.stdlib_module_names on 3.10+, only the
// built-in ones before), and the top-level modules installed in the
// interpreter's own site-packages (importing site under -S runs no .pth).
const probeScript = `import sys, json, os
std = sorted(set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names))
inst = set()
try:
    import site
    dirs = site.getsitepackages()
except Exception:
    dirs = []
for d in dirs:
    try:
        names = os.listdir(d)
    except OSError:
        continue
    for n in names:
        base = n.split(".")[0]
        if base.isidentifier() and (n.endswith((".py", ".so")) or (n == base and os.path.isdir(os.path.join(d, n)))):
            inst.add(base)
print(json.dumps([sys.implementation.name, "%d.%d.%d" % sys.version_info[:3], sys.prefix, sys.exec_prefix, std, sorted(inst)]))`

// Discover finds the interpreters described by opts. It fails when none
// is found or when the default names none of them.
func Discover(ctx context.Context, opts Options) (*Set, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	candidates := candidatePaths(opts)
	byVersion := map[string]Interpreter{}
	for _, exe := range candidates {
		in, err := probe(ctx, exe, opts.BaseMounts)
		if err != nil {
			log.Debug("skip interpreter", "path", exe, "err", err)
			continue
		}
		v, _ := parseVersion(in.Version)
		if v.less(minVersion) {
			log.Debug("skip interpreter", "path", exe, "version", in.Version, "reason", "older than 3.8")
			continue
		}
		if _, dup := byVersion[in.Version]; !dup {
			byVersion[in.Version] = in
		}
	}
	list := make([]Interpreter, 0, len(byVersion))
	for _, in := range byVersion {
		list = append(list, in)
	}
	return NewSet(list, opts.Default)
}

// candidatePaths lists python executables to probe, in preference order.
func candidatePaths(opts Options) []string {
	roots := opts.Roots
	if len(roots) == 0 {
		roots = defaultRoots(opts.Env)
	}
	var out []string
	for _, root := range roots {
		entries, err := os.ReadDir(root)
		if err != nil {
			continue
		}
		for _, e := range entries {
			exe := filepath.Join(root, e.Name(), "bin", "python3")
			if _, err := os.Stat(exe); err == nil {
				out = append(out, exe)
			}
		}
	}
	out = append(out, opts.Paths...)
	if opts.System {
		re := regexp.MustCompile(`^python3\.\d+$`)
		for _, dir := range []string{"/usr/local/bin", "/usr/bin"} {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if re.MatchString(e.Name()) {
					out = append(out, filepath.Join(dir, e.Name()))
				}
			}
		}
	}
	return out
}

func defaultRoots(env []string) []string {
	get := func(k string) string {
		for i := len(env) - 1; i >= 0; i-- {
			if len(env[i]) > len(k) && env[i][:len(k)+1] == k+"=" {
				return env[i][len(k)+1:]
			}
		}
		return ""
	}
	if r := get("PYENV_ROOT"); r != "" {
		return []string{filepath.Join(r, "versions")}
	}
	home := get("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	if home == "" {
		return nil
	}
	return []string{filepath.Join(home, ".pyenv", "versions")}
}

func probe(ctx context.Context, exe string, base []string) (Interpreter, error) {
	real, err := filepath.EvalSymlinks(exe)
	if err != nil {
		return Interpreter{}, fmt.Errorf("resolve %s: %w", exe, err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, real, "-I", "-S", "-c", probeScript)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		return Interpreter{}, fmt.Errorf("probe %s: %w", real, err)
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(out, &raw); err != nil || len(raw) != 6 {
		return Interpreter{}, fmt.Errorf("probe %s: unexpected output %q", real, out)
	}
	fields := make([]string, 4)
	var std, installed []string
	for i := range fields {
		err = errors.Join(err, json.Unmarshal(raw[i], &fields[i]))
	}
	err = errors.Join(err, json.Unmarshal(raw[4], &std), json.Unmarshal(raw[5], &installed))
	if err != nil {
		return Interpreter{}, fmt.Errorf("probe %s: unexpected output %q", real, out)
	}
	if fields[0] != "cpython" {
		return Interpreter{}, fmt.Errorf("probe %s: %s is not supported", real, fields[0])
	}
	v, err := parseVersion(fields[1])
	if err != nil {
		return Interpreter{}, err
	}
	return Interpreter{
		Version:    fields[1],
		Series:     fmt.Sprintf("%d.%d", v.major, v.minor),
		Executable: real,
		Prefix:     fields[2],
		ExecPrefix: fields[3],
		Mounts:     mountsFor(base, fields[2], fields[3], filepath.Dir(real)),
		Stdlib:     stdlibFor(v, std),
		Installed:  installed,
	}, nil
}

// stdlibFor returns the probed standard library modules, completed with
// the static list for interpreters older than 3.10 (which only report
// their built-in modules).
func stdlibFor(v version, probed []string) []string {
	if !v.less(version{3, 10, 0}) {
		return probed
	}
	set := map[string]bool{}
	for _, m := range append(append([]string(nil), probed...), stdlib38()...) {
		set[m] = true
	}
	out := make([]string, 0, len(set))
	for m := range set {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// sortNewestFirst orders interpreters by version, newest first.
func sortNewestFirst(list []Interpreter) {
	sort.Slice(list, func(i, j int) bool {
		a, _ := parseVersion(list[i].Version)
		b, _ := parseVersion(list[j].Version)
		return b.less(a)
	})
}

var errNone = errors.New("no Python 3.8+ interpreter found")
