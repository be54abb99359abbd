package layers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
	"github.com/pyexec/pyexec/layers/depstest"
)

// Host ids and places of this package's jails, apart from other packages'
// tests.
const (
	testIDBase   = 700000
	testSandbox  = 1000
	testStateDir = "/run/pyexec-deps-test"
	testCgroup   = "pyexec-deps-test"
)

var fixtureDir string // the wheels; removed after the tests

func TestMain(m *testing.M) {
	jail.Init()
	// As pyexecd does: run from a sealed copy, or libcontainer copies the
	// binary for every jail (timings would include it). Unsealed works too.
	_ = jail.ReexecSealed()
	code := m.Run()
	if shared != nil {
		// Closing waits for the jails' removal; then the parent group,
		// now empty, goes too.
		if err := shared.jails.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "jail manager close:", err)
			code = 1
		}
		if err := shared.cg.RemoveParent(); err != nil {
			fmt.Fprintln(os.Stderr, "deps tests:", err)
			code = 1
		}
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// requireJail skips a test that needs root, namespaces and cgroups on a
// machine without them, and fails it under CI=true, where it must run.
func requireJail(t testing.TB) {
	t.Helper()
	jailtest.Require(t, "deps tests")
}

type env struct {
	jails  *jail.Manager
	cg     *cgroup.Manager
	interp *interpreters.Set
	index  *depstest.Index
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

// testEnv returns the package's jail Manager, interpreters and package
// index, made once.
func testEnv(t testing.TB) *env {
	t.Helper()
	requireJail(t)
	envOnce.Do(func() { shared, envErr = newEnv() })
	if envErr != nil {
		t.Fatalf("test setup: %v", envErr)
	}
	return shared
}

func newEnv() (*env, error) {
	set, err := interpreters.Discover(context.Background(), interpreters.Options{
		System: true, BaseMounts: jail.DefaultBaseMounts(), Env: os.Environ(),
	})
	if err != nil {
		return nil, err
	}
	fixtureDir, err = os.MkdirTemp("", "pyexec-deps-wheels-")
	if err != nil {
		return nil, err
	}
	if err := os.Chmod(fixtureDir, 0o755); err != nil {
		return nil, err
	}
	ix, err := depstest.Start(fixtureDir, depstest.Wheels(), depstest.Sdists()...)
	if err != nil {
		return nil, err
	}
	cg, err := cgroup.NewManager(testCgroup)
	if err != nil {
		return nil, err
	}
	m, err := jail.New(jail.Config{
		StateDir: testStateDir, HostIDBase: testIDBase, SandboxUID: testSandbox, Mounts: set.Mounts(),
		BindTargets: BindTargets(requirements.Index{FindLinks: []string{fixtureDir}}),
		Files:       map[string][]byte{interpreters.BootstrapPath: interpreters.Bootstrap},
		Logger:      slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}, cg)
	if err != nil {
		_ = cg.RemoveParent()
		return nil, err
	}
	return &env{jails: m, cg: cg, interp: set, index: ix}, nil
}

// python returns the newest interpreter of series v.
func (e *env) python(t testing.TB, v string) interpreters.Interpreter {
	t.Helper()
	in, err := e.interp.Select(v)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// config is a cache in a fresh temporary directory using the test index.
func (e *env) config(t testing.TB) Config {
	t.Helper()
	return Config{
		Dir:                filepath.Join(t.TempDir(), "deps"),
		Index:              requirements.Index{URL: e.index.URL},
		InstallTimeout:     2 * time.Minute,
		InstallMemoryBytes: 512 << 20,
		InstallDiskBytes:   256 << 20,
		OwnerUID:           testIDBase + testSandbox,
		Logger:             slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
}

func (e *env) cache(t testing.TB, cfg Config) *Cache {
	t.Helper()
	c, err := New(cfg, e.jails)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func parse(t testing.TB, text string) requirements.List {
	t.Helper()
	l, err := requirements.Parse(text)
	if err != nil {
		t.Fatalf("Parse(%q): %v", text, err)
	}
	return l
}

func acquire(t testing.TB, c *Cache, in interpreters.Interpreter, text string) *Lease {
	t.Helper()
	lease, err := c.Acquire(context.Background(), in, parse(t, text))
	if err != nil {
		var ie *InstallError
		if errors.As(err, &ie) {
			t.Fatalf("Acquire(%q): %v\n%s", text, err, ie.Output)
		}
		t.Fatalf("Acquire(%q): %v", text, err)
	}
	return lease
}

// runSpec is how the server runs user code: the layer (if any) mounted
// (the cache mounted read-only at LayersMount) and added like site-packages.
func (e *env) runSpec(in interpreters.Interpreter, lease *Lease, code string) jail.Spec {
	run := interpreters.Run{Entrypoint: "main.py"}
	var binds []jail.Bind
	if lease != nil {
		run.Layers = []string{lease.Path()}
		binds = []jail.Bind{lease.c.Bind()}
	}
	return jail.Spec{
		Args:   in.Command(run),
		Env:    []string{"PATH=" + in.Path(), "HOME=/tmp", "LANG=C.UTF-8"},
		Mounts: in.Mounts,
		Binds:  binds,
		Files:  []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
		Report: true,
	}
}

// run runs code with the layer of lease and returns its stdout; a non-zero
// exit fails the test.
func (e *env) run(t testing.TB, in interpreters.Interpreter, lease *Lease, code string) string {
	t.Helper()
	res, err := e.jails.Run(context.Background(), e.runSpec(in, lease, code))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if res.ExitCode != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", res.ExitCode, res.Stdout, res.Stderr)
	}
	return strings.TrimSpace(string(res.Stdout))
}

func jailFile(name, content string) jail.File {
	return jail.File{Path: name, Mode: 0o644, Data: []byte(content)}
}
