package requirements

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Bounds of one requirements text.
const (
	// MaxRequirements is the most requirement lines a text may hold.
	MaxRequirements = 256
	// MaxLineBytes is the longest requirement line, continuations joined.
	MaxLineBytes = 1024
)

// Requirement is one parsed requirement, normalised: names canonical,
// extras and specifiers sorted and unique, the marker re-spaced and
// double-quoted.
type Requirement struct {
	// Name is the canonical distribution name (PEP 503).
	Name string
	// Extras are canonical extra names.
	Extras []string
	// Specs are version specifiers, operator and version, e.g. ">=1.2".
	Specs []string
	// Marker is the environment marker without the ";", or "".
	Marker string
}

// String is the requirement as one normalised requirements.txt line.
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	b.WriteString(strings.Join(r.Specs, ","))
	if r.Marker != "" {
		b.WriteString("; " + r.Marker)
	}
	return b.String()
}

// List is a parsed requirements text. The zero value is no requirements.
type List struct {
	// Reqs are sorted by name, then marker; a name appears once per
	// marker.
	Reqs []Requirement
	// NoDetect is set by a line holding only "-": import auto-detection
	// is off for this request.
	NoDetect bool
}

// Empty reports whether l asks for no package.
func (l List) Empty() bool { return len(l.Reqs) == 0 }

// Text is l as a normalised requirements.txt, one requirement a line, ""
// when empty. Equal texts install the same packages.
func (l List) Text() string {
	var b strings.Builder
	for _, r := range l.Reqs {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Lines is l as normalised requirement lines.
func (l List) Lines() []string {
	out := make([]string, len(l.Reqs))
	for i, r := range l.Reqs {
		out[i] = r.String()
	}
	return out
}

// Has reports whether l names the distribution (any form of its name).
func (l List) Has(name string) bool {
	c := Canonical(name)
	for _, r := range l.Reqs {
		if r.Name == c {
			return true
		}
	}
	return false
}

// Error is a line of a requirements text that is not an allowed
// requirement. Its message quotes only what the client sent.
type Error struct {
	Line   int    // 1-based; the first physical line of a continued one
	Text   string // the offending line, shortened
	Reason string
}

func (e *Error) Error() string {
	if e.Text == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("line %d %q: %s", e.Line, e.Text, e.Reason)
}

func lineError(n int, text, format string, args ...any) *Error {
	if len(text) > 80 {
		text = text[:77] + "..."
	}
	return &Error{Line: n, Text: text, Reason: fmt.Sprintf(format, args...)}
}

// Parse reads a requirements.txt text. Blank lines, comments ("#" at the
// start or after whitespace) and "\" line continuations are handled as pip
// does. A line of only "-" (or the whole text "-") turns import
// auto-detection off. Every other line must be a requirement: a name,
// optional [extras], optional version specifiers, optional "; marker".
// Pip options ("-e", "--index-url", "-r" ...), URLs, paths, "name @ url"
// direct references and shell metacharacters are refused with an *Error.
// A leading UTF-8 byte order mark is ignored, as pip ignores it.
func Parse(text string) (List, error) {
	text = strings.TrimPrefix(text, "\ufeff")
	var l List
	type key struct{ name, marker string }
	at := map[key]int{}
	count := 0
	for _, ln := range logicalLines(text) {
		s := strings.TrimSpace(stripComment(ln.text))
		if s == "" {
			continue
		}
		if s == "-" {
			l.NoDetect = true
			continue
		}
		if len(s) > MaxLineBytes {
			return List{}, lineError(ln.n, s, "longer than %d bytes", MaxLineBytes)
		}
		if count++; count > MaxRequirements {
			return List{}, lineError(ln.n, "", "more than %d requirements", MaxRequirements)
		}
		r, err := parseLine(s)
		if err != nil {
			return List{}, lineError(ln.n, s, "%s", err.Error())
		}
		k := key{r.Name, r.Marker}
		if i, ok := at[k]; ok { // the same name twice: pip combines them
			p := &l.Reqs[i]
			p.Extras = sortedUnique(append(p.Extras, r.Extras...))
			p.Specs = sortedUnique(append(p.Specs, r.Specs...))
			continue
		}
		at[k] = len(l.Reqs)
		l.Reqs = append(l.Reqs, r)
	}
	sortReqs(l.Reqs)
	return l, nil
}

func sortReqs(reqs []Requirement) {
	slices.SortFunc(reqs, func(a, b Requirement) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Marker, b.Marker)
	})
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

type line struct {
	n    int
	text string
}

// logicalLines splits text into lines, joining those that end in "\".
func logicalLines(text string) []line {
	var out []line
	var cur strings.Builder
	start := 0
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSuffix(l, "\r")
		if cur.Len() == 0 {
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			continue
		}
		cur.WriteString(l)
		out = append(out, line{start, cur.String()})
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, line{start, cur.String()})
	}
	return out
}

// stripComment cuts a "#" comment that starts the line or follows
// whitespace, as pip does.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			return s[:i]
		}
	}
	return s
}

// parseError is a reason a line is refused.
type parseError string

func (e parseError) Error() string { return string(e) }

func parseLine(s string) (Requirement, error) {
	switch {
	case strings.HasPrefix(s, "-"):
		return Requirement{}, parseError("pip options are not allowed; a line must be a requirement such as \"name[extra]>=1.0; python_version >= '3.9'\"")
	case strings.Contains(s, "://"):
		return Requirement{}, parseError("URLs are not allowed; name a package of the server's index")
	case strings.IndexFunc(s, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) >= 0,
		strings.ContainsAny(s, "`$|&{}\\"):
		return Requirement{}, parseError("shell metacharacters and control characters are not allowed")
	case strings.Contains(s, "@"):
		return Requirement{}, parseError("direct references (name @ url) are not allowed")
	case strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") || strings.ContainsAny(s, "/") || archiveName(s):
		return Requirement{}, parseError("paths are not allowed; name a package of the server's index")
	}
	p := &parser{s: s}
	r, err := p.requirement()
	if err != nil {
		return r, err
	}
	// pip reads the normalised line, not the client's: check it too.
	switch n := r.String(); {
	case archiveName(n):
		return Requirement{}, parseError("paths are not allowed; name a package of the server's index")
	case strings.Contains(n, " -"):
		return Requirement{}, parseError("a \"-\" after a space is not allowed: pip would read it as an option")
	}
	return r, nil
}

// archiveName reports a line that ends like an archive before its
// marker: pip takes such a line (name, extras and version alike, e.g.
// "foo==1.0+x.whl") for a file in its working directory.
func archiveName(s string) bool {
	before, _, _ := strings.Cut(s, ";")
	before = strings.ToLower(strings.TrimSpace(before))
	for _, ext := range [...]string{".whl", ".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma"} {
		if strings.HasSuffix(before, ext) {
			return true
		}
	}
	return false
}

type parser struct {
	s string
	i int
}

func (p *parser) ws() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) eof() bool { return p.i >= len(p.s) }

func (p *parser) peek(c byte) bool { return p.i < len(p.s) && p.s[p.i] == c }

func (p *parser) take(ok func(byte) bool) string {
	start := p.i
	for p.i < len(p.s) && ok(p.s[p.i]) {
		p.i++
	}
	return p.s[start:p.i]
}

func (p *parser) rest() string {
	if p.eof() {
		return "the end of the line"
	}
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return fmt.Sprintf("%q", r)
}

func nameChar(c byte) bool { return alnum(c) || c == '.' || c == '-' || c == '_' }

func (p *parser) requirement() (Requirement, error) {
	var r Requirement
	p.ws()
	name := p.take(nameChar)
	if !validName(name) {
		return r, parseError("not a requirement: it must start with a package name")
	}
	r.Name = Canonical(name)
	p.ws()
	if p.peek('[') {
		p.i++
		for {
			p.ws()
			if p.peek(']') && len(r.Extras) == 0 {
				break
			}
			e := p.take(nameChar)
			if !validName(e) {
				return r, parseError(fmt.Sprintf("invalid extra name at %s", p.rest()))
			}
			r.Extras = append(r.Extras, Canonical(e))
			p.ws()
			if !p.peek(',') {
				break
			}
			p.i++
		}
		if !p.peek(']') {
			return r, parseError(fmt.Sprintf("expected \"]\" at %s", p.rest()))
		}
		p.i++
		r.Extras = sortedUnique(r.Extras)
		p.ws()
	}
	switch {
	case p.peek('('):
		p.i++
		specs, err := p.specs()
		if err != nil {
			return r, err
		}
		p.ws()
		if !p.peek(')') {
			return r, parseError(fmt.Sprintf("expected \")\" at %s", p.rest()))
		}
		p.i++
		r.Specs = specs
	case p.op() != "":
		specs, err := p.specs()
		if err != nil {
			return r, err
		}
		r.Specs = specs
	}
	p.ws()
	if p.peek(';') {
		p.i++
		m, err := p.markerOr()
		if err != nil {
			return r, err
		}
		r.Marker = m
		p.ws()
	}
	if !p.eof() {
		return r, parseError(fmt.Sprintf("unexpected %s after the requirement", p.rest()))
	}
	return r, nil
}

// op returns the version operator at the cursor without consuming it.
func (p *parser) op() string {
	for _, o := range [...]string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"} {
		if strings.HasPrefix(p.s[p.i:], o) {
			return o
		}
	}
	return ""
}

func versionChar(c byte) bool {
	return alnum(c) || c == '.' || c == '*' || c == '+' || c == '!' || c == '-' || c == '_'
}

// pep440 is PEP 440's version pattern, with an optional ".*" suffix.
const pep440 = `(?i)^v?(\d+!)?\d+(\.\d+)*([-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?\d*)?(-\d+|[-_.]?(post|rev|r)[-_.]?\d*)?([-_.]?dev[-_.]?\d*)?(\+[a-z0-9]+([-_.][a-z0-9]+)*)?(\.\*)?$`

// pep440Re is pep440 compiled on first use, not at package init (which
// also runs in every jail's init, a re-execution of the server binary).
var pep440Re = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pep440) })

func (p *parser) specs() ([]string, error) {
	var out []string
	for {
		p.ws()
		o := p.op()
		if o == "" {
			return nil, parseError(fmt.Sprintf("expected a version operator (==, >=, ~= ...) at %s", p.rest()))
		}
		p.i += len(o)
		p.ws()
		v := p.take(versionChar)
		switch {
		case v == "":
			return nil, parseError(fmt.Sprintf("expected a version after %q", o))
		case o == "===":
		case !pep440Re().MatchString(v):
			return nil, parseError(fmt.Sprintf("%q is not a valid version", v))
		case strings.HasSuffix(v, ".*") && o != "==" && o != "!=":
			return nil, parseError(fmt.Sprintf("%s%s: a .* version is only allowed with == and !=", o, v))
		}
		out = append(out, o+strings.ToLower(v))
		p.ws()
		if !p.peek(',') {
			return sortedUnique(out), nil
		}
		p.i++
	}
}

// markerVar reports whether s is one of PEP 508's environment markers.
func markerVar(s string) bool {
	switch s {
	case "python_version", "python_full_version", "os_name", "sys_platform",
		"platform_release", "platform_system", "platform_version",
		"platform_machine", "platform_python_implementation",
		"implementation_name", "implementation_version", "extra":
		return true
	}
	return false
}

func (p *parser) markerOr() (string, error) {
	a, err := p.markerAnd()
	if err != nil {
		return "", err
	}
	for p.keyword("or") {
		b, err := p.markerAnd()
		if err != nil {
			return "", err
		}
		a += " or " + b
	}
	return a, nil
}

func (p *parser) markerAnd() (string, error) {
	a, err := p.markerAtom()
	if err != nil {
		return "", err
	}
	for p.keyword("and") {
		b, err := p.markerAtom()
		if err != nil {
			return "", err
		}
		a += " and " + b
	}
	return a, nil
}

// keyword consumes the word w if it comes next as a whole word.
func (p *parser) keyword(w string) bool {
	save := p.i
	p.ws()
	if strings.HasPrefix(p.s[p.i:], w) {
		end := p.i + len(w)
		if end == len(p.s) || !identChar(p.s[end]) {
			p.i = end
			return true
		}
	}
	p.i = save
	return false
}

func identChar(c byte) bool { return alnum(c) || c == '_' }

func (p *parser) markerAtom() (string, error) {
	p.ws()
	if p.peek('(') {
		p.i++
		m, err := p.markerOr()
		if err != nil {
			return "", err
		}
		p.ws()
		if !p.peek(')') {
			return "", parseError(fmt.Sprintf("marker: expected \")\" at %s", p.rest()))
		}
		p.i++
		return "(" + m + ")", nil
	}
	l, err := p.markerValue()
	if err != nil {
		return "", err
	}
	p.ws()
	var op string
	switch {
	case p.keyword("in"):
		op = "in"
	case p.keyword("not"):
		if !p.keyword("in") {
			return "", parseError("marker: expected \"in\" after \"not\"")
		}
		op = "not in"
	default:
		op = p.op()
		if op == "" {
			return "", parseError(fmt.Sprintf("marker: expected a comparison at %s", p.rest()))
		}
		p.i += len(op)
	}
	r, err := p.markerValue()
	if err != nil {
		return "", err
	}
	return l + " " + op + " " + r, nil
}

func markerStringChar(c byte) bool {
	return alnum(c) || strings.IndexByte(" ._*+!~<>=,:-", c) >= 0
}

func (p *parser) markerValue() (string, error) {
	p.ws()
	if p.peek('"') || p.peek('\'') {
		q := p.s[p.i]
		p.i++
		v := p.take(markerStringChar)
		if !p.peek(q) {
			return "", parseError(fmt.Sprintf("marker: unterminated or unsupported string at %s", p.rest()))
		}
		if strings.Contains(v, " -") { // pip reads " -x" on a line as its option -x
			return "", parseError("marker: a \"-\" after a space is not allowed in a string")
		}
		p.i++
		return `"` + v + `"`, nil
	}
	v := p.take(func(c byte) bool { return identChar(c) || c == '.' })
	if !markerVar(v) {
		if v == "" {
			return "", parseError(fmt.Sprintf("marker: expected a variable or a quoted string at %s", p.rest()))
		}
		return "", parseError(fmt.Sprintf("marker: unknown variable %q", v))
	}
	return v, nil
}
