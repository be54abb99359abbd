package interpreters

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
)

func TestParseReportDisplayAndFiles(t *testing.T) {
	var in []byte
	field := func(name, v string) { in = fmt.Appendf(in, "%s %d\n%s", name, len(v), v) }
	field("display", "image/png\n\x89PNG")
	field("display", "text/html\n<b>x</b>")
	field("display", "bad")
	field("file", "out/a\x00abcd")
	field("file", "no-nul")
	field("display_dropped", "2")
	field("files_dropped", "3")
	field("result", "42")
	field("end", "")
	r, err := ParseReport(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []DisplayItem{{"image/png", []byte("\x89PNG")}, {"text/html", []byte("<b>x</b>")}}
	if !slices.EqualFunc(r.Display, want, func(a, b DisplayItem) bool { return a.Mime == b.Mime && string(a.Data) == string(b.Data) }) {
		t.Errorf("display %q, want %q (an item without a type is dropped)", r.Display, want)
	}
	if len(r.Files) != 1 || r.Files[0].Path != "out/a" || string(r.Files[0].Data) != "abcd" {
		t.Errorf("files %q", r.Files)
	}
	if r.DisplayDropped != 2 || r.FilesDropped != 3 || r.Result == nil || *r.Result != "42" {
		t.Errorf("dropped %d %d result %v", r.DisplayDropped, r.FilesDropped, r.Result)
	}
}

func TestCommandResults(t *testing.T) {
	in := Interpreter{Executable: "/usr/bin/python3"}
	r := Run{Entrypoint: "main.py", Display: Bounds{2, 100}, OutputFiles: []string{"*.txt", "out/**"}, OutputBounds: Bounds{3, 50}}
	got := in.Command(r)
	want := []string{"/usr/bin/python3", "-u", BootstrapPath, "-r", "3", "-t", "4", "-D", "2:100", "-o", "*.txt", "-o", "out/**", "-O", "3:50", "--", "/work/main.py"}
	if !slices.Equal(got, want) {
		t.Errorf("Command:\n%q\nwant\n%q", got, want)
	}
	enc := string(EncodeRequest(r, nil))
	if enc != "entry 13\n/work/main.py"+"disp 5\n2:100"+"out 5\n*.txt"+"out 6\nout/**"+"outmax 4\n3:50" {
		t.Errorf("EncodeRequest: %q", enc)
	}
	if got := in.Command(Run{Entrypoint: "m.py"}); slices.Contains(got, "-D") || slices.Contains(got, "-O") {
		t.Errorf("no bounds, yet %q", got)
	}
}

// TestBootstrapDisplay runs the bootstrap outside a jail: the rich forms
// of the last expression come back on the report channel, in order, a
// failing or None one is skipped, and the bounds hold.
func TestBootstrapDisplay(t *testing.T) {
	set, err := Discover(context.Background(), Options{System: true, Env: os.Environ()})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI machines have Pythons: %v", err)
		}
		t.Skipf("no interpreter on this host: %v (under CI=true this fails)", err)
	}
	dir := t.TempDir()
	boot := filepath.Join(dir, "bootstrap.py")
	writeTestFile(t, boot, string(Bootstrap))
	code := `import sys
class R:
    def _repr_png_(self): return b"\x89PNG-bytes"
    def _repr_svg_(self): raise ValueError("no svg")
    def _repr_html_(self): return ("<p>h</p>", {"meta": 1})
    def _repr_markdown_(self): return None
    def _repr_json_(self): return {"k": [1, 2]}
    def __repr__(self): return "R()"
class Mock:
    def __getattr__(self, name): return lambda: "anything"
class B:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return ({"text/html": "<b>bundle</b>", "image/svg+xml": "<svg/>", "text/plain": "B", "x/unknown": "z"}, {})
    def _repr_html_(self): return "<i>method</i>"
    def _repr_markdown_(self): return "md"
class C:
    def _repr_mimebundle_(self): return {"image/png": "iVBORw=="}
class D:
    def _repr_mimebundle_(self, include=None, exclude=None): raise ValueError("no bundle")
    def _repr_html_(self): return "<p>d</p>"
print([m for m in ("json", "matplotlib") if m in sys.modules])
[Mock(), R(), B(), C(), D()][int(sys.argv[1])]
`
	writeTestFile(t, filepath.Join(dir, "main.py"), code)
	run := func(bounds, arg string) Report {
		t.Helper()
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		cmd := exec.Command(set.Default().Executable, "-u", boot, "-r", "3", "-e", "-D", bounds, "--", filepath.Join(dir, "main.py"), arg)
		cmd.ExtraFiles = []*os.File{w}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "LANG=C.UTF-8"}
		out, err := cmd.CombinedOutput()
		w.Close()
		if err != nil || string(out) != "[]\n" {
			t.Fatalf("bootstrap: %v\n%s", err, out)
		}
		b, _ := io.ReadAll(r)
		rep, err := ParseReport(b)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	rep := run("8:1000", "1")
	var got []string
	for _, d := range rep.Display {
		got = append(got, d.Mime+"="+string(d.Data))
	}
	want := []string{"image/png=\x89PNG-bytes", "text/html=<p>h</p>", `application/json={"k": [1, 2]}`}
	if !slices.Equal(got, want) || rep.DisplayDropped != 0 || *rep.Result != "R()" {
		t.Errorf("display %q dropped %d result %v, want %q", got, rep.DisplayDropped, rep.Result, want)
	}
	if rep := run("1:1000", "1"); len(rep.Display) != 1 || rep.DisplayDropped != 2 {
		t.Errorf("1 item: %d offered, %d dropped; want 1, 2", len(rep.Display), rep.DisplayDropped)
	}
	if rep := run("8:12", "1"); len(rep.Display) != 1 || rep.Display[0].Mime != "image/png" || rep.DisplayDropped != 2 {
		t.Errorf("12 bytes: %q, %d dropped; want the 10-byte png only, 2", rep.Display, rep.DisplayDropped)
	}
	if rep := run("8:1000", "0"); len(rep.Display) != 0 {
		t.Errorf("an object claiming every attribute offered %q", rep.Display)
	}
	// _repr_mimebundle_: its entries of the types offered win, the
	// methods fill the others; one that fails leaves the methods.
	for _, tt := range []struct {
		arg  string
		want []string
	}{
		{"2", []string{"image/svg+xml=<svg/>", "text/html=<b>bundle</b>", "text/markdown=md"}},
		{"3", []string{"image/png=\x89PNG"}},
		{"4", []string{"text/html=<p>d</p>"}},
	} {
		var got []string
		for _, d := range run("8:1000", tt.arg).Display {
			got = append(got, d.Mime+"="+string(d.Data))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("mimebundle %s: display %q, want %q", tt.arg, got, tt.want)
		}
	}
}
