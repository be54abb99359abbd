package interpreters

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// Set is the immutable collection of interpreters a server runs.
type Set struct {
	list []Interpreter // newest first
	def  Interpreter
	sel  selectors
}

// NewSet builds a Set from list. def is any selector Resolve takes: a
// series ("3.12"), a full version, or an image ("python:3.11-slim", the
// form of python-executor's PYEXEC_DEFAULT_IMAGE); empty, or an image
// without a version, picks 3.12 when present, else the newest. A def that
// names no interpreter of list is an *UnknownError.
func NewSet(list []Interpreter, def string) (*Set, error) {
	if len(list) == 0 {
		return nil, errNone
	}
	s := &Set{list: append([]Interpreter(nil), list...), sel: newSelectors()}
	sortNewestFirst(s.list)
	want, err := s.sel.parse(def)
	if err != nil {
		return nil, fmt.Errorf("default interpreter: %w", s.unknown(def))
	}
	named := want != ""
	if !named {
		want = "3.12"
	}
	in, err := s.find(want)
	switch {
	case err == nil:
		s.def = in
	case !named:
		s.def = s.list[0]
	default:
		return nil, fmt.Errorf("default interpreter: %w", s.unknown(def))
	}
	return s, nil
}

// ParseSelector returns the series or version a selector names ("3.12",
// "3.12.1"; "" for an image without a version, such as python:latest), or
// an error when it names no Python. It checks configuration: it compiles
// its expressions on every call, where a Set compiles them once.
func ParseSelector(selector string) (string, error) {
	return newSelectors().parse(selector)
}

// UnknownError is returned for a selector that names no interpreter of the
// set. Its message lists what is available and no host path.
type UnknownError struct {
	Selector  string
	Available []string // series, newest first
}

func (e *UnknownError) Error() string {
	what := "python version"
	if strings.Contains(e.Selector, ":") || strings.Contains(e.Selector, "/") {
		what = "image" // a docker_image such as python:3.9-slim
	}
	return fmt.Sprintf("%s %q names no available Python; available versions: %s",
		what, e.Selector, strings.Join(e.Available, ", "))
}

// All returns every interpreter, newest first.
func (s *Set) All() []Interpreter { return append([]Interpreter(nil), s.list...) }

// Mounts returns the host directories that jails must be able to bind for
// any interpreter of the set (jail.Config.Mounts).
func (s *Set) Mounts() []string {
	var out []string
	for _, in := range s.list {
		out = append(out, in.Mounts...)
	}
	return out
}

// Default returns the interpreter used when a request names none.
func (s *Set) Default() Interpreter { return s.def }

// Get returns the interpreter with the full version v.
func (s *Set) Get(v string) (Interpreter, bool) {
	for _, in := range s.list {
		if in.Version == v {
			return in, true
		}
	}
	return Interpreter{}, false
}

// List describes the interpreters for clients, default first.
func (s *Set) List() []api.Interpreter {
	out := []api.Interpreter{{Version: s.def.Version, Series: s.def.Series, Default: true}}
	for _, in := range s.list {
		if in.Version != s.def.Version {
			out = append(out, api.Interpreter{Version: in.Version, Series: in.Series})
		}
	}
	return out
}

// Resolve maps a selector to an interpreter: "" (the default), "3.12"
// (newest 3.12.x), "3.12.1", "python3.12", or a docker image name of the
// official python images ("python:3.12-slim", "python:3.12",
// "docker.io/library/python:3.11-bookworm"; "python:latest" and tags
// without a version mean the default).
func (s *Set) Resolve(selector string) (api.Interpreter, error) {
	in, err := s.Select(selector)
	if err != nil {
		return api.Interpreter{}, err
	}
	return api.Interpreter{Version: in.Version, Series: in.Series, Default: in.Version == s.def.Version}, nil
}

// Select is Resolve returning the host-side interpreter.
func (s *Set) Select(selector string) (Interpreter, error) {
	want, err := s.sel.parse(selector)
	if err != nil {
		return Interpreter{}, s.unknown(selector)
	}
	if want == "" {
		return s.def, nil
	}
	in, err := s.find(want)
	if err != nil {
		return Interpreter{}, s.unknown(selector)
	}
	return in, nil
}

func (s *Set) unknown(selector string) error {
	var avail []string
	seen := map[string]bool{}
	for _, in := range s.list {
		if !seen[in.Series] {
			seen[in.Series] = true
			avail = append(avail, in.Series)
		}
	}
	return &UnknownError{Selector: selector, Available: avail}
}

// find returns the newest interpreter matching a series or full version.
func (s *Set) find(want string) (Interpreter, error) {
	for _, in := range s.list { // newest first
		if in.Version == want || in.Series == want {
			return in, nil
		}
	}
	return Interpreter{}, fmt.Errorf("no interpreter %s", want)
}

// selectors recognises interpreter selectors. Compiled once per Set (at
// start-up), neither per request nor at package init: package init runs in
// every jail's init, which re-executes this binary.
type selectors struct {
	image, version, plain *regexp.Regexp
}

func newSelectors() selectors {
	return selectors{
		image:   regexp.MustCompile(`^(?:(?:[a-z0-9.-]+(?::\d+)?/)?library/|docker\.io/)?python(?::([A-Za-z0-9_.-]+))?$`),
		version: regexp.MustCompile(`^(\d+(?:\.\d+){0,2})`),
		plain:   regexp.MustCompile(`^(?:python)?(\d+\.\d+(?:\.\d+)?)$`),
	}
}

// parse returns the wanted series or version, "" for the default, or an
// error when the selector names no Python.
func (r selectors) parse(sel string) (string, error) {
	sel = strings.TrimSpace(sel)
	if sel == "" {
		return "", nil
	}
	if m := r.plain.FindStringSubmatch(sel); m != nil {
		return m[1], nil
	}
	m := r.image.FindStringSubmatch(strings.ToLower(sel))
	if m == nil {
		return "", fmt.Errorf("selector %q names no python image", sel)
	}
	tag := m[1]
	v := r.version.FindString(tag)
	switch {
	case v == "" || v == "3":
		return "", nil // python, python:latest, python:slim, python:3-slim
	case !strings.Contains(v, "."):
		return "", fmt.Errorf("selector %q: python %s is not supported", sel, v)
	}
	return v, nil
}
