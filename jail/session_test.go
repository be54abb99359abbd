package jail_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// session starts a session of the test zygote z with limits l.
func session(t testing.TB, z *jail.Zygote, l jail.Limits, files ...jail.File) *jail.Session {
	t.Helper()
	if l.Timeout == 0 {
		l.Timeout = time.Hour
	}
	s, err := z.StartSession(jail.Activation{
		Files:   files,
		Limits:  l,
		Control: interpreters.EncodeRequest(interpreters.Run{}, []string{"PATH=/usr/bin:/bin", "HOME=/tmp", "LANG=C.UTF-8"}),
	}, time.Second)
	if err != nil {
		t.Fatalf("start session: %v (zygote stderr %q)", err, z.Stderr())
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// cell runs code (eval_last_expr) and fails the test when it could not run.
func cell(t testing.TB, s *jail.Session, code string, timeout time.Duration) (jail.CellResult, interpreters.Report) {
	t.Helper()
	res, err := s.Cell(context.Background(), jail.CellRequest{Code: []byte(code), EvalLast: true, Timeout: timeout})
	if err != nil {
		t.Fatalf("cell %q: %v", code, err)
	}
	rep, _ := interpreters.ParseReport(res.Report)
	return res, rep
}

func result(rep interpreters.Report) string {
	if rep.Result == nil {
		return "<none>"
	}
	return *rep.Result
}

func TestSessionCells(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{Limits: cgroup.Limits{MemoryBytes: 256 << 20, Pids: 64}},
		jail.File{Path: "data/in.txt", Mode: 0o644, Data: []byte("given\n")})

	if _, rep := cell(t, s, "x = 41", 10*time.Second); rep.ErrorType != "" {
		t.Fatalf("x = 41: %+v", rep)
	}
	res, rep := cell(t, s, "print('out'); import sys; print('err', file=sys.stderr)\nx + 1", 10*time.Second)
	if got := result(rep); got != "42" || string(res.Stdout) != "out\n" || string(res.Stderr) != "err\n" || res.ExitCode != 0 {
		t.Fatalf("x + 1: result %s stdout %q stderr %q exit %d", got, res.Stdout, res.Stderr, res.ExitCode)
	}
	// Each cell's output is its own; an exception is the cell's, not the session's.
	res, rep = cell(t, s, "def f():\n    return 1 / 0\nf()", 10*time.Second)
	if res.ExitCode != 1 || rep.ErrorType != "ZeroDivisionError" || rep.ErrorLine != 2 ||
		!strings.Contains(string(res.Stderr), "return 1 / 0") || len(res.Stdout) != 0 {
		t.Fatalf("raising cell: exit %d report %+v stderr %q stdout %q", res.ExitCode, rep, res.Stderr, res.Stdout)
	}
	if _, rep = cell(t, s, "open('data/in.txt').read() + str(x)", 10*time.Second); result(rep) != `'given\n41'` {
		t.Fatalf("file given at the start: %s", result(rep))
	}
	res, err := s.Cell(context.Background(), jail.CellRequest{Code: []byte("input() + input()"), EvalLast: true, Stdin: []byte("a\nb\n"), Timeout: 10 * time.Second})
	if rep, _ = interpreters.ParseReport(res.Report); err != nil || result(rep) != "'ab'" {
		t.Fatalf("stdin: %v %s", err, result(rep))
	}

	// Files in and out, resolved inside the jail.
	ctx := context.Background()
	if err := s.PutFile(ctx, "up/deep/a.txt", 0o600, []byte("uploaded")); err != nil {
		t.Fatalf("put: %v", err)
	}
	cell(t, s, "import os\nopen('made.txt', 'w').write(open('up/deep/a.txt').read() + '!')\nos.symlink('/etc/passwd', 'link')\nos.symlink('/', 'rootlink')", 10*time.Second)
	if b, err := s.GetFile(ctx, "made.txt", 1<<20); err != nil || string(b) != "uploaded!" {
		t.Fatalf("get made.txt: %q %v", b, err)
	}
	var se *jail.SessionError
	for _, p := range []string{"link", "rootlink/etc/passwd", "nope", "up"} {
		if b, err := s.GetFile(ctx, p, 1<<20); !errors.As(err, &se) {
			t.Errorf("get %s: %q %v, want a refusal", p, b, err)
		} else {
			t.Logf("get %s: %v", p, err)
		}
	}
	if err := s.PutFile(ctx, "rootlink/tmp/x", 0o644, []byte("x")); !errors.As(err, &se) {
		t.Errorf("put through a link: %v, want a refusal", err)
	}
	if _, err := s.GetFile(ctx, "made.txt", 3); !errors.Is(err, jail.ErrFileTooLarge) {
		t.Errorf("get past max: %v", err)
	}
	list, err := s.ListFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, f := range list {
		kinds[f.Path] = f.Kind
	}
	if kinds["made.txt"] != "file" || kinds["up/deep"] != "dir" || kinds["link"] != "symlink" {
		t.Errorf("list: %+v", list)
	}
	// The session still works after the refusals.
	if _, rep = cell(t, s, "x", 10*time.Second); result(rep) != "41" {
		t.Fatalf("after files: %s", result(rep))
	}
}

func TestSessionInterrupt(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{})
	cell(t, s, "state = [1, 2, 3]", 10*time.Second)
	start := time.Now()
	res, rep := cell(t, s, "print('looping', flush=True)\nwhile True:\n    pass", time.Second)
	took := time.Since(start)
	if !res.TimedOut || res.Ended || rep.ErrorType != "KeyboardInterrupt" || res.ExitCode != 130 ||
		!strings.Contains(string(res.Stdout), "looping") {
		t.Fatalf("interrupted cell: %+v report %+v stderr %q", res, rep, res.Stderr)
	}
	t.Logf("interrupted after %v: stderr %q", took, res.Stderr)
	if _, rep = cell(t, s, "len(state)", 10*time.Second); result(rep) != "3" {
		t.Fatalf("state after the interrupt: %s %+v", result(rep), rep)
	}

	// One that ignores KeyboardInterrupt ends the session after the grace.
	res, _ = cell(t, s, "import time\nwhile True:\n    try:\n        time.sleep(10)\n    except KeyboardInterrupt:\n        pass", time.Second)
	if !res.Ended || !res.TimedOut {
		t.Fatalf("stubborn cell: %+v", res)
	}
	end := s.End()
	if !end.Result.Killed || !strings.Contains(end.Reason, "did not stop within 1s") {
		t.Fatalf("end: %+v", end)
	}
	if _, err := s.Cell(context.Background(), jail.CellRequest{Code: []byte("1"), EvalLast: true, Timeout: time.Second}); !errors.Is(err, jail.ErrSessionEnded) {
		t.Fatalf("cell after the end: %v", err)
	}
}

func TestSessionEnds(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	t.Run("exit", func(t *testing.T) {
		s := session(t, z, jail.Limits{})
		res, _ := cell(t, s, "print('bye')\nraise SystemExit(7)", 10*time.Second)
		if !res.Ended || res.ExitCode != 7 || string(res.Stdout) != "bye\n" {
			t.Fatalf("exit: %+v", res)
		}
		if end := s.End(); end.Result.ExitCode != 7 || end.Reason != "" {
			t.Fatalf("end %+v", end)
		}
	})
	t.Run("oom", func(t *testing.T) {
		s := session(t, z, jail.Limits{Limits: cgroup.Limits{MemoryBytes: 64 << 20}})
		cell(t, s, "small = bytearray(8 << 20)", 10*time.Second)
		res, _ := cell(t, s, "big = bytearray(300 << 20)", 10*time.Second)
		if !res.Ended || !res.OOMKilled {
			t.Fatalf("oom: %+v", res)
		}
		if end := s.End(); !end.Result.OOMKilled {
			t.Fatalf("end %+v", end)
		}
	})
	t.Run("close", func(t *testing.T) {
		s := session(t, z, jail.Limits{})
		cell(t, s, "import subprocess\np = subprocess.Popen(['sleep', '100'])", 10*time.Second)
		end := s.Close()
		if end.Reason != "closed" || !end.Result.Killed {
			t.Fatalf("close: %+v", end)
		}
	})
}

// A 5 MB structure built in one cell is used in the next without being
// built again (the figures are reported, not asserted).
func TestSessionKeepsData(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{Limits: cgroup.Limits{MemoryBytes: 512 << 20}})
	build, rep := cell(t, s, "import sys\ndata = {i: 'v%07d' % i for i in range(60000)}\nrows = [list(range(20)) for _ in range(2000)]\nsum(sys.getsizeof(v) for v in data.values()) + sys.getsizeof(data) > 5_000_000", 30*time.Second)
	if result(rep) != "True" {
		t.Fatalf("build: %s %q", result(rep), build.Stderr)
	}
	use, rep := cell(t, s, "len(data) + len(rows)", 10*time.Second)
	if result(rep) != "62000" {
		t.Fatalf("use: %s", result(rep))
	}
	t.Logf("build cell %v (cpu %v), use cell %v (cpu %v)", build.Duration, build.CPU, use.Duration, use.CPU)
}

// Cells run one at a time: a second one waits for the first; ending a
// cell's context interrupts it.
func TestSessionCellsWait(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{})
	first := make(chan jail.CellResult, 1)
	go func() {
		res, _ := s.Cell(context.Background(), jail.CellRequest{Code: []byte("import time\ntime.sleep(0.5)\norder = ['first']"), EvalLast: true, Timeout: 10 * time.Second})
		first <- res
	}()
	time.Sleep(100 * time.Millisecond)
	_, rep := cell(t, s, "order.append('second'); order", 10*time.Second)
	if got := result(rep); got != "['first', 'second']" {
		t.Fatalf("second cell saw %s", got)
	}
	if res := <-first; res.ExitCode != 0 {
		t.Fatalf("first cell: %+v", res)
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	res, err := s.Cell(ctx, jail.CellRequest{Code: []byte("import time\ntime.sleep(30)"), EvalLast: true, Timeout: time.Minute})
	if rep, _ := interpreters.ParseReport(res.Report); err != nil || !res.Interrupted || res.Ended || rep.ErrorType != "KeyboardInterrupt" {
		t.Fatalf("cancelled cell: %v %+v", err, res)
	}
	if _, rep := cell(t, s, "len(order)", 10*time.Second); result(rep) != "2" {
		t.Fatalf("after the cancel: %s", result(rep))
	}
}

// The pids limit holds for the session as a whole: processes a cell left
// running count against the next cell's.
func TestSessionPidsLimit(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{Limits: cgroup.Limits{Pids: 24}})
	_, rep := cell(t, s, "import subprocess\nkids = [subprocess.Popen(['sleep', '60']) for _ in range(16)]\nlen(kids)", 10*time.Second)
	if result(rep) != "16" {
		t.Fatalf("first cell: %+v", rep)
	}
	res, rep := cell(t, s, "import subprocess\nmore = []\ntry:\n    for _ in range(16):\n        more.append(subprocess.Popen(['sleep', '60']))\nexcept OSError as e:\n    print('refused', type(e).__name__)\nlen(more)", 10*time.Second)
	if !strings.Contains(string(res.Stdout), "refused") || result(rep) == "16" {
		t.Fatalf("second cell started %s more (stdout %q, stderr %q)", result(rep), res.Stdout, res.Stderr)
	}
	t.Logf("second cell: %s more, %q", result(rep), res.Stdout)
}

// TestSessionCellOutput: a cell's Output gets its stdout and stderr as
// the code writes them: together, exactly what the result holds.
func TestSessionCellOutput(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{Limits: cgroup.Limits{MemoryBytes: 256 << 20, Pids: 64}})
	var mu sync.Mutex
	var out, errs []byte
	first := make(chan time.Time, 1)
	code := "import sys, time\nprint('a', flush=True)\ntime.sleep(0.5)\nprint('b', file=sys.stderr)\nprint('c')"
	start := time.Now()
	res, err := s.Cell(context.Background(), jail.CellRequest{Code: []byte(code), Timeout: 10 * time.Second,
		Output: func(stderr bool, b []byte) {
			mu.Lock()
			defer mu.Unlock()
			if stderr {
				errs = append(errs, b...)
				return
			}
			if len(out) == 0 {
				first <- time.Now()
			}
			out = append(out, b...)
		}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if string(out) != "a\nc\n" || string(errs) != "b\n" || string(res.Stdout) != string(out) || string(res.Stderr) != string(errs) {
		t.Fatalf("streamed %q %q, result %q %q", out, errs, res.Stdout, res.Stderr)
	}
	if at := <-first; at.Sub(start) >= res.Duration {
		t.Errorf("the first chunk came %s after the start of a %s cell: not live", at.Sub(start), res.Duration)
	} else {
		t.Logf("first chunk %s after the start of a %s cell", at.Sub(start).Round(time.Millisecond), res.Duration.Round(time.Millisecond))
	}
}

// TestSessionCellPeak: where the cgroup can restart its peak, a cell's
// MemoryPeak is its own: a small cell after a large one reports less,
// while the session's peak keeps the large one.
func TestSessionCellPeak(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	s := session(t, z, jail.Limits{Limits: cgroup.Limits{MemoryBytes: 512 << 20, Pids: 64}})
	big, _ := cell(t, s, "b = b'x' * (200 << 20)\ndel b", 10*time.Second)
	small, _ := cell(t, s, "x = 1", 10*time.Second)
	_, session, _, err := s.Usage()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("big cell %d MiB (own %v), small cell %d MiB (own %v), session %d MiB",
		big.MemoryPeak>>20, big.OwnPeak, small.MemoryPeak>>20, small.OwnPeak, session>>20)
	if big.MemoryPeak < 200<<20 || session < big.MemoryPeak {
		t.Fatalf("big cell's peak %d, session's %d: want both >= 200 MiB", big.MemoryPeak, session)
	}
	switch {
	case !small.OwnPeak && small.MemoryPeak < big.MemoryPeak:
		// v2 before kernel 6.12 cannot restart a peak: cells report the session's.
		t.Errorf("small cell reports %d MiB, neither its own peak nor the session's", small.MemoryPeak>>20)
	case small.OwnPeak && small.MemoryPeak >= 100<<20:
		t.Errorf("small cell's own peak is %d MiB, after a 200 MiB cell freed its memory", small.MemoryPeak>>20)
	}
	end := s.Close()
	if end.Result.Usage.MemoryPeak < 200<<20 {
		t.Errorf("the ended session's peak %d MiB, want >= 200 MiB", end.Result.Usage.MemoryPeak>>20)
	}
}
