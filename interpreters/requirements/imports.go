package requirements

import "bytes"

// Imports returns the absolute modules that Python source src imports, in
// order of appearance, each once: "a.b" for `import a.b as c`; "x" and
// "x.y" for `from x import y` (y may be a submodule). Relative imports
// (`from . import z`, `from .m import z`) are left out. Imports anywhere
// count: inside if/try/with blocks, functions, classes, after ";" or a
// compound statement's ":". Strings (f-strings included), comments and
// line continuations are understood, so `import` inside them is not an
// import. Dynamic imports (__import__, importlib) are not seen. Source
// that is not valid Python gives a best-effort answer, never an error.
func Imports(src []byte) []string {
	src = bytes.TrimPrefix(src, []byte("\xef\xbb\xbf"))
	s := &scanner{src: src}
	var out []string
	seen := map[string]bool{}
	add := func(m string) {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	start := true
	for {
		t := s.next()
		switch {
		case t.kind == tEOF:
			return out
		case t.kind == tNewline:
			start = true
			continue
		case t.kind == tOp && s.depth == 0 && (t.text == ";" || t.text == ":"):
			start = true
			continue
		}
		if start && t.kind == tName && s.depth == 0 {
			switch t.text {
			case "import":
				s.importNames(add)
			case "from":
				s.fromImport(add)
			}
		}
		start = false
	}
}

// importNames reads the rest of `import a.b [as c], d ...`.
func (s *scanner) importNames(add func(string)) {
	for {
		m, ok := s.dotted()
		if !ok {
			return
		}
		add(m)
		s.alias()
		if !s.accept(tOp, ",") {
			return
		}
	}
}

// fromImport reads the rest of `from [.]x import y [as z], ...`.
func (s *scanner) fromImport(add func(string)) {
	dots := 0
	for {
		if s.accept(tOp, ".") {
			dots++
		} else if s.accept(tOp, "...") {
			dots += 3
		} else {
			break
		}
	}
	mod := ""
	if t := s.peek(); t.kind == tName && t.text != "import" {
		mod, _ = s.dotted()
	}
	if !s.accept(tName, "import") || dots > 0 || mod == "" {
		return // relative, or not an import statement
	}
	add(mod)
	paren := s.accept(tOp, "(")
	for {
		t := s.peek()
		if t.kind != tName {
			break // "*", ")" or the end
		}
		s.next()
		add(mod + "." + t.text)
		s.alias()
		if !s.accept(tOp, ",") {
			break
		}
	}
	if paren {
		s.accept(tOp, ")")
	}
}

// dotted reads NAME ("." NAME)*.
func (s *scanner) dotted() (string, bool) {
	t := s.peek()
	if t.kind != tName {
		return "", false
	}
	s.next()
	name := t.text
	for s.accept(tOp, ".") {
		t := s.peek()
		if t.kind != tName {
			break
		}
		s.next()
		name += "." + t.text
	}
	return name, true
}

// alias skips "as NAME".
func (s *scanner) alias() {
	if s.accept(tName, "as") {
		if s.peek().kind == tName {
			s.next()
		}
	}
}

type tokKind int

const (
	tEOF tokKind = iota
	tName
	tOp
	tString
	tNumber
	tNewline // the end of a logical line (not inside brackets)
)

type token struct {
	kind tokKind
	text string
}

// scanner splits Python source into the few tokens import detection
// needs. depth counts open brackets.
type scanner struct {
	src    []byte
	i      int
	depth  int
	peeked *token
}

func (s *scanner) peek() token {
	if s.peeked == nil {
		t := s.scan()
		s.peeked = &t
	}
	return *s.peeked
}

func (s *scanner) next() token {
	t := s.peek()
	s.peeked = nil
	return t
}

// accept consumes the next token if it is kind with text.
func (s *scanner) accept(kind tokKind, text string) bool {
	if t := s.peek(); t.kind == kind && t.text == text {
		s.next()
		return true
	}
	return false
}

func identStart(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c >= 0x80
}

func identPart(c byte) bool { return identStart(c) || '0' <= c && c <= '9' }

func (s *scanner) scan() token {
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == ' ' || c == '\t' || c == '\f' || c == '\r':
			s.i++
		case c == '\\':
			if bytes.HasPrefix(s.src[s.i+1:], []byte("\n")) {
				s.i += 2
			} else if bytes.HasPrefix(s.src[s.i+1:], []byte("\r\n")) {
				s.i += 3
			} else {
				s.i++
				return token{tOp, `\`}
			}
		case c == '#':
			for s.i < len(s.src) && s.src[s.i] != '\n' {
				s.i++
			}
		case c == '\n':
			s.i++
			if s.depth == 0 {
				return token{tNewline, ""}
			}
		case c == '"' || c == '\'':
			s.skipString("")
			return token{tString, ""}
		case identStart(c):
			start := s.i
			for s.i < len(s.src) && identPart(s.src[s.i]) {
				s.i++
			}
			word := string(s.src[start:s.i])
			if s.i < len(s.src) && (s.src[s.i] == '"' || s.src[s.i] == '\'') && stringPrefix(word) {
				s.skipString(word)
				return token{tString, ""}
			}
			return token{tName, word}
		case '0' <= c && c <= '9':
			start := s.i
			for s.i < len(s.src) && (identPart(s.src[s.i]) || s.src[s.i] == '.') {
				s.i++
			}
			return token{tNumber, string(s.src[start:s.i])}
		case c == '.' && bytes.HasPrefix(s.src[s.i:], []byte("...")):
			s.i += 3
			return token{tOp, "..."}
		case c == ':' && bytes.HasPrefix(s.src[s.i:], []byte(":=")):
			s.i += 2
			return token{tOp, ":="}
		default:
			s.i++
			switch c {
			case '(', '[', '{':
				s.depth++
			case ')', ']', '}':
				if s.depth > 0 {
					s.depth--
				}
			}
			return token{tOp, string(c)}
		}
	}
	return token{tEOF, ""}
}

// stringPrefix reports whether w may prefix a string literal: r, u, b, f,
// t and their two-letter combinations, in any case.
func stringPrefix(w string) bool {
	if len(w) > 2 {
		return false
	}
	seen := map[byte]bool{}
	for i := 0; i < len(w); i++ {
		c := w[i] | 0x20
		if seen[c] || bytes.IndexByte([]byte("rubft"), c) < 0 {
			return false
		}
		seen[c] = true
	}
	return len(w) == 1 || seen['r'] // two letters: one is r (rb, fr, tr)
}

// skipString moves past the string literal whose quote is at the cursor.
// An unterminated single-quoted string ends at the end of its line.
func (s *scanner) skipString(prefix string) {
	format := bytes.ContainsAny([]byte(prefix), "fFtT")
	q := s.src[s.i]
	triple := bytes.HasPrefix(s.src[s.i:], []byte{q, q, q})
	if triple {
		s.i += 3
	} else {
		s.i++
	}
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '\\':
			s.i += 2
		case c == '\n' && !triple:
			return
		case c == q && !triple:
			s.i++
			return
		case c == q && bytes.HasPrefix(s.src[s.i:], []byte{q, q, q}):
			s.i += 3
			return
		case format && c == '{':
			if bytes.HasPrefix(s.src[s.i:], []byte("{{")) {
				s.i += 2
				continue
			}
			s.i++
			s.skipReplacement()
		default:
			s.i++
		}
	}
	if s.i > len(s.src) {
		s.i = len(s.src)
	}
}

// skipReplacement moves past an f-string's {expression[!r][:spec]}, whose
// "{" is consumed; strings inside it may be nested f-strings.
func (s *scanner) skipReplacement() {
	depth := 1
	for s.i < len(s.src) {
		c := s.src[s.i]
		switch {
		case c == '"' || c == '\'':
			s.skipString("")
		case identStart(c):
			start := s.i
			for s.i < len(s.src) && identPart(s.src[s.i]) {
				s.i++
			}
			if s.i < len(s.src) && (s.src[s.i] == '"' || s.src[s.i] == '\'') && stringPrefix(string(s.src[start:s.i])) {
				s.skipString(string(s.src[start:s.i]))
			}
		case c == '{' || c == '(' || c == '[':
			depth++
			s.i++
		case c == '}' || c == ')' || c == ']':
			depth--
			s.i++
			if depth == 0 {
				return
			}
		default:
			s.i++
		}
	}
}
