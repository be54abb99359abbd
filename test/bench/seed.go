package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// python-executor's seed benchmark (scripts/benchmark.py in a checkout of
// github.com/geraldthewes/python-executor), run against pyexecd: issue 11
// wants each trivial case's server column at or below 10 ms.
const targetSeedMS = 10.0

// seedNonTrivial are the cases whose code itself takes time (or that need
// the network): the target is not theirs.
var seedNonTrivial = map[string]bool{
	"basic_computation": true, // fib(20)
	"basic_memory":      true, // a list of a million ints
	"deps_small":        true,
	"deps_large":        true,
}

// seedResult is the part of one case of the script's --output-json that the
// bench reads.
type seedResult struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Failures    int      `json:"failures"`
	ServerMean  *float64 `json:"server_duration_mean_ms"`
	Errors      []string `json:"errors"`
}

// runSeed runs the script with --quick against a server with zygotes on,
// then one with zygotes off, and prints each case's server ms.
func runSeed(o *options) error {
	script := filepath.Join(o.seed, "scripts", "benchmark.py")
	if _, err := os.Stat(script); err != nil {
		return fmt.Errorf("-seed: %w (want a python-executor checkout)", err)
	}
	o.loadBefore = loadavg()
	var runs [2][]seedResult
	for i, cfg := range []struct {
		name    string
		zygotes bool
		env     []string
	}{{"zygotes on", true, o.zygoteOn}, {"zygotes off", false, o.zygoteOff}} {
		s, err := start(cfg.name, o.bin, 4+i, cfg.env...)
		if err != nil {
			return err
		}
		if err := s.waitReady(context.Background(), cfg.zygotes); err != nil {
			s.stop()
			return err
		}
		o.progress("seed benchmark, " + cfg.name)
		runs[i], err = seedRun(o, s, script)
		s.stop()
		if err != nil {
			return err
		}
	}
	printSeed(o, runs[0], runs[1])
	return nil
}

func seedRun(o *options, s *server, script string) ([]seedResult, error) {
	out, err := os.CreateTemp("", "pyexec-seed-*.json")
	if err != nil {
		return nil, err
	}
	out.Close()
	defer os.Remove(out.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.seedPython, script, "--quick", "--server", s.url+"/", "--output-json", out.Name())
	cmd.Dir = o.seed
	log, err := cmd.CombinedOutput()
	// The script exits 1 when a case failed; its JSON still says which.
	b, rerr := os.ReadFile(out.Name())
	if rerr != nil || len(b) == 0 {
		return nil, fmt.Errorf("%s: %s: %v\n%s", s.name, script, err, log)
	}
	var suite struct {
		Results []seedResult `json:"results"`
	}
	if err := json.Unmarshal(b, &suite); err != nil {
		return nil, fmt.Errorf("%s: the script's JSON: %w", s.name, err)
	}
	return suite.Results, nil
}

func printSeed(o *options, on, off []seedResult) {
	fmt.Printf("\npython-executor scripts/benchmark.py --quick (1 iteration per case) against pyexecd: %s, %d CPUs, load average %s at the start, %s at the end\n",
		time.Now().UTC().Format(time.RFC3339), numCPU(), o.loadBefore, loadavg())
	fmt.Printf("CPU busy in the half second before each phase (other work; the bench idle): %s\n", strings.Join(o.busy, ", "))
	fmt.Printf("server ms is the script's server column (the record's duration_ms); checkout %s, %s\n\n", o.seed, o.seedPython)
	offBy := map[string]seedResult{}
	for _, r := range off {
		offBy[r.Name] = r
	}
	t := table{head: []string{"case", "description", "server ms, zygotes on", "server ms, zygotes off", "target", "on / off"}}
	for _, r := range on {
		goal, v := "", ""
		if !seedNonTrivial[r.Name] {
			goal = fmt.Sprintf("<= %.0f ms", targetSeedMS)
			v = verdicts(seedMet(r), seedMet(offBy[r.Name]))
		}
		t.add(r.Name, r.Description, seedCell(r), seedCell(offBy[r.Name]), goal, v)
	}
	t.print()
}

func seedMet(r seedResult) bool {
	return r.Failures == 0 && r.ServerMean != nil && *r.ServerMean <= targetSeedMS
}

func seedCell(r seedResult) string {
	if r.Name == "" {
		return "(not run)"
	}
	var s string
	if r.ServerMean != nil {
		s = fmt.Sprintf("%.0f", *r.ServerMean)
	} else {
		// The script leaves out a duration_ms of 0 (falsy) and failures.
		s = "N/A"
	}
	if r.Failures > 0 {
		msg := strings.Join(strings.Fields(strings.Join(r.Errors, "; ")), " ")
		if len(msg) > 80 {
			msg = msg[:80] + "..."
		}
		s += fmt.Sprintf(" (FAIL: %s)", msg)
	}
	return s
}
