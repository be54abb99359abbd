package jail_test

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// reportPercentiles adds p50/p90 (ms) of ds to b's output.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	b.Helper()
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(p float64) float64 {
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.9), "p90-ms")
}

// BenchmarkBarePython is the floor: the same interpreter without a jail.
func BenchmarkBarePython(b *testing.B) {
	e := testEnv(b)
	in, _ := e.interp.Select("3.12")
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		if err := exec.Command(in.Executable, "-c", "pass").Run(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
	}
	reportPercentiles(b, ds)
}

// BenchmarkColdJail is a trivial run in a fresh jail: create, run, wait,
// destroy. p50-ms is wall time of the whole Run call.
func BenchmarkColdJail(b *testing.B) {
	e := testEnv(b)
	spec := e.python(b, "3.12", "pass")
	var ds, runs []time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := e.m.Run(context.Background(), spec)
		if err != nil || res.ExitCode != 0 {
			b.Fatalf("err %v exit %d stderr %s", err, res.ExitCode, res.Stderr)
		}
		ds = append(ds, time.Since(start))
		runs = append(runs, res.Duration)
	}
	reportPercentiles(b, ds)
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "start-to-exit-p50-ms")
}

// BenchmarkWarmJail hands a trivial run to a pooled jail whose Python is
// already started. p50-ms is the server-side time from taking the jail to
// its result; the pool refills between iterations (off the clock).
func BenchmarkWarmJail(b *testing.B) {
	e := testEnv(b)
	in, _ := e.interp.Select("3.12")
	tmpl := e.python(b, "3.12", "")
	tmpl.Args = in.WarmCommand()
	pool, err := e.m.NewPool([]jail.Template{{Key: "3.12", Spec: tmpl, Size: 1, Ready: interpreters.WarmReady}}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	run := interpreters.Run{Entrypoint: "main.py"}
	files := []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte("pass")}}
	var ds, runs []time.Duration
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		waitReady(b, pool)
		b.StartTimer()
		start := time.Now()
		res, ok, err := pool.Run(context.Background(), "3.12", jail.Activation{
			Files: files, Control: interpreters.EncodeRequest(run, tmpl.Env),
		})
		if err != nil || !ok || res.ExitCode != 0 {
			b.Fatalf("ok %v err %v exit %d stderr %s", ok, err, res.ExitCode, res.Stderr)
		}
		ds = append(ds, time.Since(start))
		runs = append(runs, res.Duration)
		b.StopTimer()
	}
	reportPercentiles(b, ds)
	slices.Sort(runs)
	b.ReportMetric(float64(runs[len(runs)/2].Microseconds())/1000, "activate-to-exit-p50-ms")
}

func waitReady(tb testing.TB, p *jail.Pool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st := p.Status(); len(st) == 1 && st[0].Ready == st[0].Size {
			return
		}
		time.Sleep(time.Millisecond)
	}
	tb.Fatal("pool did not fill in 10 s")
}
