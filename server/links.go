package server

import (
	"errors"
	"io/fs"
	"path"
	"strings"
)

const (
	// maxLinkHops bounds the symlinks followed while resolving one, like
	// the kernel's MAXSYMLINKS.
	maxLinkHops = 40
	// maxLinkSteps bounds the path components walked to check all the
	// symlinks of one tree. Each target is at most maxPathBytes long, so
	// one symlink costs at most about maxLinkHops*maxPathBytes/2 steps.
	maxLinkSteps = 1 << 20
)

// Why a symlink is refused.
var (
	errLinkEscapes = errors.New("the symlink target leaves the tree")
	errLinkSteps   = errors.New("resolving the symlinks takes too many steps")
)

// node is one entry of a tree seen as a hierarchy.
type node struct {
	children map[string]*node // entries of a directory
	link     string           // target of a symlink
	isLink   bool
}

// child returns n's entry called name; nil when n is nil (a name not in
// the tree) or has no such entry.
func (n *node) child(name string) *node {
	if n == nil {
		return nil
	}
	return n.children[name]
}

// escapingLink checks every symlink of the tree, resolving its target
// through the tree's own symlinks the way the kernel would inside the work
// dir. It returns the path of the first one that is absolute, empty,
// climbs above the root or loops (with errLinkEscapes), or of the one
// being resolved when the check as a whole runs past maxLinkSteps (with
// errLinkSteps). Components not in the tree are taken as plain names.
func (t *tree) escapingLink() (string, error) {
	root := &node{}
	nodes := map[string]*node{}
	var links []string
	for _, f := range t.files {
		n := &node{link: f.Linkname, isLink: f.Mode&fs.ModeSymlink != 0}
		nodes[f.Path] = n
		parent, base := root, f.Path
		if i := strings.LastIndexByte(f.Path, '/'); i >= 0 {
			parent, base = nodes[f.Path[:i]], f.Path[i+1:] // parents come first
		}
		if parent.children == nil {
			parent.children = make(map[string]*node)
		}
		parent.children[base] = n
		if n.isLink {
			links = append(links, f.Path)
		}
	}
	budget := maxLinkSteps
	for _, p := range links {
		if err := resolveLink(root, p, &budget); err != nil {
			return p, err
		}
	}
	return "", nil
}

// resolveLink walks the target of the symlink at p from the directory
// holding it, taking *budget steps from the budget. The walk keeps the
// stack of directories it is in, so each component costs one map lookup.
func resolveLink(root *node, p string, budget *int) error {
	stack := []*node{root} // nil: a directory not in the tree
	dir, base := "", p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		dir, base = p[:i], p[i+1:]
	}
	for rest := dir; rest != ""; {
		var el string
		el, rest, _ = strings.Cut(rest, "/")
		stack = append(stack, stack[len(stack)-1].child(el))
	}
	var todo []string // components still to walk, the next one last
	push := func(target string) bool {
		if target == "" || path.IsAbs(target) {
			return false
		}
		els := strings.Split(target, "/")
		for i := len(els) - 1; i >= 0; i-- {
			todo = append(todo, els[i])
		}
		return true
	}
	if !push(stack[len(stack)-1].child(base).link) {
		return errLinkEscapes
	}
	for hops := 0; len(todo) > 0; {
		if *budget--; *budget < 0 {
			return errLinkSteps
		}
		el := todo[len(todo)-1]
		todo = todo[:len(todo)-1]
		switch el {
		case "", ".":
			continue
		case "..":
			if len(stack) == 1 {
				return errLinkEscapes
			}
			stack = stack[:len(stack)-1]
			continue
		}
		next := stack[len(stack)-1].child(el)
		if next == nil || !next.isLink {
			stack = append(stack, next)
			continue
		}
		// The target is relative to the directory holding the link: the
		// top of the stack.
		if hops++; hops > maxLinkHops || !push(next.link) {
			return errLinkEscapes
		}
	}
	return nil
}
