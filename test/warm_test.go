package test

// The warm pool: warm and cold runs are indistinguishable, a long mixed load
// through the pool leaves nothing, and a server killed with a full pool is
// swept by the next start.

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// health fetches /health.
func (s *Server) health(t testing.TB) api.Health {
	t.Helper()
	r := s.do(t, http.MethodGet, "/health", "", nil)
	return decode[api.Health](t, r.Body)
}

// waitWarm waits until the pool of the default interpreter is full.
func (s *Server) waitWarm(t testing.TB) api.PoolSlot {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		h := s.health(t)
		if len(h.Pool) > 0 && h.Pool[0].Ready == h.Pool[0].Size {
			return h.Pool[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool not full after 20 s: %+v", h.Pool)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitZygote waits until the default interpreter's zygote serves, and
// returns how many runs it forked so far.
func (s *Server) waitZygote(t testing.TB) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, z := range s.health(t).Zygotes {
			if z.Running && strings.HasPrefix(z.Version, "3.12.") {
				return z.Served
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3.12 zygote running after 30 s: %+v", s.health(t).Zygotes)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// verdict is what must be identical between the warm and the cold path.
type verdict struct {
	Status, Stdout, Stderr, Error, ErrorType string
	ExitCode, ErrorLine                      int
	Result                                   string
	TimedOut, OOMKilled                      bool
}

func verdictOf(e api.Execution) verdict {
	v := verdict{Status: e.Status, Stdout: e.Stdout, Stderr: e.Stderr, Error: e.Error,
		ErrorType: e.ErrorType, Result: string(e.Result), TimedOut: e.TimedOut, OOMKilled: e.OOMKilled}
	if e.ExitCode != nil {
		v.ExitCode = *e.ExitCode
	}
	if e.ErrorLine != nil {
		v.ErrorLine = *e.ErrorLine
	}
	return v
}

// forkThroughScript forks a child that runs on to the program's end (it
// does not call os._exit); the run's end is the parent's, after it.
const forkThroughScript = `import os, sys, time
pid = os.fork()
if pid == 0:
    print("child", flush=True)
else:
    os.waitpid(pid, 0)
    time.sleep(0.2)
    print("parent", flush=True)
    sys.exit(3)
`

// wantVerdict is what the equivalence cases whose verdict is not obvious
// from comparing the paths must give, by case name.
var wantVerdict = map[string]verdict{
	"os.fork, the child runs to the end": {Stdout: "child\nparent\n", ExitCode: 3},
	"sys.exit(3)":                        {Stdout: "out\n", ExitCode: 3},
}

// probeScript prints everything a script can learn about how it was started.
const probeScript = `import sys, os, json
print(json.dumps({
    "argv": sys.argv, "file": __file__, "name": __name__, "path0": sys.path[0],
    "cwd": os.getcwd(), "stdin": sys.stdin.read(), "env": dict(sorted(os.environ.items())),
    "flags_unbuffered": sys.flags.unbuffered, "main_keys": sorted(k for k in globals() if k.startswith("__")),
    "builtins_is_module": type(__builtins__).__name__, "loader": type(__loader__).__name__, "spec": repr(__spec__),
    "encoding": sys.stdout.encoding, "fs": sys.getfilesystemencoding(), "uid": os.getuid(), "umask": os.umask(0o22),
}, sort_keys=True))
`

// treeScript lists /work's tree: names, sizes, modes.
const treeScript = `import os
n, size, dirs = 0, 0, set()
for root, ds, fs in os.walk("/work"):
    dirs.update(os.path.join(root, d) for d in ds)
    for f in fs:
        st = os.stat(os.path.join(root, f))
        n, size = n + 1, size + st.st_size
print(n, size, len(dirs), sorted({oct(os.stat(d).st_mode) for d in dirs}))
`

// orphanScript leaves a grandchild orphaned (its parent exits first) and
// counts zombies once it has ended: pid 1 reaps them, as an init does.
const orphanScript = `import os, time
r, w = os.pipe()
if os.fork() == 0:
    if os.fork() == 0:
        os.close(r)
        time.sleep(0.2)
        os._exit(0)
    os._exit(0)
os.close(w)
os.wait()
os.read(r, 1)  # the grandchild's end closes it
time.sleep(0.3)
zombies = 0
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            with open("/proc/%s/stat" % p) as f:
                zombies += f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            pass
print("zombies", zombies)
`

// TestWarmColdEquivalence: a run in a pooled jail and a run forked from a
// zygote give the same record as a run in a fresh container.
func TestWarmColdEquivalence(t *testing.T) {
	cold := startServer(t, "PYEXEC_POOL_SIZES=3.12=0", "PYEXEC_ZYGOTE_ENABLED=false")
	warm := startServer(t, "PYEXEC_POOL_SIZES=3.12=1", "PYEXEC_ZYGOTE_ENABLED=false")
	zyg := startServer(t, "PYEXEC_POOL_SIZES=3.12=0")
	pkg := map[string]string{
		"main.py":         "from pkg.a import value\nimport helper\nprint(value(), helper.twice(4))\nhelper.boom()\n",
		"helper.py":       "def twice(x):\n    return 2 * x\n\ndef boom():\n    raise KeyError('k')\n",
		"pkg/__init__.py": "",
		"pkg/a.py":        "from .b import BASE\n\ndef value():\n    return BASE + 1\n",
		"pkg/b.py":        "BASE = 41\n",
	}
	tree := map[string]string{"main.py": treeScript}
	for i := range 1000 {
		tree[fmt.Sprintf("data/d%02d/f%04d.txt", i%25, i)] = strings.Repeat("x", i%97)
	}
	cases := []struct {
		name  string
		files map[string]string
		meta  api.Metadata
	}{
		{"argv env stdin file", map[string]string{"main.py": probeScript},
			api.Metadata{Entrypoint: "main.py", ScriptArgs: []string{"a b", "--x", "ünï"}, EnvVars: []string{"FOO=bar=baz", "GREETING=hi there"}, Stdin: "line1\nline2\n"}},
		{"entrypoint in a subdirectory", map[string]string{"sub/run.py": probeScript},
			api.Metadata{Entrypoint: "sub/run.py"}},
		{"relative imports and traceback", pkg, api.Metadata{Entrypoint: "main.py"}},
		{"sys.exit(3)", map[string]string{"main.py": "import sys\nprint('out')\nsys.exit(3)\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"sys.exit(message)", map[string]string{"main.py": "raise SystemExit('bye')\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"uncaught exception", map[string]string{"main.py": "x = 1\n\ny = x / 0\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"syntax error", map[string]string{"main.py": "print('a'\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"atexit, threads, __del__", map[string]string{"main.py": "import atexit, threading, time\natexit.register(print, 'atexit')\nclass A:\n    def __del__(self):\n        print('del')\na = A()\nthreading.Thread(target=lambda: (time.sleep(0.1), print('thread'))).start()\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"subprocess", map[string]string{"main.py": "import subprocess, sys\nprint(subprocess.run([sys.executable, '-c', 'import os; print(os.getcwd(), os.environ.get(\"FOO\"))'], capture_output=True, text=True).stdout, end='')\n"},
			api.Metadata{Entrypoint: "main.py", EnvVars: []string{"FOO=1"}}},
		{"timeout", map[string]string{"main.py": "import time\nprint('before', flush=True)\ntime.sleep(30)\n"},
			api.Metadata{Entrypoint: "main.py", Config: &api.Config{TimeoutSeconds: ptr(1)}}},
		{"oom", map[string]string{"main.py": "print('before', flush=True)\nx = bytearray(300 << 20)\n"},
			api.Metadata{Entrypoint: "main.py", Config: &api.Config{MemoryMB: ptr(48)}}},
		{"pre_commands", map[string]string{"main.py": "print(open('/work/pre.txt').read(), end='')\n"},
			api.Metadata{Entrypoint: "main.py", PreCommands: []string{"echo pre > /work/pre.txt"}}},
		{"SIGTERM to itself", map[string]string{"main.py": "import os, signal\nprint('before', flush=True)\nos.kill(os.getpid(), signal.SIGTERM)\nprint('after')\n"},
			api.Metadata{Entrypoint: "main.py"}},
		{"KeyboardInterrupt", map[string]string{"main.py": "print('before', flush=True)\nraise KeyboardInterrupt\n"}, api.Metadata{Entrypoint: "main.py"}},
		{"os.fork", map[string]string{"main.py": "import os\npid = os.fork()\nif pid == 0:\n    print('child', os.getppid() != 0, flush=True)\n    os._exit(7)\n_, st = os.waitpid(pid, 0)\nprint('parent', os.waitstatus_to_exitcode(st))\n"},
			api.Metadata{Entrypoint: "main.py"}},
		{"os.fork, the child runs to the end", map[string]string{"main.py": forkThroughScript}, api.Metadata{Entrypoint: "main.py"}},
		{"orphans reaped", map[string]string{"main.py": orphanScript}, api.Metadata{Entrypoint: "main.py"}},
		{"multiprocessing", map[string]string{"main.py": "import multiprocessing as mp\n\ndef sq(x):\n    return x * x\n\nif __name__ == '__main__':\n    with mp.Pool(2) as p:\n        print(p.map(sq, range(5)))\n    q = mp.Queue()\n    pr = mp.Process(target=q.put, args=('from a process',))\n    pr.start(); print(q.get()); pr.join(); print('exit', pr.exitcode)\n"},
			api.Metadata{Entrypoint: "main.py"}},
		{"1000-file tree", tree, api.Metadata{Entrypoint: "main.py"}},
		{"big stdin", map[string]string{"main.py": "import sys, hashlib\nb = sys.stdin.buffer.read()\nprint(len(b), hashlib.sha256(b).hexdigest())\n"},
			api.Metadata{Entrypoint: "main.py", Stdin: strings.Repeat("0123456789abcdef", 1<<15)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, coldRaw := cold.execSync(t, tc.files, tc.meta)
			before := warm.waitWarm(t)
			_, warmRaw := warm.execSync(t, tc.files, tc.meta)
			after := warm.health(t).Pool[0]
			if after.Served != before.Served+1 {
				t.Fatalf("the warm server did not run this in a pooled jail: served %d -> %d", before.Served, after.Served)
			}
			zBefore := zyg.waitZygote(t)
			_, zygRaw := zyg.execSync(t, tc.files, tc.meta)
			if zAfter := zyg.waitZygote(t); zAfter != zBefore+1 {
				t.Fatalf("the zygote server did not fork this: served %d -> %d", zBefore, zAfter)
			}
			c, w := verdictOf(decode[api.Execution](t, coldRaw)), verdictOf(decode[api.Execution](t, warmRaw))
			z := verdictOf(decode[api.Execution](t, zygRaw))
			if c != w {
				t.Fatalf("cold and warm differ:\ncold %+v\nwarm %+v", c, w)
			}
			if c != z {
				t.Fatalf("cold and zygote differ:\ncold   %+v\nzygote %+v", c, z)
			}
			if c.Status == "" || (c.Stdout == "" && c.Stderr == "") {
				t.Fatalf("empty verdict: %+v", c)
			}
			if w, ok := wantVerdict[tc.name]; ok && (c.Stdout != w.Stdout || c.ExitCode != w.ExitCode) {
				t.Fatalf("got stdout %q exit %d, want %q exit %d", c.Stdout, c.ExitCode, w.Stdout, w.ExitCode)
			}
		})
	}
	t.Run("eval_last_expr", func(t *testing.T) {
		req := api.EvalRequest{Code: "print('x')\nimport math\nmath.sqrt(16)", EvalLastExpr: true}
		c := cold.eval(t, req)
		warm.waitWarm(t)
		w := warm.eval(t, req)
		zyg.waitZygote(t)
		z := zyg.eval(t, req)
		if verdictOf(c) != verdictOf(w) || verdictOf(c) != verdictOf(z) || resultOf(w) != "4.0" {
			t.Fatalf("cold %+v\nwarm %+v\nzygote %+v", verdictOf(c), verdictOf(w), verdictOf(z))
		}
	})
}

func TestWarmPoolMixedLoad(t *testing.T) {
	s := startServer(t, "PYEXEC_POOL_SIZES=3.12=2", "PYEXEC_ZYGOTE_ENABLED=false")
	runs := 2000
	if testing.Short() {
		runs = 200
	}
	kinds := []struct {
		code   string
		config *api.Config
		want   string // status
		kill   bool
	}{
		{code: "print('ok')", want: api.StatusCompleted},
		{code: "import sys\nsys.exit(2)", want: api.StatusCompleted},
		{code: "raise ValueError('x')", want: api.StatusCompleted},
		{code: "import subprocess\nsubprocess.Popen(['/bin/sleep', '60'])\nprint('left a child')", want: api.StatusCompleted},
		{code: "print('ok')", want: api.StatusCompleted},
		{code: "x = bytearray(100 << 20)", config: &api.Config{MemoryMB: ptr(32)}, want: api.StatusFailed},
		{code: "print('ok')", want: api.StatusCompleted},
		{code: "print('ok')", want: api.StatusCompleted},
		{code: "import time\nprint('up', flush=True)\ntime.sleep(60)", want: api.StatusKilled, kill: true},
		{code: "print('ok')", want: api.StatusCompleted},
	}
	var mu sync.Mutex
	counts := map[string]int{}
	errs := make(chan string, runs)
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < runs; i++ {
		k := kinds[i%len(kinds)]
		if i%100 == 99 { // a few timeouts, kept rare: each costs a second
			k.code, k.config, k.want, k.kill = "import time\ntime.sleep(60)", &api.Config{TimeoutSeconds: ptr(1)}, api.StatusFailed, false
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var e api.Execution
			if k.kill {
				id := s.execAsync(t, map[string]string{"main.py": k.code}, api.Metadata{Entrypoint: "main.py"})
				time.Sleep(150 * time.Millisecond)
				s.kill(t, id)
				e = s.waitDone(t, id)
			} else {
				status, raw := s.postJSON(t, "/api/v1/eval", api.EvalRequest{Code: k.code, Config: k.config})
				if status != http.StatusOK {
					errs <- fmt.Sprintf("status %d: %s", status, raw)
					return
				}
				e = decode[api.Execution](t, raw)
			}
			if e.Status != k.want {
				errs <- fmt.Sprintf("%q: %s", k.code, describe(e))
			}
			mu.Lock()
			counts[e.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for e := range errs {
		if n++; n <= 10 {
			t.Error(e)
		}
	}
	pool := s.health(t).Pool[0]
	t.Logf("%d runs in %v: %v; pool served %d, missed %d", runs, time.Since(start).Round(time.Millisecond), counts, pool.Served, pool.Missed)
	if pool.Served == 0 {
		t.Error("no run went through the pool")
	}
	// Between runs only the pool's ready jails may exist.
	s.waitWarm(t)
	var ready []string
	for _, p := range s.jailProcs() {
		if !strings.HasSuffix(p, ":python3.12") {
			ready = append(ready, p)
		}
	}
	if len(ready) > 0 {
		t.Errorf("processes other than the pooled interpreters: %v", ready)
	}
	// startServer's cleanup stops the server and checks that nothing is left.
}

func TestSIGKILLWithFullPool(t *testing.T) {
	s := startServer(t, "PYEXEC_POOL_SIZES=3.12=3,3.11=1")
	s.waitWarm(t)
	// One run in flight too.
	id := s.execAsync(t, map[string]string{"main.py": "import time\nprint('up', flush=True)\ntime.sleep(60)"}, api.Metadata{Entrypoint: "main.py"})
	for {
		if _, e := s.get(t, id, 0); e.Status == api.StatusRunning {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	if procs := s.jailProcs(); len(procs) < 5 {
		t.Fatalf("want >= 5 jail processes (4 pooled, 1 running), have %v", procs)
	}
	zygotes := jailtest.ZygoteTraces(s.StateDir, s.CgroupParent)
	if len(zygotes) == 0 {
		t.Fatal("no zygote: the sweep of zygotes is not tested")
	}
	if _, ok := s.signal(syscall.SIGKILL, 5*time.Second); !ok {
		t.Fatal("pyexecd did not die of SIGKILL")
	}
	// The jails, the zygotes and their runs, and the user namespace holders
	// die with the server.
	if procs := rlWaitEmpty(s.serverProcs, 3*time.Second); len(procs) > 0 {
		t.Fatalf("jail processes outlived the server: %v", procs)
	}
	left := s.leftovers()
	if len(left) == 0 {
		t.Fatal("the killed server left nothing: the sweep is not tested")
	}
	t.Logf("the killed server left %d traces", len(left))
	// A new server on the same state dir sweeps them at start-up.
	if err := s.start([]string{"PYEXEC_POOL_SIZES=3.12=0"}); err != nil {
		t.Fatal(err)
	}
	// The new server's own jails starting (a zygote's runc:[1:CHILD])
	// are not leftovers: wait for what the sweep must have removed.
	if left := rlWaitEmpty(s.leftovers, leftoverSettle); len(left) > 0 {
		t.Fatalf("after restart, still there: %v", left)
	}
	now := jailtest.ZygoteTraces(s.StateDir, s.CgroupParent)
	for _, z := range zygotes {
		if slices.Contains(now, z) {
			t.Errorf("the dead server's zygote is still there after the restart: %s", z)
		}
	}
	e := s.eval(t, api.EvalRequest{Code: "print('alive')"})
	if e.Stdout != "alive\n" {
		t.Fatalf("restarted server: %s", describe(e))
	}
}
