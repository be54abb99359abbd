package layers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
)

// fakeDist is a distribution of fakePip's index.
type fakeDist struct {
	files    []string // paths it installs (empty files)
	requires []string // names of distributions it needs
}

// fakePip is a Jails that plays pip install --target for a fixed index:
// it writes the files of the requested distributions and their
// dependencies into the build's out directory, or fails as pip does,
// "No matching distribution found for X" for a name the index lacks. It
// records the requirements of every install it is asked for.
type fakePip struct {
	index map[string]fakeDist

	mu   sync.Mutex
	runs []string // requirements.txt of each install, lines joined by " "
}

func (p *fakePip) Run(_ context.Context, spec jail.Spec) (jail.Result, error) {
	if len(spec.Binds) == 0 || spec.Binds[0].Target != outDir || len(spec.Files) != 1 {
		return jail.Result{}, errors.New("fakePip: not an install spec")
	}
	text := strings.TrimSpace(string(spec.Files[0].Data))
	p.mu.Lock()
	p.runs = append(p.runs, strings.ReplaceAll(text, "\n", " "))
	p.mu.Unlock()
	var todo []string
	for _, line := range strings.Split(text, "\n") {
		todo = append(todo, strings.TrimRight(strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune("=<>!~[;", r) })[0], " "))
	}
	seen := map[string]bool{}
	var install []fakeDist
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		if seen[name] {
			continue
		}
		seen[name] = true
		d, ok := p.index[name]
		if !ok {
			out := fmt.Sprintf("ERROR: Could not find a version that satisfies the requirement %s (from versions: none)\nERROR: No matching distribution found for %s\n", name, name)
			return jail.Result{ExitCode: 1, Stderr: []byte(out)}, nil
		}
		install = append(install, d)
		todo = append(todo, d.requires...)
	}
	out := spec.Binds[0].Source
	for i, d := range install {
		for _, f := range append(d.files, fmt.Sprintf("d%d-1.0.dist-info/METADATA", i)) {
			p := filepath.Join(out, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return jail.Result{}, err
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				return jail.Result{}, err
			}
		}
	}
	return jail.Result{}, nil
}

// installs returns the installs asked for since the n-th.
func (p *fakePip) installs(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.runs[n:])
}

func (p *fakePip) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.runs)
}

// fakeIndex: acme-widgets installs module widgets (a name the index does
// not have); google-api-core a namespace package google/ without
// google/cloud/storage, which google-cloud-storage adds; pyx-broken needs
// a distribution the index lacks.
func fakeIndex() map[string]fakeDist {
	return map[string]fakeDist{
		"acme-widgets":         {files: []string{"widgets/__init__.py"}},
		"pyyaml":               {files: []string{"yaml/__init__.py"}},
		"pyx-base":             {files: []string{"pyx_base/__init__.py"}},
		"pyx-broken":           {files: []string{"pyx_broken.py"}, requires: []string{"pyx-gone"}},
		"google-api-core":      {files: []string{"google/api_core/__init__.py"}},
		"google-cloud-storage": {files: []string{"google/cloud/storage/__init__.py"}},
	}
}

// TestAcquireDetected checks how detected imports join explicit
// requirements, with a pip that installs nothing for real.
func TestAcquireDetected(t *testing.T) {
	requireJail(t) // mounts (each build's tmpfs)
	in := interpreters.Interpreter{Version: "3.12.1"}
	for _, tt := range []struct {
		name     string
		explicit string
		code     string
		layer    string   // the final layer's requirements, "" for none
		skips    []string // name:kind
		installs []string // what pip is asked, in order
		failure  string   // an explicit requirement's failure
	}{
		{name: "import name of an explicit distribution", explicit: "acme-widgets==1.0", code: "import widgets",
			layer: "acme-widgets==1.0", installs: []string{"acme-widgets==1.0"}},
		{name: "guarded import not on the index", code: "try:\n    import notonindex\nexcept ImportError:\n    pass\nimport yaml",
			layer: "pyyaml", skips: []string{"notonindex:not on the index"}, installs: []string{"notonindex pyyaml", "pyyaml"}},
		{name: "only missing ones", code: "import notonindex, alsomissing",
			skips:    []string{"alsomissing:not on the index", "notonindex:not on the index"},
			installs: []string{"alsomissing notonindex", "notonindex"}},
		{name: "explicit, then the detected", explicit: "pyx-base", code: "import widgets, yaml",
			layer: "pyx-base\npyyaml", skips: []string{"widgets:not on the index"},
			installs: []string{"pyx-base", "pyx-base pyyaml widgets", "pyx-base pyyaml"}},
		{name: "a detected package that fails otherwise", code: "import yaml, pyx_broken, pyx_base",
			layer: "pyx-base\npyyaml", skips: []string{"pyx-broken:failed to install"},
			installs: []string{"pyx-base pyx-broken pyyaml", "pyyaml", "pyx-broken pyyaml", "pyx-base pyyaml"}},
		{name: "namespace package", explicit: "google-api-core", code: "import google.api_core\nfrom google.cloud import storage",
			layer: "google-api-core\ngoogle-cloud-storage", installs: []string{"google-api-core", "google-api-core google-cloud-storage"}},
		{name: "an explicit requirement fails", explicit: "pyx-nosuch", code: "import yaml",
			failure: "no matching distribution found for pyx-nosuch", installs: []string{"pyx-nosuch"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			pip := &fakePip{index: fakeIndex()}
			c, err := New(Config{Dir: filepath.Join(t.TempDir(), "deps"), OwnerUID: 1000}, pip)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			explicit := parse(t, tt.explicit)
			detected := requirements.Detect([]requirements.File{{Path: "main.py", Data: []byte(tt.code)}}, "main.py")
			for round := range 2 { // the second is remembered: no pip at all
				lease, skips, err := c.AcquireDetected(context.Background(), in, explicit, detected)
				if tt.failure != "" {
					var ie *InstallError
					if !errors.As(err, &ie) || !strings.HasPrefix(ie.Reason, tt.failure) || lease != nil {
						t.Fatalf("round %d: %v, %v; want the explicit failure %q", round, lease, err, tt.failure)
					}
					continue
				}
				if err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				var got []string
				for _, s := range skips {
					got = append(got, s.Name+":"+s.Kind.String())
				}
				if !slices.Equal(got, tt.skips) {
					t.Errorf("round %d: skips %q, want %q", round, got, tt.skips)
				}
				switch {
				case tt.layer == "" && lease != nil:
					t.Errorf("round %d: layer %s, want none", round, lease.Key())
				case tt.layer != "" && (lease == nil || lease.Key() != requirements.Key(in.Version, parse(t, tt.layer), c.cfg.Index)):
					t.Errorf("round %d: lease %v, want the layer of %q; layers %+v", round, lease, tt.layer, c.List())
				}
				if lease != nil {
					lease.Release()
				}
			}
			want := tt.installs
			if tt.failure != "" {
				want = append(want, want...) // a failure is neither kept nor remembered
			}
			if got := pip.installs(0); !slices.Equal(got, want) {
				t.Errorf("pip installs %q, want %q", got, want)
			}
		})
	}
}

// TestAcquireDetectedMemo checks what is remembered of detected imports:
// the outcome of a request for memoTTL, names not on the index apart from
// the request they came with, and a remembered set that no longer
// installs is worked out again.
func TestAcquireDetectedMemo(t *testing.T) {
	requireJail(t) // mounts
	in := interpreters.Interpreter{Version: "3.12.1"}
	pip := &fakePip{index: fakeIndex()}
	c, err := New(Config{Dir: filepath.Join(t.TempDir(), "deps"), OwnerUID: 1000}, pip)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	now := time.Now()
	c.memo.now = func() time.Time { return now }
	detect := func(code string) []requirements.Import {
		return requirements.Detect([]requirements.File{{Path: "main.py", Data: []byte(code)}}, "main.py")
	}
	acquire := func(code string, wantInstalls ...string) {
		t.Helper()
		n := pip.count()
		lease, _, err := c.AcquireDetected(context.Background(), in, requirements.List{}, detect(code))
		if err != nil {
			t.Fatal(err)
		}
		if lease != nil {
			lease.Release()
		}
		if got := pip.installs(n); !slices.Equal(got, wantInstalls) {
			t.Errorf("%q: pip installs %q, want %q", code, got, wantInstalls)
		}
	}
	acquire("import yaml, notonindex", "notonindex pyyaml", "pyyaml")
	acquire("import yaml, notonindex")                 // remembered
	acquire("import pyx_base, notonindex", "pyx-base") // notonindex is known
	now = now.Add(memoTTL)
	acquire("import yaml, notonindex", "notonindex pyyaml") // forgotten; the layer of pyyaml is kept

	// The index gains the package: once the memo has expired, it is installed.
	pip.index["notonindex"] = fakeDist{files: []string{"notonindex.py"}}
	now = now.Add(memoTTL)
	acquire("import yaml, notonindex", "notonindex pyyaml")

	// A remembered layer that was removed and no longer builds.
	acquire("import pyx_base") // the layer of pyx-base exists
	for _, l := range c.List() {
		if slices.Equal(l.Requirements, []string{"pyx-base"}) {
			if err := c.Remove(l.Key); err != nil {
				t.Fatal(err)
			}
		}
	}
	delete(pip.index, "pyx-base")
	acquire("import pyx_base", "pyx-base", "pyx-base")
}

// TestAcquireDetectedBudget checks that code importing many names that
// no index has costs at most maxDetectedFailures pip runs.
func TestAcquireDetectedBudget(t *testing.T) {
	requireJail(t) // mounts
	in := interpreters.Interpreter{Version: "3.12.1"}
	pip := &fakePip{index: fakeIndex()}
	c, err := New(Config{Dir: filepath.Join(t.TempDir(), "deps"), OwnerUID: 1000}, pip)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var code strings.Builder
	for i := range 20 {
		fmt.Fprintf(&code, "import pyx_missing%02d\n", i)
	}
	code.WriteString("import yaml\n")
	detected := requirements.Detect([]requirements.File{{Path: "main.py", Data: []byte(code.String())}}, "main.py")
	lease, skips, err := c.AcquireDetected(context.Background(), in, requirements.List{}, detected)
	if err != nil {
		t.Fatal(err)
	}
	if lease != nil {
		t.Errorf("layer %s, want none: pyyaml's turn never came", lease.Key())
		lease.Release()
	}
	kinds := map[SkipKind]int{}
	for _, s := range skips {
		kinds[s.Kind]++
	}
	if len(skips) != 21 || kinds[SkipNotOnIndex] != maxDetectedFailures || kinds[SkipNotTried] != 21-maxDetectedFailures {
		t.Errorf("skips %+v", skips)
	}
	if n := pip.count(); n != maxDetectedFailures {
		t.Errorf("%d pip runs, want %d", n, maxDetectedFailures)
	}
}

func TestAcquireDetectedTooMany(t *testing.T) {
	requireJail(t) // mounts
	in := interpreters.Interpreter{Version: "3.12.1"}
	pip := &fakePip{index: map[string]fakeDist{}}
	var explicit requirements.List
	for i := range requirements.MaxRequirements - 1 {
		name := fmt.Sprintf("pyx-e%03d", i)
		pip.index[name] = fakeDist{files: []string{strings.ReplaceAll(name, "-", "_") + ".py"}}
		explicit.Reqs = append(explicit.Reqs, requirements.Requirement{Name: name})
	}
	pip.index["pyx-d1"] = fakeDist{files: []string{"pyx_d1.py"}}
	c, err := New(Config{Dir: filepath.Join(t.TempDir(), "deps"), OwnerUID: 1000}, pip)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	detected := requirements.Detect([]requirements.File{{Path: "main.py", Data: []byte("import pyx_d1, pyx_d2, pyx_d3")}}, "main.py")
	lease, skips, err := c.AcquireDetected(context.Background(), in, explicit, detected)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if len(skips) != 2 || skips[0] != (Skip{Name: "pyx-d2", Kind: SkipTooMany}) || skips[1] != (Skip{Name: "pyx-d3", Kind: SkipTooMany}) {
		t.Errorf("skips %+v", skips)
	}
	if lease.Key() != requirements.Key(in.Version, explicit.Add(requirements.Requirement{Name: "pyx-d1"}), c.cfg.Index) {
		t.Errorf("layer %+v", c.List())
	}
}

// TestLayerProvides checks which modules an installed tree provides,
// whatever distribution put them there.
func TestLayerProvides(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{
		"widgets/__init__.py", "single.py", "compiled.pyc", "fast.cpython-312-x86_64-linux-gnu.so", "plain.so",
		"google/api_core/__init__.py", "ns/deeper/mod.py",
		"extra_dir/pthmod.py", "acme_widgets-1.0.dist-info/METADATA", "notpkg/readme.txt",
	} {
		write(t, filepath.Join(dir, f), "")
	}
	write(t, filepath.Join(dir, "x.pth"), "# a comment\nextra_dir\nimport os\n../outside\n/abs\n")
	outside := t.TempDir()
	write(t, filepath.Join(outside, "escaped.py"), "")
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "escaped.py"), filepath.Join(dir, "escaped.py")); err != nil {
		t.Fatal(err)
	}
	for module, want := range map[string]bool{
		"widgets": true, "widgets.sub.anything": true, "single": true, "single.x": true, "compiled": true,
		"fast": true, "plain": true, "google": true, "google.api_core": true, "google.cloud": false,
		"google.cloud.storage": false, "ns": true, "ns.deeper": true, "ns.deeper.mod": true, "ns.other": false,
		"pthmod": true, "outside": false, "abs": false, "acme_widgets": false, "notpkg": true, "notpkg.readme": false,
		"link.escaped": false, "escaped": true, // a module file's name is enough; its content is not read
		"missing": false, "": false,
	} {
		if got := layerProvides(dir, module); got != want {
			t.Errorf("layerProvides(%q) = %v, want %v", module, got, want)
		}
	}
}
