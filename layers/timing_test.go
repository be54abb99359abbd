package layers

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters/requirements"
)

// TestTimings logs what requirements cost a run, measured the way the
// server's runner pays it (parse, key, layer lookup, jail with the layer
// mounted, release): the first, building run; then cached runs
// interleaved with runs without requirements. Timings are reported, not
// asserted, and cost some 130 jail runs, so the test is opt-in:
//
//	PYEXEC_TIMINGS=1 CGO_ENABLED=1 go test -tags seccomp -count=1 -run TestTimings -v ./layers/
func TestTimings(t *testing.T) {
	if testing.Short() || os.Getenv("PYEXEC_TIMINGS") == "" {
		t.Skip("timing report, opt-in: PYEXEC_TIMINGS=1 (not a CI test: it asserts nothing; skipped under testing.Short too)")
	}
	e := testEnv(t)
	in := e.python(t, "3.12")
	c := e.cache(t, e.config(t))
	const text, code, rounds = "pyx-app\npyx-pth", "print(1)", 40

	// run is one job: requirements (maybe none) to output.
	run := func(text, code string) (wall, jail time.Duration) {
		start := time.Now()
		reqs, err := requirements.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		var lease *Lease
		if !reqs.Empty() {
			if lease, err = c.Acquire(context.Background(), in, reqs); err != nil {
				t.Fatal(err)
			}
		}
		res, err := e.jails.Run(context.Background(), e.runSpec(in, lease, code))
		if lease != nil {
			lease.Release()
		}
		wall = time.Since(start)
		if err != nil || res.ExitCode != 0 {
			t.Fatalf("run: %v exit %d %s", err, res.ExitCode, res.Stderr)
		}
		return wall, res.Duration
	}

	for range 3 { // warm the page cache and the jail machinery
		run("", code)
	}
	first, _ := run(text, code)

	// Rounds alternate which of the two runs first; paired differences
	// cancel most of the machine's drift.
	var none, cached, noneJail, cachedJail, imported, diffs []time.Duration
	for i := range rounds {
		var wn, jn, wc, jc time.Duration
		if i%2 == 0 {
			wn, jn = run("", code)
			wc, jc = run(text, code)
		} else {
			wc, jc = run(text, code)
			wn, jn = run("", code)
		}
		none, noneJail = append(none, wn), append(noneJail, jn)
		cached, cachedJail = append(cached, wc), append(cachedJail, jc)
		diffs = append(diffs, wc-wn)
		w, _ := run(text, "import pyx_app, pthmod; print(1)")
		imported = append(imported, w)
	}

	// The server-side work alone: parse, key, lookup, lease, release.
	const n = 2000
	start := time.Now()
	for range n {
		reqs, err := requirements.Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		lease, err := c.Acquire(context.Background(), in, reqs)
		if err != nil {
			t.Fatal(err)
		}
		lease.Release()
	}
	goSide := time.Since(start) / n

	med := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)/2]
	}
	p90 := func(d []time.Duration) time.Duration {
		s := slices.Clone(d)
		slices.Sort(s)
		return s[len(s)*9/10]
	}
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }
	t.Logf("python %s, requirements %q, %d rounds (wall = parse + layer + jail run; jail = container start to exit)", in.Version, text, rounds)
	t.Logf("first run, building the layer: %v", first.Round(time.Millisecond))
	t.Logf("no requirements:     wall median %v p90 %v; jail median %v", r(med(none)), r(p90(none)), r(med(noneJail)))
	t.Logf("cached requirements: wall median %v p90 %v; jail median %v", r(med(cached)), r(p90(cached)), r(med(cachedJail)))
	t.Logf("cached, code importing both packages: wall median %v", r(med(imported)))
	t.Logf("cached minus none: median of paired differences %v, difference of medians %v (target: at most 5ms)",
		r(med(diffs)), r(med(cached)-med(none)))
	t.Logf("server-side work of a cached layer (parse, key, lookup, lease): %v per run", goSide.Round(100*time.Nanosecond))
}
