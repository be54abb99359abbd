package main

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Issue 11's targets on this 2-core machine.
const (
	targetP50MS      = 3.0
	targetP99MS      = 10.0
	targetRunsPerSec = 400.0
	targetBareFactor = 4.0
	targetServerMB   = 30.0
	targetZygoteMB   = 12.0
	targetAt         = 4 // the concurrency of the throughput target
)

// python-executor's published figures (Docker, same API).
const (
	seedTrivialMS     = 290.0
	seedConcurrent5   = 1105.0
	seedRunsPerSecond = 4.0
)

func printReport(o *options, b bare, on, off measured, c cold) {
	fmt.Printf("\npyexec bench (issue 11): %s, %d CPUs, load average %s at the start, %s at the end\n",
		time.Now().UTC().Format(time.RFC3339), numCPU(), o.loadBefore, loadavg())
	fmt.Printf("CPU busy in the half second before each phase (other work; the bench idle): %s\n", strings.Join(o.busy, ", "))
	fmt.Printf("bare python: %s (%s), the server's default interpreter\n", o.python, o.pythonVersion)
	fmt.Printf("%d back-to-back requests after %d warm-up runs; throughput %v per row; %d /exec/syncs; warm pool %d (zygotes on) and %d (zygotes off); MB = 10^6 bytes\n\n",
		o.requests, o.warmup, o.throughputFor, o.syncs, o.poolOn, o.poolOff)

	t := table{head: []string{"measure", "bare `python3 -c pass`", "zygotes on", "zygotes off (warm pool)", "target", "on / off"}}
	lat := func(ds []time.Duration) bool { return p(ds, 50) <= targetP50MS && p(ds, 99) <= targetP99MS }
	t.add("trivial /eval back-to-back, client p50 / p90 / p99", pct(b.latency), pct(on.latency), pct(off.latency),
		fmt.Sprintf("p50 <= %.0f ms, p99 <= %.0f ms", targetP50MS, targetP99MS), verdicts(lat(on.latency), lat(off.latency)))
	rates := func(name string, br map[int]rate, onR, offR map[int]rate, target bool) {
		for _, cc := range o.concurrencies {
			goal, v := "", ""
			if target && cc == targetAt {
				ok := func(r rate) bool {
					return r.perSecond >= targetRunsPerSec && r.perSecond >= targetBareFactor*br[cc].perSecond
				}
				goal = fmt.Sprintf(">= %.0f runs/s and >= %.0fx bare", targetRunsPerSec, targetBareFactor)
				v = verdicts(ok(onR[cc]), ok(offR[cc]))
			}
			t.add(fmt.Sprintf("%s, concurrency %d", name, cc), rateCell(br[cc], 0),
				rateCell(onR[cc], br[cc].perSecond), rateCell(offR[cc], br[cc].perSecond), goal, v)
		}
	}
	rates("runs/s, trivial /eval", b.rates, on.rates, off.rates, true)
	rates(fmt.Sprintf("runs/s, /eval with memory_mb %d", o.memoryMB), b.rates, on.memRates, off.memRates, false)
	t.add("/exec/sync, 10-file tar, back-to-back, client p50 / p90 / p99", "", pct(on.sync), pct(off.sync), "", "")
	srvOK := func(u usage) bool { return mb(u.rss) <= targetServerMB }
	for _, when := range []struct {
		name    string
		on, off idle
		pool    bool
	}{{"at the start", on.idleStart, off.idleStart, true}, {"after the load", on.idleAfter, off.idleAfter, false}} {
		t.add("idle RSS / PSS, pyexecd (and a rootless parent), "+when.name, "", memCell(when.on.server), memCell(when.off.server),
			fmt.Sprintf("RSS <= %.0f MB", targetServerMB), verdicts(srvOK(when.on.server), srvOK(when.off.server)))
		onAll, offAll := when.on.server.plus(when.on.holders), when.off.server.plus(when.off.holders)
		t.add("idle RSS / PSS, pyexecd and its pyexec-holder processes, "+when.name, "", memCell(onAll), memCell(offAll),
			fmt.Sprintf("RSS <= %.0f MB", targetServerMB), verdicts(srvOK(onAll), srvOK(offAll)))
		t.add("idle RSS / PSS per zygote with its prepared runs, "+when.name, "", zygoteCell(when.on.zygotes), "(none)",
			fmt.Sprintf("<= %.0f MB", targetZygoteMB), zygoteVerdict(when.on.zygotes))
		if when.pool {
			t.add("idle RSS / PSS, the pooled jails together, "+when.name, "", memCell(when.on.pool), memCell(when.off.pool), "", "")
		}
	}
	t.print()

	fmt.Println()
	d := table{head: []string{"measure", "zygotes on", "zygotes off (warm pool)", "cold only (no pool, no zygotes)", "python-executor (published)", "ratio (best)"}}
	best := min(p(on.latency, 50), p(off.latency, 50))
	d.add("trivial /eval back-to-back, client p50 / p90 / p99", pct(on.latency), pct(off.latency), pct(c.latency),
		fmt.Sprintf("%.0f ms", seedTrivialMS), ratio(seedTrivialMS, best))
	d.add("trivial /eval back-to-back, server duration_ms", pct(on.duration), pct(off.duration), pct(c.duration), "", "")
	gap := fmt.Sprintf("trivial /eval, %v between requests", requestGap)
	d.add(gap+", client p50 / p90 / p99", pct(on.spaced), pct(off.spaced), "", "", "")
	d.add(gap+", server duration_ms", pct(on.spacedDur), pct(off.spacedDur), "", "", "")
	d.add("trivial /eval, each on a full pool (waits for the refill)", "", pct(off.refilled), "", "", "")
	d.add("eval_last_expr (`x + y`) back-to-back, client", pct(on.repl), pct(off.repl), "", "", "")
	d.add("streamed /eval back-to-back, request to first stdout event", pct(on.streamFirst), pct(off.streamFirst), "", "", "")
	d.add("streamed /eval, flushed print to its stdout event", pct(on.streamLag), pct(off.streamLag), "", "", "")
	d.add("session cell (trivial, `x = 1`) back-to-back, client", pct(on.sessionCell), "(sessions need zygotes)", "", "", "")
	d.add(fmt.Sprintf("runs/s, trivial /eval, concurrency %d", targetAt), rateCell(on.rates[targetAt], 0), rateCell(off.rates[targetAt], 0), "",
		fmt.Sprintf("~%.0f runs/s", seedRunsPerSecond), fmt.Sprintf("x%.0f", max(on.rates[targetAt].perSecond, off.rates[targetAt].perSecond)/seedRunsPerSecond))
	d.add("5 concurrent async runs, all finished (long-poll)", ms(on.async5), ms(off.async5), "",
		fmt.Sprintf("%.0f ms", seedConcurrent5), ratio(seedConcurrent5, msOf(min(on.async5, off.async5))))
	d.add("10 concurrent async runs, all finished (long-poll)", ms(on.async10), ms(off.async10), "", "", "")
	d.add("idle server RSS / PSS, at the start", memCell(on.idleStart.server), memCell(off.idleStart.server), memCell(c.idle.server), "", "")
	d.add("zygotes at the end: served / missed / recycled", zygoteTotals(on.end), zygoteTotals(off.end), "", "", "")
	d.print()
}

// --- cells ---

func rateCell(r rate, bare float64) string {
	if r.done == 0 && r.failed == 0 {
		return ""
	}
	s := fmt.Sprintf("%.0f runs/s", r.perSecond)
	if bare > 0 {
		s += fmt.Sprintf(", x%.1f bare", r.perSecond/bare)
	}
	if paths := pathShares(r); paths != "" {
		s += " (" + paths + ")"
	}
	if r.server && r.done > 0 {
		s += fmt.Sprintf("; CPU/run %.1f ms server + %.1f ms jails", msOf(r.serverCPU), msOf(r.jailCPU))
	}
	if r.failed > 0 {
		s += fmt.Sprintf("; %d failed", r.failed)
	}
	return s
}

// pathShares says which path served the runs of r: forks of a zygote,
// warm jails, or cold ones (the rest).
func pathShares(r rate) string {
	if !r.server || r.done == 0 {
		return ""
	}
	var parts []string
	for _, c := range []struct {
		n    int64
		name string
	}{{r.forked, "forked"}, {r.warm, "warm"}, {r.done - r.forked - r.warm, "cold"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%.0f%% %s", share(c.n, r.done), c.name))
		}
	}
	return strings.Join(parts, ", ")
}

func share(n, of int64) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func memCell(u usage) string {
	if u.procs == 0 {
		return "(none)"
	}
	return fmt.Sprintf("%.1f / %.1f MB (%d proc)", mb(u.rss), mb(u.pss), u.procs)
}

func zygoteCell(all usage) string {
	if all.groups == 0 {
		return "(none found)"
	}
	z := all.perGroup()
	return fmt.Sprintf("%.1f / %.1f MB (%d zygote, %d proc)", mb(z.rss), mb(z.pss), all.groups, all.procs)
}

func zygoteVerdict(all usage) string {
	if all.groups == 0 {
		return "on: not measured"
	}
	z := all.perGroup()
	switch {
	case mb(z.rss) <= targetZygoteMB:
		return "on: met"
	case mb(z.pss) <= targetZygoteMB:
		return "on: met by PSS, not by RSS"
	}
	return "on: not met"
}

func zygoteTotals(h health) string {
	if len(h.Zygotes) == 0 {
		return "(none)"
	}
	var parts []string
	for _, z := range h.Zygotes {
		if z.Served == 0 && z.Missed == 0 && z.Recycled == 0 {
			continue // an interpreter nobody asked for
		}
		parts = append(parts, fmt.Sprintf("%s: %d / %d / %d", z.Version, z.Served, z.Missed, z.Recycled))
	}
	return strings.Join(parts, "; ")
}

func verdicts(on, off bool) string { return "on: " + met(on) + " · off: " + met(off) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// --- numbers ---

// p is the q-th percentile of ds in milliseconds (nearest rank below).
func p(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q / 100 * float64(len(s)-1))
	return msOf(s[i])
}

func pct(ds []time.Duration) string {
	if len(ds) == 0 {
		return ""
	}
	return fmt.Sprintf("%.1f / %.1f / %.1f ms", p(ds, 50), p(ds, 90), p(ds, 99))
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", msOf(d)) }

func mb(b int64) float64 { return float64(b) / 1e6 }

func ratio(seed, ours float64) string {
	if ours <= 0 {
		return ""
	}
	return fmt.Sprintf("x%.0f faster", seed/ours)
}

// --- a markdown table ---

type table struct {
	head []string
	rows [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) print() {
	w := make([]int, len(t.head))
	for i, h := range t.head {
		w[i] = utf8.RuneCountInString(h)
	}
	for _, r := range t.rows {
		for i, c := range r {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			fmt.Fprintf(&b, "| %-*s ", w[i], c)
		}
		fmt.Println(b.String() + "|")
	}
	line(t.head)
	sep := make([]string, len(w))
	for i := range w {
		sep[i] = strings.Repeat("-", w[i])
	}
	fmt.Println("|-" + strings.Join(sep, "-|-") + "-|")
	for _, r := range t.rows {
		line(r)
	}
}
