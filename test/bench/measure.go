package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pyexec/pyexec/api"
)

// trivial is the request of the latency and throughput rows.
var trivial = api.EvalRequest{Code: "pass"}

// withMemory is trivial with a memory limit other than the default, which
// a warm jail made at the default limit cannot take as it is.
func withMemory(mb int) api.EvalRequest {
	return api.EvalRequest{Code: "pass", Config: &api.Config{MemoryMB: &mb}}
}

// timeN times n calls of f one after the other; failures are reported and
// left out.
func timeN(n int, f func() error) []time.Duration {
	var ds []time.Duration
	for range n {
		start := time.Now()
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			continue
		}
		ds = append(ds, time.Since(start))
	}
	return ds
}

// backToBack sends req n times, each as soon as the previous one answered
// (no gap), and returns the client's latency and the server's duration_ms
// of each.
func backToBack(s *server, n int, req api.EvalRequest) (cli, srv []time.Duration, err error) {
	for range n {
		start := time.Now()
		e, err := s.evalRequest(req)
		if err != nil {
			return nil, nil, err
		}
		cli = append(cli, time.Since(start))
		srv = append(srv, time.Duration(e.DurationMS)*time.Millisecond+durationFraction(e))
	}
	return cli, srv, nil
}

// spaced sends req n times, one at a time with gap between the end of
// one and the start of the next (an agent's pace: the server idles a
// moment between runs), and returns the client and server durations.
func spaced(s *server, n int, req api.EvalRequest, gap time.Duration) (cli, srv []time.Duration, err error) {
	for range n {
		time.Sleep(gap)
		c, d, err := backToBack(s, 1, req)
		if err != nil {
			return nil, nil, err
		}
		cli, srv = append(cli, c...), append(srv, d...)
	}
	return cli, srv, nil
}

// afterRefill sends req n times, each once the pool is full again: every
// sample is a warm run (the pool's best case, not sustained load).
func afterRefill(s *server, n int, req api.EvalRequest) ([]time.Duration, error) {
	var cli []time.Duration
	for range n {
		if err := s.waitReady(context.Background(), false); err != nil {
			return nil, err
		}
		start := time.Now()
		if _, err := s.evalRequest(req); err != nil {
			return nil, err
		}
		cli = append(cli, time.Since(start))
	}
	return cli, nil
}

// syncN sends n /exec/sync requests of files back-to-back.
func syncN(s *server, n int, files []file) ([]time.Duration, error) {
	var cli []time.Duration
	for range n {
		start := time.Now()
		if err := s.execSync(files); err != nil {
			return nil, err
		}
		cli = append(cli, time.Since(start))
	}
	return cli, nil
}

// durationFraction: duration_ms is whole milliseconds; the record's
// started/finished timestamps carry the rest.
func durationFraction(e *api.Execution) time.Duration {
	if e.StartedAt == nil || e.FinishedAt == nil {
		return 0
	}
	d := e.FinishedAt.Sub(*e.StartedAt)
	return d - d.Truncate(time.Millisecond)
}

// rate is one throughput measurement: conc workers calling f in a closed
// loop for a duration.
type rate struct {
	perSecond    float64
	done, failed int64
	// forked and warm are the runs a zygote and the warm pool served
	// (server rows only).
	forked, warm int64
	server       bool // a server's rate: forked and warm are known
	// serverCPU and jailCPU are the CPU per run of the server process and
	// of its jails (cpuSpent), server rows only.
	serverCPU, jailCPU time.Duration
}

// closedLoop runs conc workers, each calling f again as soon as it
// returns, until dur has passed; the calls under way then finish and count.
func closedLoop(conc int, dur time.Duration, f func() error) rate {
	var done, failed atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := f(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %d calls failed; the first: %v\n", failed.Load(), err)
	}
	return rate{perSecond: float64(done.Load()) / time.Since(start).Seconds(), done: done.Load(), failed: failed.Load()}
}

// bareRate is bare python's runs/s: conc spawns of `python -c pass` at a
// time.
func bareRate(py string, conc int, dur time.Duration) rate {
	return closedLoop(conc, dur, func() error { return exec.Command(py, "-c", "pass").Run() })
}

// serverRate is the server's runs/s for req at conc requests in flight,
// starting from a ready server, with how many runs were forks and warm.
func serverRate(s *server, conc int, dur time.Duration, req api.EvalRequest, zygotes bool) (rate, error) {
	if err := s.waitReady(context.Background(), zygotes); err != nil {
		return rate{}, err
	}
	h0, err := s.health()
	if err != nil {
		return rate{}, err
	}
	srv0, jails0 := s.cpuSpent()
	r := closedLoop(conc, dur, func() error { _, err := s.evalRequest(req); return err })
	srv1, jails1 := s.cpuSpent()
	if r.done > 0 {
		r.serverCPU, r.jailCPU = (srv1-srv0)/time.Duration(r.done), (jails1-jails0)/time.Duration(r.done)
	}
	h1, err := s.health()
	if err != nil {
		return rate{}, err
	}
	f0, w0 := h0.served()
	f1, w1 := h1.served()
	r.forked, r.warm, r.server = f1-f0, w1-w0, true
	return r, nil
}

// concurrentAsync submits n runs through /exec/async and waits (long-poll)
// until all have finished.
func concurrentAsync(s *server, n int) (time.Duration, error) {
	start := time.Now()
	ids := make([]string, n)
	for i := range ids {
		id, err := s.async(fmt.Sprintf("print(%d)", i))
		if err != nil {
			return 0, err
		}
		ids[i] = id
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var e api.Execution
				if err := s.getJSON("/api/v1/executions/"+id+"?wait=10", &e); err != nil {
					errs <- err
					return
				}
				if e.Finished() {
					if e.Status != api.StatusCompleted {
						errs <- fmt.Errorf("async run %s: %s", id, e.Status)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}
