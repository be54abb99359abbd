package jail_test

import (
	"context"
	"os/exec"
	"slices"
	"testing"
	"time"
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
