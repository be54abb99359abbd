package test

// Dependencies end to end: requirements_txt installed by the real pip from
// a PEP 503 index on 127.0.0.1 that the test serves (wheels it builds
// itself), cached layers, auto-detected imports, refusals, failures, the
// /api/v1/deps endpoints, warm-up, and what requirements cost a run.

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/layers/depstest"
)

// startIndex serves the standard test wheels until t ends.
func startIndex(t *testing.T) *depstest.Index {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ix, err := depstest.Start(dir, depstest.Wheels())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix
}

func (s *Server) layers(t testing.TB) []api.Layer {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/v1/deps", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /api/v1/deps: %d %s", r.Status, r.Body)
	}
	return decode[api.Layers](t, r.Body).Layers
}

func layerOf(layers []api.Layer, req string) (api.Layer, bool) {
	for _, l := range layers {
		if slices.Equal(l.Requirements, []string{req}) {
			return l, true
		}
	}
	return api.Layer{}, false
}

func TestDependencies(t *testing.T) {
	requireJail(t)
	ix := startIndex(t)
	// Warm-up entries are ";"-separated: the second holds a comma.
	s := startServer(t, "PYEXEC_DEPS_INDEX_URL="+ix.URL, "PYEXEC_DEPS_WARMUP=pyx-pth;pyx-base>=1,<2")
	app := "import pyx_app\nprint(pyx_app.hello())\n"

	t.Run("install, then cached", func(t *testing.T) {
		before := ix.Downloads()
		start := time.Now()
		e := s.eval(t, api.EvalRequest{Code: app, RequirementsTxt: "pyx-app"})
		first := time.Since(start)
		wantRun(t, e, "app on base 2.0\n")
		start = time.Now()
		e = s.eval(t, api.EvalRequest{Code: app, RequirementsTxt: "  PYX_App   # the same\n"})
		cached := time.Since(start)
		wantRun(t, e, "app on base 2.0\n")
		after := ix.Downloads()
		if after["pyx_app-1.0-py3-none-any.whl"]-before["pyx_app-1.0-py3-none-any.whl"] != 1 {
			t.Errorf("pyx-app downloaded %d times, want once", after["pyx_app-1.0-py3-none-any.whl"]-before["pyx_app-1.0-py3-none-any.whl"])
		}
		t.Logf("first run (install) %v, cached run %v", first.Round(time.Millisecond), cached.Round(time.Millisecond))
	})

	t.Run("the cache is not listable and layers are read-only", func(t *testing.T) {
		// Every jail sees the cache (so pooled jails serve runs with
		// requirements), but only reaches a layer by its key.
		code := `import errno, os, sys, pyx_app
layer = [p for p in sys.path if p.startswith("/.pyexec/layers/")][0]
def attempt(f):
    try:
        f()
        return "allowed"
    except OSError as e:
        return errno.errorcode[e.errno]
print(attempt(lambda: os.listdir("/.pyexec/layers")))
print(attempt(lambda: open(os.path.join(layer, "x"), "w")))
print(attempt(lambda: os.listdir(os.path.dirname(layer))) != "allowed")
`
		e := s.eval(t, api.EvalRequest{Code: code, RequirementsTxt: "pyx-app"})
		wantRun(t, e, "EACCES\nEROFS\nTrue\n")
	})

	t.Run("exec with requirements", func(t *testing.T) {
		status, raw := s.execSync(t, map[string]string{"main.py": "import pyx_base\nprint(pyx_base.VERSION)\n"},
			api.Metadata{Entrypoint: "main.py", RequirementsTxt: "pyx-base==1.0"})
		if status != http.StatusOK {
			t.Fatalf("status %d: %s", status, raw)
		}
		wantRun(t, decode[api.Execution](t, raw), "1.0\n")
	})

	t.Run("auto-detected imports", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "import json\nimport yaml\nprint(yaml.FAKE)\n"})
		wantRun(t, e, "PyYAML from the test index\n")
		// The user's pin wins over the detected dependency's latest version.
		e = s.eval(t, api.EvalRequest{Code: app, RequirementsTxt: "pyx-base==1.0"})
		wantRun(t, e, "app on base 1.0\n")
		// Modules of the request's own files are not installed.
		e = s.eval(t, api.EvalRequest{Files: []api.File{
			{Name: "main.py", Content: "import helper\nprint(helper.X)\n"},
			{Name: "helper.py", Content: "X = 'own'\n"},
		}})
		wantRun(t, e, "own\n")
	})

	t.Run("dash turns detection off", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "import pyx_base\n", RequirementsTxt: "-"})
		if e.Status != api.StatusCompleted || e.ErrorType != "ModuleNotFoundError" {
			t.Errorf("got %s error_type=%s; want ModuleNotFoundError", describe(e), e.ErrorType)
		}
	})

	t.Run("missing package", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "print(1)", RequirementsTxt: "pyx-nosuch==1.0"})
		if e.Status != api.StatusFailed || e.ExitCode == nil || *e.ExitCode == 0 ||
			!strings.HasPrefix(e.Error, "installing requirements failed: no matching distribution found for pyx-nosuch==1.0") ||
			!strings.Contains(e.Stderr, "No matching distribution found for pyx-nosuch==1.0") || e.Stdout != "" {
			t.Errorf("got %s", describe(e))
		}
		// Explicit, beside a detected import that is fine: still a failure.
		e = s.eval(t, api.EvalRequest{Code: "import yaml\n", RequirementsTxt: "pyx-nosuch"})
		if e.Status != api.StatusFailed || !strings.HasPrefix(e.Error, "installing requirements failed: no matching distribution found for pyx-nosuch") {
			t.Errorf("got %s", describe(e))
		}
		// Auto-detected: the code runs, and Python says what is missing.
		e = s.eval(t, api.EvalRequest{Code: "import pyx_missing_module\n"})
		if e.Status != api.StatusCompleted || e.ErrorType != "ModuleNotFoundError" ||
			!strings.HasPrefix(e.Stderr, `pyexec: auto-detected package "pyx-missing-module" is not on the package index; skipped`+"\n") {
			t.Errorf("got %s", describe(e))
		}
	})

	t.Run("detected imports are best-effort", func(t *testing.T) {
		// acme-widgets provides module widgets; no distribution is named so.
		e := s.eval(t, api.EvalRequest{Code: "import widgets\nprint(widgets.NAME)\n", RequirementsTxt: "acme-widgets==1.0"})
		wantRun(t, e, "acme widgets\n")
		if e.Stderr != "" {
			t.Errorf("stderr %q", e.Stderr)
		}
		// A guarded import of a name the index lacks, and of a package that
		// does not install (its dependency is missing); yaml installs.
		code := `import yaml
try:
    import notonindex
except ImportError:
    notonindex = None
try:
    import pyx_broken
except ImportError:
    pyx_broken = None
print(yaml.FAKE, notonindex, pyx_broken)
`
		want := `pyexec: auto-detected package "notonindex" is not on the package index; skipped` + "\n" +
			`pyexec: auto-detected package "pyx-broken" could not be installed (no matching distribution found for pyx-gone on the package index`
		for round := range 2 { // the second is remembered: no pip
			installs := strings.Count(s.Stderr(), "installing requirements")
			start := time.Now()
			e = s.eval(t, api.EvalRequest{Code: code})
			took := time.Since(start)
			wantRun(t, e, "PyYAML from the test index None None\n")
			if !strings.HasPrefix(e.Stderr, want) || strings.Count(e.Stderr, "\n") != 2 {
				t.Errorf("round %d: stderr %q, want it to start %q", round, e.Stderr, want)
			}
			installs = strings.Count(s.Stderr(), "installing requirements") - installs
			if round == 1 && installs != 0 {
				t.Errorf("the repeated request ran pip %d times", installs)
			}
			t.Logf("round %d: %v, %d pip runs", round, took.Round(time.Millisecond), installs)
		}
		// With requirements: the user's pin, plus what detection adds.
		e = s.eval(t, api.EvalRequest{Code: "import pyx_app, widgets\ntry:\n    import notonindex\nexcept ImportError:\n    pass\nprint(pyx_app.hello(), widgets.NAME)\n",
			RequirementsTxt: "acme-widgets\npyx-base==1.0"})
		wantRun(t, e, "app on base 1.0 acme widgets\n")
	})

	t.Run("too many requirements with the detected ones", func(t *testing.T) {
		var code strings.Builder
		code.WriteString("print('ran')\n")
		for i := range 257 {
			fmt.Fprintf(&code, "import pyx_many%d\n", i)
		}
		e := s.eval(t, api.EvalRequest{Code: code.String()})
		if e.Status != api.StatusCompleted || e.Stdout != "ran\n" || e.ErrorType != "ModuleNotFoundError" ||
			!strings.Contains(e.Stderr, "pyexec: 1 auto-detected package skipped, more than 256 requirements (pyx-many256)") ||
			!strings.Contains(e.Stderr, "auto-detected packages skipped, not tried after too many failed installs") {
			t.Errorf("got %s", describe(e))
		}
	})

	t.Run("requirements.txt in the project", func(t *testing.T) {
		project := map[string]string{
			"requirements.txt": "# pins\npyx-base==1.0\n",
			"main.py":          "import pyx_base\nprint(pyx_base.VERSION)\n",
		}
		status, raw := s.execSync(t, project, api.Metadata{Entrypoint: "main.py"})
		if status != http.StatusOK {
			t.Fatalf("exec/sync: %d %s", status, raw)
		}
		wantRun(t, decode[api.Execution](t, raw), "1.0\n")
		wantRun(t, s.waitDone(t, s.execAsync(t, project, api.Metadata{Entrypoint: "main.py"})), "1.0\n")
		// The field wins over the file.
		status, raw = s.execSync(t, project, api.Metadata{Entrypoint: "main.py", RequirementsTxt: "pyx-base==2.0"})
		if status != http.StatusOK {
			t.Fatalf("exec/sync: %d %s", status, raw)
		}
		wantRun(t, decode[api.Execution](t, raw), "2.0\n")
		// /eval files: the file's pin wins over the detected pyx-app's wish.
		e := s.eval(t, api.EvalRequest{Files: []api.File{
			{Name: "main.py", Content: "import pyx_app\nprint(pyx_app.hello())\n"},
			{Name: "requirements.txt", Content: "pyx-base==1.0\n"},
		}})
		wantRun(t, e, "app on base 1.0\n")
		// The field's rules: a pip option is a 400 naming the file and line.
		project["requirements.txt"] = "pyx-base\n--index-url http://evil.example/\n"
		status, raw = s.execSync(t, project, api.Metadata{Entrypoint: "main.py"})
		if status != http.StatusBadRequest || !strings.Contains(string(raw), "requirements.txt in the archive: line 2") {
			t.Errorf("bad requirements.txt in a tar: %d %s", status, raw)
		}
		status, raw = s.postJSON(t, "/api/v1/eval", api.EvalRequest{Files: []api.File{
			{Name: "main.py", Content: "print(1)\n"}, {Name: "requirements.txt", Content: "-e .\n"}}})
		if status != http.StatusBadRequest || !strings.Contains(string(raw), "files: requirements.txt: line 1") {
			t.Errorf("bad requirements.txt in files: %d %s", status, raw)
		}
	})

	t.Run("refused requirements", func(t *testing.T) {
		for _, req := range []string{"-e .", "--index-url http://evil.example/", "https://evil.example/x.whl", "numpy; rm -rf /",
			"pyx-base==1.0+x.whl", `pyx-base; os_name == "a -r x"`} {
			status, raw := s.postJSON(t, "/api/v1/eval", api.EvalRequest{Code: "print(1)", RequirementsTxt: req})
			if status != http.StatusBadRequest || !strings.Contains(string(raw), "requirements_txt: line 1") {
				t.Errorf("%q: %d %s", req, status, raw)
			}
		}
	})

	t.Run("user code without network", func(t *testing.T) {
		code := fmt.Sprintf("import urllib.request, pyx_base\ntry:\n    urllib.request.urlopen(%q, timeout=3)\n    print('reached')\nexcept OSError as e:\n    print('no network', pyx_base.VERSION)\n", ix.URL)
		e := s.eval(t, api.EvalRequest{Code: code, RequirementsTxt: "pyx-base==2.0"})
		wantRun(t, e, "no network 2.0\n")
	})

	t.Run("layers endpoints and warm-up", func(t *testing.T) {
		deadline := time.Now().Add(30 * time.Second)
		for _, warm := range []string{"pyx-pth", "pyx-base<2,>=1"} {
			for {
				if _, ok := layerOf(s.layers(t), warm); ok {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("warm-up layer %s not listed: %+v", warm, s.layers(t))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		l, ok := layerOf(s.layers(t), "pyx-app")
		if !ok || !slices.Equal(l.Packages, []string{"pyx-app==1.0", "pyx-base==2.0"}) || l.SizeBytes <= 0 ||
			l.InUse || l.LastUsedAt.Before(l.CreatedAt) || l.PythonVersion == "" {
			t.Fatalf("pyx-app layer: %+v (found %v)", l, ok)
		}
		if r := s.do(t, http.MethodDelete, "/api/v1/deps/"+strings.Repeat("0", 32), "", nil); r.Status != http.StatusNotFound {
			t.Errorf("DELETE unknown: %d %s", r.Status, r.Body)
		}
		if r := s.do(t, http.MethodDelete, "/api/v1/deps/"+l.Key, "", nil); r.Status != http.StatusOK {
			t.Errorf("DELETE: %d %s", r.Status, r.Body)
		}
		if _, ok := layerOf(s.layers(t), "pyx-app"); ok {
			t.Error("removed layer still listed")
		}
		before := ix.Downloads()
		wantRun(t, s.eval(t, api.EvalRequest{Code: app, RequirementsTxt: "pyx-app"}), "app on base 2.0\n")
		if d := ix.Downloads()["pyx_app-1.0-py3-none-any.whl"] - before["pyx_app-1.0-py3-none-any.whl"]; d != 1 {
			t.Errorf("after DELETE, pyx-app downloaded %d times, want once (rebuilt)", d)
		}
	})
}

// TestDependencyTimings logs what requirements cost a run through HTTP:
// the first (installing) run, then cached runs interleaved with runs
// without requirements, on a server with the warm pool (the default) and
// on one without. Reported, not asserted.
func TestDependencyTimings(t *testing.T) {
	requireJail(t)
	ix := startIndex(t)
	for _, pool := range []struct{ name, env string }{
		{"warm pool (default)", ""},
		{"no pool", "PYEXEC_POOL_SIZES=3.12=0"},
	} {
		t.Run(pool.name, func(t *testing.T) {
			env := []string{"PYEXEC_DEPS_INDEX_URL=" + ix.URL}
			if pool.env != "" {
				env = append(env, pool.env)
			}
			s := startServer(t, env...)
			const guarded = "try:\n    import pyx_timing_missing\nexcept ImportError:\n    pass\nprint(1)\n"
			runCode := func(code, req string) (time.Duration, int64) {
				if pool.env == "" {
					time.Sleep(50 * time.Millisecond) // let the pool refill: every run warm
				}
				start := time.Now()
				e := s.eval(t, api.EvalRequest{Code: code, RequirementsTxt: req})
				took := time.Since(start)
				wantRun(t, e, "1\n")
				return took, e.DurationMS
			}
			run := func(req string) (time.Duration, int64) { return runCode("print(1)", req) }
			for range 3 {
				run("")
			}
			first, firstMS := run("pyx-app\npyx-pth")
			firstMissing, _ := runCode(guarded, "")
			const rounds = 30
			var none, cached, missing, diffs, missingDiffs []time.Duration
			var noneMS, cachedMS []int64
			for i := range rounds {
				var wn, wc, wm time.Duration
				var mn, mc int64
				if i%2 == 0 {
					wn, mn = run("")
					wc, mc = run("pyx-app\npyx-pth")
					wm, _ = runCode(guarded, "")
				} else {
					wm, _ = runCode(guarded, "")
					wc, mc = run("pyx-app\npyx-pth")
					wn, mn = run("")
				}
				none, cached, diffs = append(none, wn), append(cached, wc), append(diffs, wc-wn)
				missing, missingDiffs = append(missing, wm), append(missingDiffs, wm-wn)
				noneMS, cachedMS = append(noneMS, mn), append(cachedMS, mc)
			}
			med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
			medMS := func(d []int64) int64 { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
			r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
			t.Logf("first run, installing pyx-app (+ pyx-base) and pyx-pth: %v (duration_ms %d)", first.Round(time.Millisecond), firstMS)
			t.Logf("first run with a detected import not on the index: %v", firstMissing.Round(time.Millisecond))
			t.Logf("no requirements:     client median %v, duration_ms median %d", r(med(none)), medMS(noneMS))
			t.Logf("cached requirements: client median %v, duration_ms median %d", r(med(cached)), medMS(cachedMS))
			t.Logf("detected, not on the index (remembered): client median %v", r(med(missing)))
			t.Logf("detected-missing minus none: median of paired differences %v", r(med(missingDiffs)))
			t.Logf("cached minus none: median of paired differences %v", r(med(diffs)))
		})
	}
}
