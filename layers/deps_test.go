package layers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// downloadsSince returns the wheel downloads since before.
func downloadsSince(e *env, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range e.index.Downloads() {
		if d := v - before[k]; d > 0 {
			out[k] = d
		}
	}
	return out
}

func TestInstallThenCached(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	c := e.cache(t, cfg)

	before := e.index.Downloads()
	lease := acquire(t, c, in, "pyx-app")
	if got := e.run(t, in, lease, "import pyx_app; print(pyx_app.hello())"); got != "app on base 2.0" {
		t.Errorf("first run printed %q", got)
	}
	got := downloadsSince(e, before)
	want := map[string]int{"pyx_app-1.0-py3-none-any.whl": 1, "pyx_base-2.0-py3-none-any.whl": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("downloads %v, want %v", got, want)
	}
	layers := c.List()
	if len(layers) != 1 || !layers[0].InUse || !slices.Equal(layers[0].Packages, []string{"pyx-app==1.0", "pyx-base==2.0"}) ||
		!slices.Equal(layers[0].Requirements, []string{"pyx-app"}) || layers[0].PythonVersion != in.Version || layers[0].SizeBytes <= 0 {
		t.Errorf("List = %+v", layers)
	}
	lease.Release()
	lease.Release() // twice is harmless
	if l := c.List(); l[0].InUse {
		t.Error("layer still in use after Release")
	}

	t.Run("cached", func(t *testing.T) {
		before := e.index.Downloads()
		for _, text := range []string{"pyx-app", "PYX_App  # same, other spelling\n\n", "-\npyx.app"} {
			lease := acquire(t, c, in, text)
			if lease.Key() != layers[0].Key {
				t.Errorf("%q: key %s, want %s", text, lease.Key(), layers[0].Key)
			}
			if got := e.run(t, in, lease, "import pyx_app; print(pyx_app.hello())"); got != "app on base 2.0" {
				t.Errorf("cached run printed %q", got)
			}
			lease.Release()
		}
		if d := downloadsSince(e, before); len(d) != 0 {
			t.Errorf("cached runs downloaded %v", d)
		}
		if c.built != 1 {
			t.Errorf("%d installs, want 1", c.built)
		}
	})

	t.Run("on disk", func(t *testing.T) {
		dir := filepath.Join(cfg.layersDir(), layers[0].Key)
		m, err := readMeta(dir, layers[0].Key)
		if err != nil {
			t.Fatal(err)
		}
		if m.Python != in.Version || m.SizeBytes != layers[0].SizeBytes {
			t.Errorf("layer.json = %+v", m)
		}
		err = filepath.WalkDir(filepath.Join(dir, layerName), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 0 || st.Gid != 0 {
				t.Errorf("%s owned by %d:%d, want root", p, st.Uid, st.Gid)
			}
			if fi.Mode()&fs.ModeSymlink == 0 && fi.Mode().Perm()&0o222 != 0 {
				t.Errorf("%s is writable: %v", p, fi.Mode())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(cfg.Dir)
		for _, en := range entries {
			if isTemp(en.Name()) {
				t.Errorf("leftover %s", en.Name())
			}
		}
	})

	t.Run("other interpreter, other layer", func(t *testing.T) {
		in310 := e.python(t, "3.10")
		lease := acquire(t, c, in310, "pyx-app")
		defer lease.Release()
		if lease.Key() == layers[0].Key {
			t.Fatal("3.10 and 3.12 share a layer")
		}
		if got := e.run(t, in310, lease, "import sys, pyx_app; print(sys.version_info[:2], pyx_app.hello())"); got != "(3, 10) app on base 2.0" {
			t.Errorf("3.10 run printed %q", got)
		}
	})
}

func TestConcurrentBuildOnce(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	before := e.index.Downloads()

	const n = 3
	var wg sync.WaitGroup
	leases := make([]*Lease, n)
	errs := make([]error, n)
	texts := []string{"pyx-pth\npyx-base==1.0", "pyx-base==1.0\npyx-pth", "PYX-PTH\npyx_base == 1.0"}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leases[i], errs[i] = c.Acquire(context.Background(), in, parse(t, texts[i]))
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Acquire %d: %v", i, errs[i])
		}
		defer leases[i].Release()
		if leases[i].Key() != leases[0].Key() {
			t.Errorf("lease %d: key %s, want %s", i, leases[i].Key(), leases[0].Key())
		}
	}
	if c.built != 1 {
		t.Errorf("%d installs, want 1", c.built)
	}
	if d := downloadsSince(e, before); d["pyx_pth-1.0-py3-none-any.whl"] != 1 || d["pyx_base-1.0-py3-none-any.whl"] != 1 {
		t.Errorf("downloads %v, want each wheel once", d)
	}
	// The layer's .pth file ran: its path line and its import line.
	got := e.run(t, in, leases[0], "import os, pthmod, pyx_base; print(pthmod.WHERE, os.environ.get('PYX_PTH_RAN'), pyx_base.VERSION)")
	if got != "extra dir from pyx_pth.pth 1 1.0" {
		t.Errorf("run printed %q", got)
	}
	c.mu.Lock()
	refs := c.layers[leases[0].Key()].refs
	c.mu.Unlock()
	if refs != n {
		t.Errorf("refs = %d, want %d", refs, n)
	}
}

func TestPinnedVersions(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	code := "import pyx_base; print(pyx_base.VERSION)"
	for text, want := range map[string]string{
		"pyx-base==1.0":                          "1.0",
		"pyx-base<2":                             "1.0",
		"pyx-base>=1.5":                          "2.0",
		"pyx-base~=1.0":                          "1.0",
		"pyx-base!=2.0":                          "1.0",
		"pyx-base==1.*; python_version >= '3.8'": "1.0",
	} {
		t.Run(text, func(t *testing.T) {
			lease := acquire(t, c, in, text)
			defer lease.Release()
			if got := e.run(t, in, lease, code); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
	t.Run("pin of a dependency", func(t *testing.T) {
		lease := acquire(t, c, in, "pyx-app\npyx-base==1.0")
		defer lease.Release()
		if got := e.run(t, in, lease, "import pyx_app; print(pyx_app.hello())"); got != "app on base 1.0" {
			t.Errorf("got %q", got)
		}
	})
}

func TestInstallFailure(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	c := e.cache(t, cfg)
	for _, tt := range []struct{ text, reason string }{
		{"pyx-nosuch", "no matching distribution found for pyx-nosuch"},
		{"pyx-base==3.0", "no matching distribution found for pyx-base==3.0"},
		{"pyx-app\npyx-nosuch>=1", "no matching distribution found for pyx-nosuch>=1"},
	} {
		t.Run(tt.text, func(t *testing.T) {
			for attempt := range 2 { // a failure is not cached: the second try runs pip again
				before := c.built
				_, err := c.Acquire(context.Background(), in, parse(t, tt.text))
				var ie *InstallError
				if !errors.As(err, &ie) {
					t.Fatalf("attempt %d: err = %v, want *InstallError", attempt, err)
				}
				if !strings.HasPrefix(ie.Reason, tt.reason) {
					t.Errorf("reason %q, want %q", ie.Reason, tt.reason)
				}
				if ie.ExitCode == 0 || !strings.Contains(string(ie.Output), "No matching distribution found") {
					t.Errorf("exit %d, output:\n%s", ie.ExitCode, ie.Output)
				}
				if c.built != before {
					t.Error("a failed install counted as built")
				}
			}
		})
	}
	if l := c.List(); len(l) != 0 {
		t.Errorf("failed installs listed: %+v", l)
	}
	entries, _ := os.ReadDir(cfg.Dir)
	more, _ := os.ReadDir(cfg.layersDir())
	for _, en := range append(entries, more...) {
		if en.Name() != ".lock" && en.Name() != layersName {
			t.Errorf("leftover %s after failed installs", en.Name())
		}
	}
}

func TestInstallLimits(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	cfg.InstallTimeout = time.Second / 4
	c := e.cache(t, cfg)
	_, err := c.Acquire(context.Background(), in, parse(t, "pyx-base"))
	var ie *InstallError
	if !errors.As(err, &ie) || !strings.Contains(ie.Reason, "install time limit") {
		t.Fatalf("err = %v, want the time limit", err)
	}
}

func TestEviction(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	// Four layers of the same shape: pyx-base 1.0 or 2.0.
	a, b, cc, d := "pyx-base==1.0", "pyx-base==2.0", "pyx-base>=2", "pyx-base<2"
	keys := map[string]string{}
	for _, text := range []string{a, b, cc, d} {
		keys[text] = requirements.Key(in.Version, parse(t, text), cfg.Index)
	}
	c := e.cache(t, cfg)
	var size int64
	for _, text := range []string{a, b, cc} {
		lease := acquire(t, c, in, text)
		lease.Release()
		size = max(size, c.List()[0].SizeBytes)
		time.Sleep(10 * time.Millisecond) // distinct last-use times
	}
	c.Close()

	has := func(c *Cache, text string) bool {
		_, err := os.Stat(filepath.Join(cfg.layersDir(), keys[text]))
		listed := slices.ContainsFunc(c.List(), func(l api.Layer) bool { return l.Key == keys[text] })
		if listed != (err == nil) {
			t.Errorf("%s: listed %v, on disk %v", text, listed, err == nil)
		}
		return listed
	}

	// Reopened under a cap of two layers: the least recently used goes.
	cfg.MaxBytes = 2*size + size/2
	c = e.cache(t, cfg)
	if has(c, a) || !has(c, b) || !has(c, cc) {
		t.Fatalf("after start-up eviction: %+v", c.List())
	}

	// b is now the least recently used, but a run holds it: c goes instead.
	holdB := acquire(t, c, in, b)
	time.Sleep(10 * time.Millisecond)
	acquire(t, c, in, cc).Release()
	if err := c.Remove(keys[b]); !errors.Is(err, ErrInUse) {
		t.Errorf("Remove of a layer in use: %v, want ErrInUse", err)
	}
	holdD := acquire(t, c, in, d)
	if !has(c, b) || has(c, cc) || !has(c, d) {
		t.Errorf("after building d: %+v", c.List())
	}
	if got := e.run(t, in, holdB, "import pyx_base; print(pyx_base.VERSION)"); got != "2.0" {
		t.Errorf("held layer broken: %q", got)
	}
	holdD.Release()
	holdB.Release()
	if c.SizeBytes() > cfg.MaxBytes {
		t.Errorf("cache %d bytes over its cap %d", c.SizeBytes(), cfg.MaxBytes)
	}

	// Remove: unknown key, then a layer no run holds.
	if err := c.Remove(strings.Repeat("0", requirements.KeyLen)); !errors.Is(err, ErrNotFound) {
		t.Errorf("Remove unknown: %v", err)
	}
	if err := c.Remove(keys[b]); err != nil {
		t.Errorf("Remove: %v", err)
	}
	if has(c, b) {
		t.Error("removed layer still there")
	}
}

func TestLayerReadOnly(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	c := e.cache(t, cfg)
	lease := acquire(t, c, in, "pyx-base==1.0")
	defer lease.Release()
	// EROFS, not EACCES: the mount is read-only, whatever the modes (a
	// writable bind would answer EACCES for the root-owned files).
	code := fmt.Sprintf(`
import errno, os, pyx_base
layer, cache = %q, %q
d = os.path.dirname(pyx_base.__file__)
for what, f in [
    ("overwrite", lambda: open(os.path.join(d, "__init__.py"), "w").write("VERSION = 'evil'")),
    ("create", lambda: open(os.path.join(d, "new.py"), "w")),
    ("remove", lambda: os.remove(os.path.join(d, "__init__.py"))),
    ("mkdir in the layer", lambda: os.mkdir(os.path.join(layer, "x"))),
    ("mkdir in the cache", lambda: os.mkdir(os.path.join(cache, "x"))),
    ("chmod", lambda: os.chmod(d, 0o777)),
    ("list the cache", lambda: os.listdir(cache)),
]:
    try:
        f()
        print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
`, lease.Path(), LayersMount)
	got := e.run(t, in, lease, code)
	want := strings.Join([]string{
		"overwrite EROFS", "create EROFS", "remove EROFS", "mkdir in the layer EROFS", "mkdir in the cache EROFS",
		"chmod EROFS", "list the cache EACCES",
	}, "\n")
	if got != want {
		t.Errorf("user code got\n%s\nwant\n%s", got, want)
	}
	if got := e.run(t, in, lease, "import pyx_base; print(pyx_base.VERSION)"); got != "1.0" {
		t.Errorf("layer changed: %q", got)
	}
}

func TestUserCodeWithoutNetwork(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	before := e.index.Downloads()
	lease := acquire(t, c, in, "pyx-base==2.0")
	defer lease.Release()
	if d := downloadsSince(e, before); d["pyx_base-2.0-py3-none-any.whl"] != 1 {
		t.Fatalf("the install jail did not reach the index: %v", d)
	}
	code := fmt.Sprintf(`
import socket, urllib.request, pyx_base
try:
    urllib.request.urlopen(%q, timeout=3)
    print("reached the index")
except OSError as e:
    print("no network:", type(e).__name__, pyx_base.VERSION)
`, e.index.URL+"pyx-base/")
	got := e.run(t, in, lease, code)
	if !strings.HasPrefix(got, "no network:") || !strings.HasSuffix(got, "2.0") {
		t.Errorf("user code: %q", got)
	}
}

func TestCrashLeftovers(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	c := e.cache(t, cfg)
	good := acquire(t, c, in, "pyx-base==1.0")
	good.Release()
	broken := acquire(t, c, in, "pyx-base==2.0")
	broken.Release()
	c.Close()

	// What a crash can leave: a build in progress with its tmpfs mounted,
	// a removal half done, a layer whose layer.json went missing, and one
	// without its layer.json. And a layer of the layout before layers/.
	build := filepath.Join(cfg.Dir, tmpPrefix+"crashed-build")
	if err := os.MkdirAll(filepath.Join(build, "out", "pkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", filepath.Join(build, "out"), "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, tmpPrefix+"del-x", layerName), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(cfg.layersDir(), broken.Key(), metaName)); err != nil {
		t.Fatal(err)
	}
	truncated := strings.Repeat("a", requirements.KeyLen)
	if err := os.MkdirAll(filepath.Join(cfg.layersDir(), truncated, layerName), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(cfg.Dir, "not-a-key"), filepath.Join(cfg.layersDir(), truncated+"-not-a-key")} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(filepath.Join(cfg.layersDir(), good.Key()), filepath.Join(cfg.Dir, good.Key())); err != nil {
		t.Fatal(err)
	}

	c = e.cache(t, cfg)
	names := func(dir string) []string {
		var out []string
		entries, _ := os.ReadDir(dir)
		for _, en := range entries {
			out = append(out, en.Name())
		}
		return out
	}
	if got, want := names(cfg.Dir), []string{".lock", layersName, "not-a-key"}; !slices.Equal(got, want) {
		t.Errorf("after start-up: %v, want %v", got, want)
	}
	if got, want := names(cfg.layersDir()), slices.Sorted(slices.Values([]string{good.Key(), truncated + "-not-a-key"})); !slices.Equal(got, want) {
		t.Errorf("after start-up, layers: %v, want %v (the broken ones removed, the old one moved in)", got, want)
	}
	if l := c.List(); len(l) != 1 || l[0].Key != good.Key() {
		t.Errorf("List = %+v", l)
	}
	lease := acquire(t, c, in, "pyx-base==2.0") // rebuilt
	defer lease.Release()
	if c.built != 1 {
		t.Errorf("%d installs, want 1 (the broken layer rebuilt)", c.built)
	}
	if got := e.run(t, in, lease, "import pyx_base; print(pyx_base.VERSION)"); got != "2.0" {
		t.Errorf("rebuilt layer: %q", got)
	}

	t.Run("layer vanished while serving", func(t *testing.T) {
		if err := os.RemoveAll(filepath.Join(cfg.layersDir(), good.Key())); err != nil {
			t.Fatal(err)
		}
		lease := acquire(t, c, in, "pyx-base==1.0")
		defer lease.Release()
		if got := e.run(t, in, lease, "import pyx_base; print(pyx_base.VERSION)"); got != "1.0" {
			t.Errorf("rebuilt layer: %q", got)
		}
	})
}

func TestWaiterCancel(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	c := e.cache(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Acquire(ctx, in, parse(t, "pyx-app\npyx-base==1.0"))
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("Acquire = %v after %v, want to stop waiting at the deadline", err, time.Since(start))
	}
	// Nobody waits any more: the build was stopped and not kept.
	c.wg.Wait()
	c.mu.Lock()
	builds, started, built := len(c.builds), c.started, c.built
	c.mu.Unlock()
	if builds != 0 || started != 1 || built != 0 {
		t.Errorf("after the cancel: %d builds in progress, %d started, %d built; want 0, 1, 0", builds, started, built)
	}
	if l := c.List(); len(l) != 0 {
		t.Errorf("a stopped build was cached: %+v", l)
	}
	entries, _ := os.ReadDir(cfg.Dir)
	for _, en := range entries {
		if isTemp(en.Name()) {
			t.Errorf("leftover %s after the cancel", en.Name())
		}
	}
	// The next request builds afresh.
	lease := acquire(t, c, in, "pyx-app\npyx-base==1.0")
	defer lease.Release()
	if got := e.run(t, in, lease, "import pyx_app; print(pyx_app.hello())"); got != "app on base 1.0" {
		t.Errorf("got %q", got)
	}
}

func TestFindLinksOffline(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	cfg := e.config(t)
	cfg.Index = requirements.Index{FindLinks: []string{e.index.WheelDir}} // no index: --no-index
	c := e.cache(t, cfg)
	before := e.index.Downloads()
	lease := acquire(t, c, in, "pyx-app")
	defer lease.Release()
	if got := e.run(t, in, lease, "import pyx_app; print(pyx_app.hello())"); got != "app on base 2.0" {
		t.Errorf("got %q", got)
	}
	if d := downloadsSince(e, before); len(d) != 0 {
		t.Errorf("an offline install used the index: %v", d)
	}
}

func TestAutoDetect(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	code := `import json, os.path
from collections import OrderedDict
import helper
try:
    import yaml
except ImportError:
    yaml = None
def app():
    import pyx_app
    return pyx_app.hello()
print(yaml.FAKE, "/", app(), "/", helper.NAME)
`
	files := []requirements.File{
		{Path: "main.py", Data: []byte(code)},
		{Path: "helper.py", Data: []byte("NAME = 'own module'\n")},
	}
	// The user's pin wins over the detected, unpinned dependency.
	reqs := parse(t, "pyx-base==1.0").With(requirements.Detect(files, "main.py", in.Stdlib, in.Installed))
	if got, want := reqs.Text(), "pyx-app\npyx-base==1.0\npyyaml\n"; got != want {
		t.Fatalf("requirements %q, want %q", got, want)
	}
	lease, err := c.Acquire(context.Background(), in, reqs)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	spec := e.runSpec(in, lease, code)
	spec.Files = append(spec.Files, jailFile("helper.py", "NAME = 'own module'\n"))
	res, err := e.jails.Run(context.Background(), spec)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("run: %v exit %d %s", err, res.ExitCode, res.Stderr)
	}
	if got := strings.TrimSpace(string(res.Stdout)); got != "PyYAML from the test index / app on base 1.0 / own module" {
		t.Errorf("got %q", got)
	}
}

// TestSourceBuilds checks that pip installs wheels only unless source
// builds are allowed: building an sdist runs the package's code (here an
// in-tree build backend) in the install jail, which may have the host's
// network.
func TestSourceBuilds(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	const sdist = "pyx_src-1.0.tar.gz"

	t.Run("wheels only (default)", func(t *testing.T) {
		c := e.cache(t, e.config(t))
		before := e.index.Downloads()
		_, err := c.Acquire(context.Background(), in, parse(t, "pyx-src"))
		var ie *InstallError
		if !errors.As(err, &ie) || !strings.HasPrefix(ie.Reason, "no matching distribution found for pyx-src") {
			t.Fatalf("Acquire = %v, want no matching distribution", err)
		}
		if d := downloadsSince(e, before); d[sdist] != 0 {
			t.Errorf("pip fetched the sdist %d times: it would have built it", d[sdist])
		}
		if c.built != 0 || len(c.List()) != 0 {
			t.Errorf("%d built, listed %+v", c.built, c.List())
		}
	})

	t.Run("allowed", func(t *testing.T) {
		cfg := e.config(t)
		cfg.Index.SourceBuilds = true
		c := e.cache(t, cfg)
		before := e.index.Downloads()
		lease := acquire(t, c, in, "pyx-src")
		defer lease.Release()
		if d := downloadsSince(e, before); d[sdist] != 1 {
			t.Errorf("sdist downloads %v, want 1", d)
		}
		if got := e.run(t, in, lease, "import pyx_src; print(pyx_src.BUILT)"); got != "built from source" {
			t.Errorf("got %q", got)
		}
	})
}

// TestRunDuringBuild checks that runs start while a build is in progress:
// the build's tmpfs, mounted on the host, must not be inside the tree
// bound into jails (a user namespace may not bind a tree with submounts
// it cannot see: EINVAL).
func TestRunDuringBuild(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	lease := acquire(t, c, in, "pyx-base==1.0")
	defer lease.Release()
	tmp, _, err := c.startBuild("inflight") // as install does
	if err != nil {
		t.Fatal(err)
	}
	defer removeTemp(tmp)
	if got := e.run(t, in, lease, "import pyx_base; print(pyx_base.VERSION)"); got != "1.0" {
		t.Errorf("got %q", got)
	}
}

// TestAutoDetectBestEffort checks detected imports with the real pip: an
// import name that an explicit distribution provides is not installed
// again (pip would find no "widgets"), and detected packages that are not
// on the index, or do not install, are left out while the rest installs;
// a second request runs no pip.
func TestAutoDetectBestEffort(t *testing.T) {
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	code := `import widgets
try:
    import notonindex
except ImportError:
    notonindex = None
import yaml
try:
    import pyx_broken
except ImportError:
    pyx_broken = None
print(widgets.NAME, "/", yaml.FAKE, "/", notonindex, pyx_broken)
`
	detected := requirements.Detect([]requirements.File{{Path: "main.py", Data: []byte(code)}}, "main.py", in.Stdlib, in.Installed)
	explicit := parse(t, "acme-widgets==1.0")
	for round := range 2 {
		started := c.started
		lease, skips, err := c.AcquireDetected(context.Background(), in, explicit, detected)
		if err != nil {
			var ie *InstallError
			if errors.As(err, &ie) {
				t.Fatalf("round %d: %v\n%s", round, err, ie.Output)
			}
			t.Fatalf("round %d: %v", round, err)
		}
		if len(skips) != 2 || skips[0] != (Skip{Name: "notonindex", Kind: SkipNotOnIndex}) ||
			skips[1].Name != "pyx-broken" || skips[1].Kind != SkipFailed || !strings.Contains(skips[1].Reason, "pyx-gone") {
			t.Errorf("round %d: skips %+v", round, skips)
		}
		if got := e.run(t, in, lease, code); got != "acme widgets / PyYAML from the test index / None None" {
			t.Errorf("round %d: got %q", round, got)
		}
		if round == 1 && c.started != started {
			t.Errorf("the second request started %d builds", c.started-started)
		}
		t.Logf("round %d: %d builds", round, c.started-started)
		lease.Release()
	}
}
