package test

// A rootless pyexecd under load and killed: many mixed runs, and SIGKILL
// of the server (see rootless_test.go for the harness).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// rlMixedKinds are the runs of TestRootlessMixedRuns, taken in turn.
var rlMixedKinds = []struct {
	name   string
	code   string
	config *api.Config
	want   string // status
	kill   bool   // run by /exec/async and killed with DELETE once it printed
}{
	{"ok", "print('ok')", nil, api.StatusCompleted, false},
	{"error", "raise ValueError('x')", nil, api.StatusCompleted, false},
	{"exit", "import sys\nsys.exit(2)", nil, api.StatusCompleted, false},
	{"child", "import subprocess\nsubprocess.Popen(['/bin/sleep', '60'])\nprint('left a child')", nil, api.StatusCompleted, false},
	{"oom", "x = bytearray(100 << 20)", &api.Config{MemoryMB: ptr(32)}, api.StatusFailed, false},
	{"ok", "print('ok')", nil, api.StatusCompleted, false},
	{"kill", "import time\nprint('up', flush=True)\ntime.sleep(60)", nil, api.StatusKilled, true},
	{"fork", "import os, time\nfor _ in range(5):\n    if os.fork() == 0:\n        time.sleep(60)\nprint('forked')", nil, api.StatusCompleted, false},
	{"timeout", "import time\nprint('up', flush=True)\ntime.sleep(60)", &api.Config{TimeoutSeconds: ptr(1)}, api.StatusFailed, false},
	{"ok", "print('ok')", nil, api.StatusCompleted, false},
}

// TestRootlessMixedRuns: 200 runs of every kind (ok, error, exit status,
// a child left behind, forks, OOM, kill, timeout), four at a time, on a
// rootless server with zygotes and with them off: each ends as it should,
// no process of a run is left while the server runs, and nothing at all
// once it stops.
func TestRootlessMixedRuns(t *testing.T) {
	const runs, tag = 200, "rl-mixed"
	ru := newRootlessUser(t)
	reqs := mixedRequests(t, tag)
	for _, m := range rlModes[:2] {
		t.Run(m.name, func(t *testing.T) {
			s := ru.start(t, m.env...)
			s.readyFor(t, m)
			before := s.health(t)
			start := time.Now()
			summary, failures := s.runMixed(runs, 4, reqs)
			after := s.health(t)
			t.Logf("%d runs in %v: %s; zygote served %d, pool %d", runs, time.Since(start).Round(time.Millisecond),
				summary, zygoteServed(after)-zygoteServed(before), poolServed(after)-poolServed(before))
			reportFailures(t, failures)
			if m.path == "zygote" && zygoteServed(after) == zygoteServed(before) {
				t.Error("no run was forked from the zygote")
			}
			for _, name := range []string{tag, "sleep"} {
				if left := rlWaitEmpty(func() []string { return ru.procsNamed(name) }, 10*time.Second); len(left) > 0 {
					t.Errorf("processes of the runs (%s) are left while the server runs: %v", name, left)
				}
			}
			s.mustStop(t)
		})
	}
}

// mixedRequest is one request of rlMixedKinds, built once: the goroutines
// of runMixed only send it.
type mixedRequest struct {
	path, ctype string
	body        []byte
}

// mixedRequests builds the requests of rlMixedKinds, their code tagged.
func mixedRequests(t testing.TB, tag string) []mixedRequest {
	t.Helper()
	reqs := make([]mixedRequest, len(rlMixedKinds))
	for i, k := range rlMixedKinds {
		code := tagged(tag, k.code)
		if k.kill {
			body, ctype := multipartBody(t, tarPart(tarFiles(t, map[string]string{"main.py": code})), metaPart(t, api.Metadata{Entrypoint: "main.py"}))
			reqs[i] = mixedRequest{"/api/v1/exec/async", ctype, body}
			continue
		}
		body, err := json.Marshal(api.EvalRequest{Code: code, Config: k.config})
		if err != nil {
			t.Fatal(err)
		}
		reqs[i] = mixedRequest{"/api/v1/eval", "application/json", body}
	}
	return reqs
}

// runMixed sends runs requests (rlMixedKinds in turn), conc at a time, and
// returns how they ended ("kind=status:count ...") and the runs that did
// not end as their kind should.
func (s *Server) runMixed(runs, conc int, reqs []mixedRequest) (string, []string) {
	var mu sync.Mutex
	counts := map[string]int{}
	var failures []string
	sem := make(chan struct{}, conc)
	var wg sync.WaitGroup
	for i := range runs {
		k, r := rlMixedKinds[i%len(rlMixedKinds)], reqs[i%len(reqs)]
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			e, err := s.mixedRun(r.path, r.ctype, r.body, k.kill)
			mu.Lock()
			defer mu.Unlock()
			counts[k.name+"="+e.Status]++
			if err != nil || e.Status != k.want || (k.name == "oom" && !e.OOMKilled) || (k.name == "timeout" && !e.TimedOut) {
				failures = append(failures, fmt.Sprintf("%s: %v %s", k.name, err, describe(e)))
			}
		}()
	}
	wg.Wait()
	keys := make([]string, 0, len(counts))
	for k, n := range counts {
		keys = append(keys, fmt.Sprintf("%s:%d", k, n))
	}
	sort.Strings(keys)
	return strings.Join(keys, " "), failures
}

// reportFailures fails t with the first ten failures and a count of the rest.
func reportFailures(t testing.TB, failures []string) {
	t.Helper()
	for i, f := range failures {
		if i == 10 {
			t.Errorf("... and %d more", len(failures)-10)
			break
		}
		t.Error(f)
	}
}

// mixedRun posts body to path and returns the record; with kill, path is
// /exec/async, and the run is killed with DELETE once it printed. It
// touches no testing.T: goroutines call it.
func (s *Server) mixedRun(path, ctype string, body []byte, kill bool) (api.Execution, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var e api.Execution
	r, err := s.request(ctx, http.MethodPost, path, ctype, bytes.NewReader(body))
	switch {
	case err != nil:
		return e, err
	case !kill && r.Status != http.StatusOK, kill && r.Status != http.StatusAccepted:
		return e, fmt.Errorf("POST %s: status %d: %s", path, r.Status, r.Body)
	case !kill:
		return e, json.Unmarshal(r.Body, &e)
	}
	var acc api.Accepted
	if err := json.Unmarshal(r.Body, &acc); err != nil {
		return e, err
	}
	rec := "/api/v1/executions/" + acc.ExecutionID
	for e.Stdout == "" && !e.Finished() && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if r, err = s.request(ctx, http.MethodGet, rec, "", nil); err != nil {
			return e, err
		}
		if err := json.Unmarshal(r.Body, &e); err != nil {
			return e, err
		}
	}
	if r, err = s.request(ctx, http.MethodDelete, rec, "", nil); err != nil || r.Status != http.StatusOK {
		return e, fmt.Errorf("DELETE %s: %v %d %s", rec, err, r.Status, r.Body)
	}
	if r, err = s.request(ctx, http.MethodGet, rec+"?wait=30", "", nil); err != nil {
		return e, err
	}
	return e, json.Unmarshal(r.Body, &e)
}

// TestRootlessSIGKILL: SIGKILL of the rootless server proper (in its
// namespace) or of the process the user started (the namespace's maker,
// which the server must die with), while zygotes, a pooled jail and a
// cold run that forked are alive: every process of the user and its
// sub-id range goes with it;
// a new server on the same state dir sweeps the groups and state the dead
// one left, and serves.
func TestRootlessSIGKILL(t *testing.T) {
	ru := newRootlessUser(t)
	for _, victim := range []string{"server", "launcher"} {
		t.Run(victim, func(t *testing.T) {
			s := ru.start(t, "PYEXEC_POOL_SIZES=3.12=1")
			s.waitZygote(t)
			s.waitWarm(t)
			// 3.11's zygote starts on its first request, which runs cold.
			id := s.execAsync(t, map[string]string{"main.py": tagged("rl-sigkill", "import os, time\nos.fork()\nprint('up', flush=True)\ntime.sleep(60)")},
				api.Metadata{Entrypoint: "main.py", PythonVersion: "3.11"})
			s.waitStdout(t, id)
			before := ru.procs()
			zygotes := jailtest.ZygoteTraces(ru.StateDir, ru.Parent)
			t.Logf("before the kill: %d processes of %s and its range (%v), zygote groups %v", len(before), ru.Name, before, zygotes)
			if len(zygotes) == 0 {
				t.Error("no zygote group: the sweep of zygotes is not tested")
			}
			pid := s.cmd.Process.Pid
			if victim == "server" {
				pid = s.inner(t)
			}
			s.killed = true
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			// A hang check: the server and its jails die with the victim.
			if left := rlWaitEmpty(ru.procs, 10*time.Second); len(left) > 0 {
				t.Fatalf("processes outlived the SIGKILLed %s (pid %d) by 10 s: %v", victim, pid, left)
			}
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				t.Fatalf("the started pyexecd did not exit within 10 s of the SIGKILL of its %s", victim)
			}
			left := ru.traces()
			t.Logf("the killed server left %d traces: %v", len(left), left)
			if len(left) == 0 {
				t.Error("the killed server left nothing: the sweep is not tested")
			}
			// A new server sweeps them at start-up.
			s2 := ru.start(t, "PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=0")
			if left := rlWaitEmpty(ru.traces, leftoverSettle); len(left) > 0 {
				t.Errorf("after the restart, still there: %v", left)
			}
			wantRun(t, s2.eval(t, api.EvalRequest{Code: "print('alive')"}), "alive\n")
			s2.mustStop(t)
		})
	}
}
