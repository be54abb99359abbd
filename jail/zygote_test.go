package jail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// zygote starts a zygote of version v for the test.
func zygote(t testing.TB, e *env, v string) *jail.Zygote {
	t.Helper()
	in, err := e.interp.Select(v)
	if err != nil {
		t.Fatal(err)
	}
	z, err := e.m.StartZygote(jail.Spec{
		Args:   in.ZygoteCommand(),
		Env:    []string{"PATH=" + in.Path(), "HOME=/tmp", "LANG=C.UTF-8"},
		Mounts: in.Mounts,
		Report: true,
		Limits: jail.Limits{Timeout: time.Hour},
	}, interpreters.WarmReady)
	if err != nil {
		t.Fatalf("start zygote: %v", err)
	}
	t.Cleanup(func() { z.Close(5 * time.Second) })
	return z
}

func zrun(t testing.TB, z *jail.Zygote, code string, l jail.Limits) jail.Result {
	t.Helper()
	j, err := z.Start(jail.Activation{
		Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
		Limits:  l,
		Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
	})
	if err != nil {
		t.Fatalf("zygote run: %v", err)
	}
	stop := time.AfterFunc(15*time.Second, func() {
		t.Errorf("zygote run hangs; zygote stderr: %q; run stderr so far %q", z.Stderr(), j.Output().Stderr)
		j.Kill()
	})
	res, err := j.Wait()
	stop.Stop()
	if err != nil {
		t.Fatalf("zygote run: %v (stderr %q)", err, res.Stderr)
	}
	return res
}

func TestZygoteRun(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	res := zrun(t, z, "import os, sys\nprint('hi', os.getpid(), os.getuid(), sys.argv)\n", jail.Limits{})
	t.Logf("stdout %q stderr %q exit %d usage %+v dur %v", res.Stdout, res.Stderr, res.ExitCode, res.Usage, res.Duration)
	if res.ExitCode != 0 || !strings.HasPrefix(string(res.Stdout), "hi 2 ") {
		t.Fatalf("run: exit %d stdout %q stderr %q", res.ExitCode, res.Stdout, res.Stderr)
	}
}

// TestZygoteImmortal: on 3.12 and later the zygote's objects are immortal
// (fewer copied pages per run); on 3.11 they are not (nothing to gain).
// The run's own objects are ordinary: counted, and freed.
func TestZygoteImmortal(t *testing.T) {
	e := testEnv(t)
	const code = `import os, sys, weakref
class C: pass
c = C()
gone = []
weakref.finalize(c, gone.append, 1)
n = sys.getrefcount(c)
del c
print(sys.getrefcount(os) == sys.getrefcount(None), sys.getrefcount(os.path.join) == sys.getrefcount(None), n, gone)
`
	for _, tc := range []struct{ version, want string }{
		{"3.11", "False False 2 [1]\n"},
		{"3.12", "True True 2 [1]\n"},
		{"3.13", "True True 2 [1]\n"},
	} {
		t.Run(tc.version, func(t *testing.T) {
			res := zrun(t, zygote(t, e, tc.version), code, jail.Limits{})
			if res.ExitCode != 0 || string(res.Stdout) != tc.want {
				t.Fatalf("exit %d stdout %q stderr %q, want %q", res.ExitCode, res.Stdout, res.Stderr, tc.want)
			}
		})
	}
}

func BenchmarkZygoteRun(b *testing.B) {
	e := testEnv(b)
	z := zygote(b, e, "3.12")
	zrun(b, z, "pass\n", jail.Limits{})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		zrun(b, z, "pass\n", jail.Limits{})
	}
}
