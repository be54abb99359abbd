package requirements

import "testing"

// FuzzParse checks that a normalised text parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"numpy", "A[x] (>=1,<2) ; python_version>'3'", "a\\\n==1\n# c", "-\nb", "x; (os_name=='a' or extra=='b') and sys_platform not in 'c'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(l.Text())
		if err != nil {
			t.Fatalf("normalised %q does not parse: %v", l.Text(), err)
		}
		if again.Text() != l.Text() {
			t.Fatalf("normalising twice: %q then %q", l.Text(), again.Text())
		}
	})
}

// FuzzImports checks that the scanner ends on any input.
func FuzzImports(f *testing.F) {
	for _, s := range []string{"import a", "f'{", "'''", "from . import (", "\\", "f\"{x:{y}}\"", "rb'\\"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = Imports([]byte(s))
	})
}
