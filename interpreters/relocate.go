package interpreters

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Relocation is an interpreter directory that a rootless server cannot
// reach where it was built (Prefix, e.g. /root/.pyenv/versions/3.12.1 under
// root's 0700 home), and the read-only copy of it that `pyexecd setup` made
// (Path). The build prefix is compiled into the interpreter (pyenv's
// RUNPATH, sys.prefix), so the server binds Path at Prefix in its own mount
// namespace rather than running the copy where it lies.
type Relocation struct {
	Prefix  string `json:"prefix"`
	Path    string `json:"path"`
	Version string `json:"version,omitempty"` // informative: the interpreter's full version
}

// RelocationsDir is the directory below a setup dir (jail.setup_dir) that
// holds the interpreter copies and their manifest.
func RelocationsDir(setupDir string) string { return filepath.Join(setupDir, "interpreters") }

// ManifestPath is the manifest of the copies below a setup dir.
func ManifestPath(setupDir string) string {
	return filepath.Join(RelocationsDir(setupDir), "manifest.json")
}

// ReadRelocations reads a manifest: a JSON list of relocations. A missing
// file is no relocations, not an error; a malformed one is.
func ReadRelocations(path string) ([]Relocation, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read relocations: %w", err)
	}
	var rels []Relocation
	if err := json.Unmarshal(b, &rels); err != nil {
		return nil, fmt.Errorf("read relocations %s: %w", path, err)
	}
	if err := ValidateRelocations(rels); err != nil {
		return nil, fmt.Errorf("read relocations %s: %w", path, err)
	}
	return rels, nil
}

// ValidateRelocations checks that every prefix and path is absolute and
// clean, that no prefix appears twice, and that no copy lies inside a
// prefix (binding it there would hide it).
func ValidateRelocations(rels []Relocation) error {
	seen := map[string]bool{}
	for i, r := range rels {
		for _, p := range []string{r.Prefix, r.Path} {
			if !filepath.IsAbs(p) || filepath.Clean(p) != p || p == "/" {
				return fmt.Errorf("entry %d: %q is not an absolute clean path below /", i, p)
			}
		}
		if seen[r.Prefix] {
			return fmt.Errorf("entry %d: prefix %s listed twice", i, r.Prefix)
		}
		seen[r.Prefix] = true
		if within(r.Path, r.Prefix) || within(r.Prefix, r.Path) {
			return fmt.Errorf("entry %d: %s and %s are nested", i, r.Prefix, r.Path)
		}
	}
	return nil
}

// within reports whether p is dir or below it.
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// WriteRelocations replaces the manifest at path (mode 0644) atomically:
// readers see the old list or the new one, never a part.
func WriteRelocations(path string, rels []Relocation) error {
	if err := ValidateRelocations(rels); err != nil {
		return fmt.Errorf("write relocations: %w", err)
	}
	if rels == nil {
		rels = []Relocation{}
	}
	b, err := json.MarshalIndent(rels, "", "  ")
	if err != nil {
		return fmt.Errorf("write relocations: %w", err)
	}
	return writeFileAtomic(path, append(b, '\n'), 0o644)
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	return nil
}

// PlanRelocations returns a relocation for every directory an interpreter
// of list needs (Interpreter.Mounts) that reachable says the service user
// cannot read: its copy goes to dir/<version> (dir/<version>-<n> for an
// interpreter's further directories). Interpreters under the jail's base
// mounts (/usr) have no Mounts and need none.
func PlanRelocations(list []Interpreter, dir string, reachable func(path string) (bool, error)) ([]Relocation, error) {
	var out []Relocation
	for _, in := range list {
		n := 0
		for _, m := range in.Mounts {
			ok, err := reachable(m)
			if err != nil {
				return nil, fmt.Errorf("interpreter %s: %w", in.Version, err)
			}
			if ok {
				continue
			}
			name := in.Version
			if n > 0 {
				name = fmt.Sprintf("%s-%d", in.Version, n)
			}
			n++
			out = append(out, Relocation{Prefix: m, Path: filepath.Join(dir, name), Version: in.Version})
		}
	}
	if err := ValidateRelocations(out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReachableAs returns a check of whether the user uid, gid (with the
// supplementary groups) can list and enter a directory: it runs test(1)
// with that user's credentials, so every ancestor's mode, owner, group
// and ACL counts as the kernel sees them. The caller must be root.
func ReachableAs(uid, gid uint32, groups []uint32) func(path string) (bool, error) {
	return func(path string) (bool, error) {
		bin, err := exec.LookPath("/usr/bin/test")
		if err != nil {
			return false, fmt.Errorf("check access to %s: %w", path, err)
		}
		cmd := exec.Command(bin, "-r", path, "-a", "-x", path)
		cmd.Dir = "/"
		cmd.Env = []string{"PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid, Groups: groups}}
		err = cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && exit.ExitCode() == 1:
			return false, nil
		}
		return false, fmt.Errorf("check access to %s as uid %d: %w", path, uid, err)
	}
}

// TreeStats counts what LinkTree did.
type TreeStats struct {
	Linked  int // files hard-linked
	Copied  int // files copied (another filesystem, or a mode made safe)
	Skipped int // files and directories others may not read, left out
}

// LinkTree makes dst a read-only replica of the directory src, as
// `cp -al` does: directories are made anew (0755, owned by the caller),
// files are hard links to src's (same filesystem: instant, no space),
// copies across filesystems (mode and times kept: Python's .pyc files
// stay valid), symlinks are made again with the same target. It never
// hands a reader more than src does: files and directories that others
// may not read are left out, set-id and group/world-writable files are
// copied without those bits, and other file types are skipped. dst must
// not exist; on error, what was made of it is removed.
func LinkTree(src, dst string) (TreeStats, error) {
	var st TreeStats
	if _, err := os.Lstat(dst); err == nil {
		return st, fmt.Errorf("link tree: %s exists", dst)
	}
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		mode := fi.Mode()
		switch {
		case mode.IsDir():
			if mode.Perm()&0o005 != 0o005 {
				if p == src {
					return fmt.Errorf("%s is mode %v: others may not read it", src, mode.Perm())
				}
				st.Skipped++
				return filepath.SkipDir
			}
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
			return os.Chmod(target, 0o755) // whatever the umask
		case mode&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case !mode.IsRegular(), mode.Perm()&0o004 == 0:
			st.Skipped++
			return nil
		case mode&(os.ModeSetuid|os.ModeSetgid) != 0, mode.Perm()&0o022 != 0:
			st.Copied++
			return copyFile(p, target, fi, safeMode(mode))
		}
		err = os.Link(p, target)
		if errors.Is(err, syscall.EXDEV) {
			st.Copied++
			return copyFile(p, target, fi, mode.Perm())
		}
		if err == nil {
			st.Linked++
		}
		return err
	})
	if err != nil {
		_ = os.RemoveAll(dst)
		return TreeStats{}, fmt.Errorf("link tree %s to %s: %w", src, dst, err)
	}
	return st, nil
}

// safeMode drops the set-id bits and group and world write.
func safeMode(m os.FileMode) os.FileMode { return m.Perm() &^ 0o022 }

func copyFile(src, dst string, fi os.FileInfo, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, in)
	err = errors.Join(err, out.Chmod(perm), out.Close()) // Chmod: whatever the umask
	if err != nil {
		return err
	}
	return os.Chtimes(dst, fi.ModTime(), fi.ModTime())
}

// MergeRelocations returns list with add's entries appended, except those
// whose prefix list has already.
func MergeRelocations(list, add []Relocation) []Relocation {
	out := slices.Clone(list)
	for _, r := range add {
		if !slices.ContainsFunc(out, func(o Relocation) bool { return o.Prefix == r.Prefix }) {
			out = append(out, r)
		}
	}
	return out
}
