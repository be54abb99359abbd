package requirements

import (
	"path"
	"slices"
	"strings"
)

// File is one file of a program, for Detect.
type File struct {
	Path string // slash-separated, relative to the program's root
	Data []byte
}

// Import is a third-party import that Detect found.
type Import struct {
	// Module is the imported module, dotted.
	Module string
	// Dist is the distribution to install for it.
	Dist string
	// Providers are the canonical names of every distribution known to
	// provide Module, Dist's included: a requirement naming any of them
	// satisfies the import.
	Providers []string
}

// Detect scans the .py files among files for imports and returns those
// of third-party distributions, each distribution once, in order of first
// appearance. It leaves out __future__, the modules the interpreter
// provides (provided: lists of top-level names, such as its standard
// library and its own site-packages), modules that files provide
// themselves (x.py or a directory x/, at the root or next to the
// entrypoint, which is sys.path[0]), and namespace packages it cannot map.
func Detect(files []File, entrypoint string, provided ...[]string) []Import {
	for i, list := range provided {
		if !slices.IsSorted(list) {
			provided[i] = slices.Sorted(slices.Values(list))
		}
	}
	own := ownModules(files, ".")
	for m := range ownModules(files, path.Dir(path.Clean(entrypoint))) {
		own[m] = true
	}
	skip := func(top string) bool {
		if top == "__future__" || top == "__main__" || own[top] {
			return true
		}
		for _, list := range provided {
			if _, ok := slices.BinarySearch(list, top); ok {
				return true
			}
		}
		return false
	}
	var out []Import
	seen := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f.Path, ".py") {
			continue
		}
		for _, m := range Imports(f.Data) {
			m = asciiModule(m)
			top, _, _ := strings.Cut(m, ".")
			if top == "" || top[0] == '_' || skip(top) {
				continue
			}
			dist, providers := Distribution(m)
			if dist == "" || !validName(dist) || seen[Canonical(dist)] {
				continue
			}
			seen[Canonical(dist)] = true
			out = append(out, Import{Module: m, Dist: dist, Providers: providers})
		}
	}
	return out
}

// asciiModule returns the leading parts of the dotted module m that are
// ASCII identifiers: "" when the top-level name is not one. Python allows
// other letters in names, but no distribution name holds them, and a
// detected name must never make an invalid requirement line (U+2028 is a
// line break to pip, for one).
func asciiModule(m string) string {
	end := 0
	for i, part := range strings.Split(m, ".") {
		if !asciiIdent(part) {
			break
		}
		if i > 0 {
			end++ // the "."
		}
		end += len(part)
	}
	return m[:end]
}

// asciiIdent reports whether s is a Python identifier of ASCII letters,
// digits and "_".
func asciiIdent(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// ownModules returns the module names that files provide in directory
// dir ("." for the root): x for dir/x.py (or a compiled dir/x.*.so), and d
// for every directory dir/d (a package, or a namespace package).
func ownModules(files []File, dir string) map[string]bool {
	own := map[string]bool{}
	for _, f := range files {
		p := path.Clean(f.Path)
		if dir != "." {
			rel, ok := strings.CutPrefix(p, dir+"/")
			if !ok {
				continue
			}
			p = rel
		}
		if dir, _, ok := strings.Cut(p, "/"); ok {
			own[dir] = true
			continue
		}
		if name, ok := strings.CutSuffix(p, ".py"); ok {
			own[name] = true
		} else if name, _, ok := strings.Cut(p, "."); ok && strings.HasSuffix(p, ".so") {
			own[name] = true
		}
	}
	return own
}

// Distribution maps an absolute module name to the distribution that
// provides it and the canonical names of every distribution known to
// provide it. The longest dotted prefix listed in the table wins, then the
// google.cloud.* and azure.* naming rules; otherwise the top-level name is
// the distribution. An unlisted import of a shared namespace (google,
// azure, zope ...) gives "".
func Distribution(module string) (string, []string) {
	parts := strings.Split(module, ".")
	top := parts[0]
	entries := table()
	for n := len(parts); n >= 1; n-- {
		prefix := strings.Join(parts[:n], ".")
		for _, e := range entries {
			if e.imp == prefix {
				return e.dist, providers(top, e.dist, alternatives(prefix))
			}
		}
	}
	if d := namespaceRule(parts); d != "" {
		return d, providers(top, d, nil)
	}
	if namespaceRoot(top) {
		return "", nil
	}
	return top, providers(top, top, nil)
}

// namespaceRule names the distribution of google.cloud.X and azure.X
// modules after their publishers' conventions.
func namespaceRule(parts []string) string {
	dashed := func(p []string) string { return Canonical(strings.Join(p, "-")) }
	switch {
	case len(parts) >= 3 && parts[0] == "google" && parts[1] == "cloud":
		return dashed(parts[:3])
	case len(parts) >= 3 && parts[0] == "azure" && (parts[1] == "mgmt" || parts[1] == "storage" || parts[1] == "keyvault" || parts[1] == "ai"):
		return dashed(parts[:3])
	case len(parts) >= 2 && parts[0] == "azure":
		return dashed(parts[:2])
	}
	return ""
}

func providers(top, dist string, alts []string) []string {
	out := []string{Canonical(dist)}
	for _, a := range append(alts, top) {
		if c := Canonical(a); c != out[0] {
			out = append(out, c)
		}
	}
	return sortedUnique(out)
}

// With returns l plus a requirement for each import that no requirement of
// l already satisfies: the user's own lines (and pins) win.
func (l List) With(imports []Import) List {
	var add []Requirement
	for _, imp := range l.Unsatisfied(imports) {
		add = append(add, Requirement{Name: Canonical(imp.Dist)})
	}
	return l.Add(add...)
}

// Unsatisfied returns the imports that no requirement of l satisfies (none
// names a provider of the module), each distribution once, in order, with
// Dist canonical; an import whose Dist is not a valid name is left out.
func (l List) Unsatisfied(imports []Import) []Import {
	named := map[string]bool{}
	for _, r := range l.Reqs {
		named[r.Name] = true
	}
	var out []Import
	for _, imp := range imports {
		satisfied := false
		for _, p := range imp.Providers {
			satisfied = satisfied || named[p]
		}
		if satisfied {
			continue
		}
		c := Canonical(imp.Dist)
		if !validName(c) { // not from Detect: never an invalid line
			continue
		}
		named[c] = true
		imp.Dist = c
		out = append(out, imp)
	}
	return out
}

// Add returns l plus reqs, sorted; a requirement whose name and marker l
// already has is left out (l's wins). l is not changed.
func (l List) Add(reqs ...Requirement) List {
	out := List{Reqs: append([]Requirement(nil), l.Reqs...), NoDetect: l.NoDetect}
	for _, r := range reqs {
		if !slices.ContainsFunc(out.Reqs, func(o Requirement) bool { return o.Name == r.Name && o.Marker == r.Marker }) {
			out.Reqs = append(out.Reqs, r)
		}
	}
	sortReqs(out.Reqs)
	return out
}
