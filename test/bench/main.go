// Command bench measures pyexec against the real server binary and prints
// issue 11's table: bare `python3 -c pass` (the server's default
// interpreter, measured in the same run), then the server with zygotes on
// and with zygotes off (warm pool on): trivial /eval back-to-back (no gap
// between requests), runs/s at concurrency 1, 4 and 16 for a trivial
// request and for one with another memory limit, /exec/sync with a 10-file
// tar, and idle memory (server, per zygote), each figure beside its target.
// A second table has the other paths (cold jails, a refilled pool,
// eval_last_expr, streaming, async) beside python-executor's published
// figures. `make bench` runs it; -quick finishes in under a minute. With
// -seed it runs python-executor's own scripts/benchmark.py --quick against
// the server instead (`make bench-seed PE_DIR=...`).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type options struct {
	bin, python     string
	warmup          int // trivial runs before anything is measured
	requests        int // back-to-back trivial /evals
	syncs           int // back-to-back /exec/syncs
	runs            int // samples of the other latency rows
	throughputFor   time.Duration
	memoryMB        int
	concurrencies   []int
	quick           bool
	seed            string // a python-executor checkout: run its benchmark instead
	seedPython      string
	zygoteOn        []string // the environment of each configuration
	zygoteOff       []string
	coldOnly        []string
	loadBefore      string
	pythonVersion   string
	poolOn, poolOff int
	busy            []string // CPU busy before each phase
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/pyexecd", "server binary")
	flag.StringVar(&o.python, "python", "", "bare python for the baseline (default: the server's default interpreter)")
	flag.IntVar(&o.warmup, "warmup", 50, "trivial runs before the measurements")
	flag.IntVar(&o.requests, "requests", 1000, "back-to-back trivial /evals")
	flag.IntVar(&o.syncs, "syncs", 250, "back-to-back /exec/syncs of the 10-file tar")
	flag.IntVar(&o.runs, "runs", 200, "samples of each other latency row")
	flag.DurationVar(&o.throughputFor, "throughput-for", 10*time.Second, "duration of each throughput measurement")
	flag.IntVar(&o.memoryMB, "memory-mb", 256, "memory_mb of the throughput rows with another limit")
	flag.BoolVar(&o.quick, "quick", false, "shorter: under a minute")
	flag.StringVar(&o.seed, "seed", "", "a python-executor checkout: run its scripts/benchmark.py --quick instead (zygotes on and off)")
	flag.StringVar(&o.seedPython, "seed-python", "/usr/bin/python3", "the python of -seed (it needs requests: Debian's python3-requests)")
	flag.Parse()
	if o.quick {
		o.warmup, o.requests, o.syncs, o.runs, o.throughputFor = 20, 100, 20, 20, time.Second
	}
	o.concurrencies = []int{1, 4, 16}
	o.zygoteOn = []string{"PYEXEC_ZYGOTE_ENABLED=true"}
	o.zygoteOff = []string{"PYEXEC_ZYGOTE_ENABLED=false"}
	o.coldOnly = []string{"PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=0"}
	do := run
	if o.seed != "" {
		do = runSeed
	}
	if err := do(&o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o *options) error {
	o.loadBefore = loadavg()
	on, err := start("zygotes on", o.bin, 1, o.zygoteOn...)
	if err != nil {
		return err
	}
	if o.python == "" {
		if o.python, err = on.python(); err != nil {
			on.stop()
			return err
		}
	}
	if out, err := output(o.python, "-c", "import sys; print(sys.version.split()[0])"); err == nil {
		o.pythonVersion = strings.TrimSpace(out)
	}
	if err := on.waitReady(context.Background(), true); err != nil {
		on.stop()
		return err
	}
	o.progress("bare python")
	b := measureBare(o)
	o.progress("zygotes on")
	zOn, err := measure(o, on, true)
	o.poolOn = on.poolSize()
	on.stop()
	if err != nil {
		return err
	}

	off, err := start("zygotes off", o.bin, 2, o.zygoteOff...)
	if err != nil {
		return err
	}
	if err := off.waitReady(context.Background(), false); err != nil {
		off.stop()
		return err
	}
	o.progress("zygotes off")
	zOff, err := measure(o, off, false)
	if err == nil {
		o.poolOff = off.poolSize()
		zOff.refilled, err = afterRefill(off, o.runs, trivial)
	}
	off.stop()
	if err != nil {
		return err
	}

	cold, err := start("cold only", o.bin, 3, o.coldOnly...)
	if err != nil {
		return err
	}
	o.progress("cold only")
	c, err := measureCold(o, cold)
	cold.stop()
	if err != nil {
		return err
	}
	printReport(o, b, zOn, zOff, c)
	return nil
}

// progress notes a phase on stderr, with how busy the host's CPUs were
// over the half second before it while the bench itself was idle (other work on
// the machine), and keeps that for the report.
func (o *options) progress(what string) {
	busy := cpuBusy(500 * time.Millisecond)
	o.busy = append(o.busy, fmt.Sprintf("%s %.0f%%", what, busy))
	fmt.Fprintf(os.Stderr, "bench: %s: %s (load %s; CPU busy before it, bench idle: %.0f%%)\n",
		time.Now().Format("15:04:05"), what, loadavg(), busy)
}

// cpuBusy is the share of all CPUs' time not idle (nor iowait) over d.
func cpuBusy(d time.Duration) float64 {
	b0, t0 := cpuTimes()
	time.Sleep(d)
	b1, t1 := cpuTimes()
	if t1 <= t0 {
		return 0
	}
	return 100 * float64(b1-b0) / float64(t1-t0)
}

// cpuTimes is the busy and the total time of all CPUs (/proc/stat, ticks).
func cpuTimes() (busy, total int64) {
	b, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i >= 8 { // guest times are already in user and nice
			break
		}
		total += n
		if i != 3 && i != 4 {
			busy += n
		}
	}
	return busy, total
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}
