package server

import (
	"io/fs"
	"strings"
	"testing"
)

func TestTreeAddParents(t *testing.T) {
	tr := newTree()
	for _, p := range []string{"a/b/c/f", "a/b/x/g", "h"} {
		if err := tr.add(File{Path: p, Mode: 0o644}); err != nil {
			t.Fatalf("add %s: %v", p, err)
		}
	}
	var got []string
	for _, f := range tr.files {
		got = append(got, f.Path)
	}
	if want := "a a/b a/b/c a/b/c/f a/b/x a/b/x/g h"; strings.Join(got, " ") != want {
		t.Errorf("files = %s, want %s", strings.Join(got, " "), want)
	}
	if err := tr.add(File{Path: "h/i/j", Mode: 0o644}); err == nil || err.Error() != `"h" is not a directory` {
		t.Errorf("below a file: %v", err)
	}
}

func TestTreeAddParentsStopsAtTheDeepestDirectory(t *testing.T) {
	// Every entry's parents are in the tree, so addParents looks no
	// higher than the first directory it finds. Here the tree is made
	// inconsistent on purpose (a file above a directory) to show that it
	// does not: looking higher would cost a lookup per level for every
	// entry of a deep tree.
	tr := newTree()
	tr.files = []File{{Path: "a", Mode: 0o644}, {Path: "a/b", Mode: fs.ModeDir | 0o755}}
	tr.index = map[string]int{"a": 0, "a/b": 1}
	if err := tr.add(File{Path: "a/b/c/d", Mode: 0o644}); err != nil {
		t.Errorf("add: %v", err)
	}
	if len(tr.files) != 4 {
		t.Errorf("%d files, want 4", len(tr.files))
	}
}
