package jail_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

func TestMain(m *testing.M) {
	jail.Init()
	if os.Getenv(rootlessTestEnv) == "1" {
		if _, inside := jail.RootlessOwner(); !inside {
			os.Exit(enterRootlessTests())
		}
		if err := setUpRootlessTests(); err != nil {
			fmt.Fprintln(os.Stderr, "rootless jail tests:", err)
			os.Exit(1)
		}
	}
	if os.Geteuid() == 0 {
		if err := jail.ReexecSealed(); err != nil {
			fmt.Fprintln(os.Stderr, "warning:", err)
		}
	}
	if os.Getenv(crashChildEnv) != "" {
		crashChild() // never returns
	}
	code := m.Run()
	if shared != nil {
		// Closing waits for the jails' removal; then the parent group,
		// now empty, goes too.
		if err := shared.m.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "jail manager close:", err)
			code = 1
		}
		if err := shared.cg.RemoveParent(); err != nil {
			fmt.Fprintln(os.Stderr, "jail tests:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// requireJail skips a test that needs root, namespaces and cgroups on a
// machine without them, and fails it under CI=true, where it must run.
func requireJail(t testing.TB) {
	t.Helper()
	jailtest.Require(t, "jail tests")
}

type env struct {
	m      *jail.Manager
	cg     *cgroup.Manager
	interp *interpreters.Set
	state  string
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

// testEnv returns the package's one Manager (the state dir is locked by one
// Manager at a time).
func testEnv(t testing.TB) *env {
	t.Helper()
	requireJail(t)
	envOnce.Do(func() {
		set, err := interpreters.Discover(context.Background(), interpreters.Options{
			System: true, Paths: relocated, BaseMounts: jail.DefaultBaseMounts(), Env: os.Environ(),
		})
		if err != nil {
			envErr = err
			return
		}
		cg, err := cgroup.NewManager(testCgroupParent("pyexec-test"))
		if err != nil {
			envErr = err
			return
		}
		state := testStateDir("pyexec-test")
		m, err := jail.New(jail.Config{
			StateDir: state, HostIDBase: testIDBase, HostIDCount: idCount(), Mounts: set.Mounts(),
			ZygoteCgroupJoiner: rootless && cg.Mode() != cgroup.ModeUnified,
			AllowInotify:       true, // TestPerJailBudgets hoards inotify instances
			Files:              map[string][]byte{interpreters.BootstrapPath: interpreters.Bootstrap},
			Logger:             slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		}, cg)
		if err != nil {
			_ = cg.RemoveParent()
			envErr = err
			return
		}
		shared = &env{m: m, cg: cg, interp: set, state: state}
	})
	if envErr != nil {
		t.Fatalf("jail setup: %v", envErr)
	}
	return shared
}

// python builds a spec that runs code as /work/main.py with version v.
func (e *env) python(t testing.TB, v, code string, args ...string) jail.Spec {
	t.Helper()
	in, err := e.interp.Select(v)
	if err != nil {
		t.Fatal(err)
	}
	return jail.Spec{
		Args:   in.Command(interpreters.Run{Entrypoint: "main.py", Args: args}),
		Env:    []string{"PATH=" + in.Path(), "HOME=/tmp", "LANG=C.UTF-8"},
		Mounts: in.Mounts,
		Files:  []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
		Report: true,
		Status: true, // as the server runs them: the command's -t
	}
}

func run(t testing.TB, e *env, spec jail.Spec) jail.Result {
	t.Helper()
	res, err := e.m.Run(context.Background(), spec)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestSmoke(t *testing.T) {
	e := testEnv(t)
	res := run(t, e, e.python(t, "3.12", "import sys\nprint('hi', sys.version_info[:2])"))
	if strings.TrimSpace(string(res.Stdout)) != "hi (3, 12)" || res.ExitCode != 0 {
		t.Fatalf("got exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
	t.Logf("duration %v usage %+v", res.Duration, res.Usage)
}
