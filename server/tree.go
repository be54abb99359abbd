package server

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

var errDuplicate = errors.New("appears more than once")

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
// an error, as is a path below something that is not a directory. The
// directories it adds count in len(t.files) like any entry.
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

// addParents adds the missing parent directories of p, outermost first.
// It walks up from p's parent and stops at the first one in the tree:
// every entry's parents are already there, so the cost is one lookup per
// directory added, plus one.
func (t *tree) addParents(p string) error {
	var missing []string // innermost first
	for dir := p; ; {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			break
		}
		dir = dir[:i]
		if j, ok := t.index[dir]; ok {
			if !t.files[j].Mode.IsDir() {
				return fmt.Errorf("%s is not a directory", quoteName(dir))
			}
			break
		}
		missing = append(missing, dir)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		t.index[missing[i]] = len(t.files)
		t.files = append(t.files, File{Path: missing[i], Mode: fs.ModeDir | 0o755})
	}
	return nil
}

// regular returns the data of the regular file at p.
func (t *tree) regular(p string) ([]byte, bool) {
	f, ok := t.file(p)
	if !ok || !f.Mode.IsRegular() {
		return nil, false
	}
	return f.Data, true
}

// file returns the entry at p.
func (t *tree) file(p string) (File, bool) {
	i, ok := t.index[p]
	if !ok {
		return File{}, false
	}
	return t.files[i], true
}

// dataSize is the size of a regular file's data, kept or not (scanArchive).
func (f File) dataSize() int64 {
	if f.Data != nil {
		return int64(len(f.Data))
	}
	return f.size
}
