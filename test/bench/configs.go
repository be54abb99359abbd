package main

import (
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/pyexec/pyexec/api"
)

// bare is bare python's figures.
type bare struct {
	latency []time.Duration
	rates   map[int]rate
}

// measured is one server configuration's figures.
type measured struct {
	latency, duration []time.Duration // trivial back-to-back: client, server
	spaced, spacedDur []time.Duration // trivial, requestGap apart: client, server
	rates, memRates   map[int]rate    // trivial, and with o.memoryMB
	sync              []time.Duration
	repl              []time.Duration
	streamFirst       []time.Duration
	streamLag         []time.Duration
	sessionCell       []time.Duration // zygotes on: trivial cells of one session, client
	async5, async10   time.Duration
	refilled          []time.Duration // zygotes off: each run on a full pool
	idleStart         idle
	idleAfter         idle
	end               health
}

// cold is the figures of a server with neither zygotes nor a pool.
type cold struct {
	latency, duration []time.Duration
	idle              idle
}

func measureBare(o *options) bare {
	b := bare{rates: map[int]rate{}}
	b.latency = timeN(o.requests, func() error { return exec.Command(o.python, "-c", "pass").Run() })
	for _, c := range o.concurrencies {
		b.rates[c] = bareRate(o.python, c, o.throughputFor)
	}
	return b
}

// requestGap is the pause between the spaced row's requests.
const requestGap = 20 * time.Millisecond

// measure takes every figure of s: warm-up, idle memory, the back-to-back
// and throughput rows, the other latency rows, idle memory after the load.
func measure(o *options, s *server, zygotes bool) (m measured, err error) {
	m.rates, m.memRates = map[int]rate{}, map[int]rate{}
	ctx := context.Background()
	if err := s.waitReady(ctx, zygotes); err != nil {
		return m, err
	}
	if _, _, err := backToBack(s, o.warmup, trivial); err != nil {
		return m, fmt.Errorf("%s: warm-up: %w", s.name, err)
	}
	if m.idleStart, err = settle(s, zygotes); err != nil {
		return m, err
	}
	if m.latency, m.duration, err = backToBack(s, o.requests, trivial); err != nil {
		return m, fmt.Errorf("%s: back-to-back: %w", s.name, err)
	}
	if m.spaced, m.spacedDur, err = spaced(s, o.runs, trivial, requestGap); err != nil {
		return m, fmt.Errorf("%s: spaced: %w", s.name, err)
	}
	for _, c := range o.concurrencies {
		if m.rates[c], err = serverRate(s, c, o.throughputFor, trivial, zygotes); err != nil {
			return m, fmt.Errorf("%s: throughput: %w", s.name, err)
		}
	}
	for _, c := range o.concurrencies {
		if m.memRates[c], err = serverRate(s, c, o.throughputFor, withMemory(o.memoryMB), zygotes); err != nil {
			return m, fmt.Errorf("%s: throughput, memory_mb %d: %w", s.name, o.memoryMB, err)
		}
	}
	if err := s.waitReady(ctx, zygotes); err != nil {
		return m, err
	}
	if m.sync, err = syncN(s, o.syncs, tenFiles()); err != nil {
		return m, fmt.Errorf("%s: %w", s.name, err)
	}
	if m.repl, _, err = backToBack(s, o.runs, api.EvalRequest{Code: "x = 5\ny = 10\nx + y", EvalLastExpr: true}); err != nil {
		return m, fmt.Errorf("%s: eval_last_expr: %w", s.name, err)
	}
	if m.streamFirst, m.streamLag, err = streamN(s, o.runs); err != nil {
		return m, fmt.Errorf("%s: %w", s.name, err)
	}
	if zygotes { // sessions run on zygotes
		if m.sessionCell, _, err = sessionCells(s, o.runs); err != nil {
			return m, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	for _, n := range []int{5, 10} {
		if err := s.waitReady(ctx, zygotes); err != nil {
			return m, err
		}
		d, err := concurrentAsync(s, n)
		if err != nil {
			return m, fmt.Errorf("%s: %w", s.name, err)
		}
		if n == 5 {
			m.async5 = d
		} else {
			m.async10 = d
		}
	}
	if m.idleAfter, err = settle(s, zygotes); err != nil {
		return m, err
	}
	m.end, err = s.health()
	return m, err
}

func measureCold(o *options, s *server) (c cold, err error) {
	if _, _, err := backToBack(s, o.warmup/5+1, trivial); err != nil {
		return c, fmt.Errorf("%s: warm-up: %w", s.name, err)
	}
	if c.idle, err = settle(s, false); err != nil {
		return c, err
	}
	if c.latency, c.duration, err = backToBack(s, o.runs, trivial); err != nil {
		return c, fmt.Errorf("%s: %w", s.name, err)
	}
	return c, nil
}

// settle waits until s is ready and has been idle 3 s (a server gives its
// free heap memory back after 2 s without runs), then reads its memory.
func settle(s *server, zygotes bool) (idle, error) {
	if err := s.waitReady(context.Background(), zygotes); err != nil {
		return idle{}, err
	}
	time.Sleep(3 * time.Second)
	return s.idleMemory(), nil
}

// output runs a command and returns its stdout.
func output(name string, args ...string) (string, error) {
	b, err := exec.Command(name, args...).Output()
	return string(b), err
}
