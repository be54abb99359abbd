package server

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// maxLinkHops bounds symlink resolution, like the kernel's MAXSYMLINKS.
const maxLinkHops = 40

var errDuplicate = errors.New("appears more than once")

// cleanName checks a client-supplied slash-separated path and returns its
// clean form. It refuses empty and absolute paths, ".." components, NUL
// bytes and names that clean to the root itself.
func cleanName(name string) (string, bool) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", false
	}
	for _, el := range strings.Split(name, "/") {
		if el == ".." {
			return "", false
		}
	}
	c := path.Clean(name)
	if c == "." || !fs.ValidPath(c) {
		return "", false
	}
	return c, true
}

// tree collects the entries of a job's work dir in order, inserting every
// missing parent directory before the entries inside it.
type tree struct {
	files []File
	index map[string]int // path -> position in files
}

func newTree() *tree {
	return &tree{index: make(map[string]int)}
}

// add appends f, whose Path must be clean. A second directory entry for
// the same path only updates its permissions; any other repeated path is
// an error, as is a path below something that is not a directory.
func (t *tree) add(f File) error {
	if err := t.addParents(f.Path); err != nil {
		return err
	}
	if i, ok := t.index[f.Path]; ok {
		if f.Mode.IsDir() && t.files[i].Mode.IsDir() {
			t.files[i].Mode = f.Mode
			return nil
		}
		return errDuplicate
	}
	t.index[f.Path] = len(t.files)
	t.files = append(t.files, f)
	return nil
}

func (t *tree) addParents(p string) error {
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		dir := p[:i]
		if j, ok := t.index[dir]; ok {
			if !t.files[j].Mode.IsDir() {
				return fmt.Errorf("%q is not a directory", dir)
			}
			continue
		}
		t.index[dir] = len(t.files)
		t.files = append(t.files, File{Path: dir, Mode: fs.ModeDir | 0o755})
	}
	return nil
}

// regular returns the data of the regular file at p.
func (t *tree) regular(p string) ([]byte, bool) {
	i, ok := t.index[p]
	if !ok || !t.files[i].Mode.IsRegular() {
		return nil, false
	}
	return t.files[i].Data, true
}

// escapingLink returns the path of the first symlink whose target, resolved
// through the tree's own symlinks, is absolute or leaves the tree.
func (t *tree) escapingLink() (string, bool) {
	links := make(map[string]string)
	for _, f := range t.files {
		if f.Mode&fs.ModeSymlink != 0 {
			links[f.Path] = f.Linkname
		}
	}
	for _, f := range t.files {
		if f.Mode&fs.ModeSymlink != 0 && !staysInside(links, f.Path) {
			return f.Path, true
		}
	}
	return "", false
}

// staysInside resolves the symlink at link component by component, the
// way the kernel would inside the work dir, following links found in
// links, and reports whether it never climbs above the root. Components
// that are not in the tree are taken as plain names.
func staysInside(links map[string]string, link string) bool {
	var cur []string
	if dir := path.Dir(link); dir != "." {
		cur = strings.Split(dir, "/")
	}
	target := links[link]
	if target == "" || path.IsAbs(target) {
		return false
	}
	todo := strings.Split(target, "/")
	for hops := 0; len(todo) > 0; {
		el := todo[0]
		todo = todo[1:]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(cur) == 0 {
				return false
			}
			cur = cur[:len(cur)-1]
			continue
		}
		next := append(cur[:len(cur):len(cur)], el)
		t, ok := links[strings.Join(next, "/")]
		if !ok {
			cur = next
			continue
		}
		if hops++; hops > maxLinkHops || t == "" || path.IsAbs(t) {
			return false
		}
		// The link's target is relative to the directory holding it: cur.
		todo = append(strings.Split(t, "/"), todo...)
	}
	return true
}
