package server

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

// stepRunner starts jobs and ends one of them for each value sent on step
// (any one; the test does not care which), tracking the sum of the memory
// limits of the jobs it runs at once.
type stepRunner struct {
	started chan Job
	step    chan struct{}

	mu             sync.Mutex
	memNow, memMax int64
	byCaller       map[string]int // running jobs per caller
	callerMax      map[string]int
}

func newStepRunner() *stepRunner {
	return &stepRunner{started: make(chan Job, 256), step: make(chan struct{}),
		byCaller: map[string]int{}, callerMax: map[string]int{}}
}

func (r *stepRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	r.mu.Lock()
	r.memNow += job.Limits.MemoryBytes
	r.memMax = max(r.memMax, r.memNow)
	r.byCaller[job.caller]++
	r.callerMax[job.caller] = max(r.callerMax[job.caller], r.byCaller[job.caller])
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.memNow -= job.Limits.MemoryBytes
		r.byCaller[job.caller]--
		r.mu.Unlock()
	}()
	r.started <- job
	select {
	case <-r.step:
		return Outcome{Stdout: []byte("done\n")}, nil
	case <-ctx.Done():
		return Outcome{Killed: true, ExitCode: -1}, nil
	}
}

// next returns the next job started, failing when none starts soon.
func (r *stepRunner) next(t *testing.T) Job {
	t.Helper()
	select {
	case j := <-r.started:
		return j
	case <-time.After(5 * time.Second):
		t.Fatal("no job started")
		return Job{}
	}
}

// none checks that no job starts for a while.
func (r *stepRunner) none(t *testing.T, why string) {
	t.Helper()
	select {
	case j := <-r.started:
		t.Fatalf("job %s (%d MiB) started, but %s", j.ID, j.Limits.MemoryBytes>>20, why)
	case <-time.After(200 * time.Millisecond):
	}
}

// submitAs posts an async job asking for memMB of memory with the token
// (none when "") and returns the status and the id.
func (s *testServer) submitAs(t *testing.T, token string, memMB int) (int, string) {
	t.Helper()
	body, ct := multipartBody(t, simpleTar(t), fmt.Sprintf(`{"entrypoint":"main.py","config":{"memory_mb":%d}}`, memMB))
	auth := ""
	if token != "" {
		auth = "Bearer " + token
	}
	res := doAuth(t, http.MethodPost, s.URL+"/api/v1/exec/async", auth, ct, string(body))
	if res.status != http.StatusAccepted {
		return res.status, string(res.body)
	}
	var acc api.Accepted
	res.decode(t, &acc)
	return res.status, acc.ExecutionID
}

// TestMemoryBudget: jobs start only while the sum of the memory limits
// of the running ones fits the budget; the others wait, in order, even
// with free slots, and none is refused for it.
func TestMemoryBudget(t *testing.T) {
	r := newStepRunner()
	s := newTestServer(t, Options{MaxConcurrent: 4, MemoryBudgetMB: 1024, Max: limits.Values{MemoryMB: 1024}}, r)
	_, a := s.submitAs(t, "", 512)
	_, b := s.submitAs(t, "", 512)
	if got := []string{r.next(t).ID, r.next(t).ID}; !(got[0] == a && got[1] == b || got[0] == b && got[1] == a) {
		t.Fatalf("started %v, want %s and %s", got, a, b)
	}
	st, c := s.submitAs(t, "", 512)
	if st != http.StatusAccepted {
		t.Fatalf("c refused: %d %s", st, c)
	}
	r.none(t, "1024 MiB of the 1024 MiB budget are in use (two slots are free)")
	// A small job does not pass the one waiting for memory.
	_, d := s.submitAs(t, "", 16)
	r.none(t, "the job before it waits for memory")
	metrics := string(s.get(t, "/metrics").body)
	for _, want := range []string{"pyexec_executions_running 2\n", "pyexec_executions_queued 2\n",
		"pyexec_memory_admitted_bytes 1073741824\n", "pyexec_memory_budget_bytes 1073741824\n"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if e := s.execution(t, c); e.Status != api.StatusPending {
		t.Errorf("c is %s, want pending", e.Status)
	}

	r.step <- struct{}{} // one 512 MiB job ends: c fits, d (16 MiB) does not yet
	if got := r.next(t).ID; got != c {
		t.Fatalf("started %s, want c %s", got, c)
	}
	r.none(t, "512 + 512 MiB run and 16 more do not fit")
	r.step <- struct{}{}
	if got := r.next(t).ID; got != d {
		t.Fatalf("started %s, want d %s", got, d)
	}
	r.step <- struct{}{}
	r.step <- struct{}{}
	for _, id := range []string{a, b, c, d} {
		res := s.get(t, "/api/v1/executions/"+id+"?wait=5")
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusCompleted {
			t.Errorf("%s: %s", id, res.body)
		}
	}
	if r.memMax > 1024<<20 {
		t.Errorf("%d MiB ran at once, over the budget", r.memMax>>20)
	}
}

// TestMemoryBudgetNeverExceeded runs jobs of random sizes from many
// clients at once: the runner never sees more than the budget, and every
// job ends.
func TestMemoryBudgetNeverExceeded(t *testing.T) {
	r := &fakeRunner{}
	var mu sync.Mutex
	var now, peak int64
	r.fn = func(ctx context.Context, job Job) (Outcome, error) {
		mu.Lock()
		now += job.Limits.MemoryBytes
		peak = max(peak, now)
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
		mu.Lock()
		now -= job.Limits.MemoryBytes
		mu.Unlock()
		return Outcome{Stdout: []byte("ok\n")}, nil
	}
	s := newTestServer(t, Options{MaxConcurrent: 8, QueueSize: 200, MemoryBudgetMB: 1000,
		Defaults: limits.Values{MemoryMB: 256}, Max: limits.Values{MemoryMB: 600}}, r)
	var wg sync.WaitGroup
	errs := make(chan string, 100)
	for i := range 100 {
		wg.Go(func() {
			mem := 16 + (i*37)%585
			res := s.postJSON(t, "/api/v1/eval", fmt.Sprintf(`{"code":"1","config":{"memory_mb":%d}}`, mem))
			if res.status != http.StatusOK || !strings.Contains(string(res.body), `"completed"`) {
				errs <- fmt.Sprintf("%d MiB: %d %s", mem, res.status, res.body)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if peak > 1000<<20 || peak == 0 {
		t.Errorf("peak %d MiB, budget 1000 MiB", peak>>20)
	}
	t.Logf("peak of the running jobs' limits: %d MiB of 1000", peak>>20)
}

// TestTokenQuota: one token fills its share of the slots and of the
// queue and gets 429; another token is still admitted and runs at once,
// ahead of the first token's waiting jobs.
func TestTokenQuota(t *testing.T) {
	r := newStepRunner()
	s := newTestServer(t, Options{
		MaxConcurrent: 4, QueueSize: 8, TokenMaxConcurrent: 2, TokenMaxQueued: 2,
		Tokens: Tokens{User: []string{userToken, userToken2}},
	}, r)
	var mine []string
	for range 4 {
		st, id := s.submitAs(t, userToken, 64)
		if st != http.StatusAccepted {
			t.Fatalf("submission %d: %d %s", len(mine)+1, st, id)
		}
		mine = append(mine, id)
	}
	r.next(t)
	r.next(t)
	r.none(t, "the token already runs 2 jobs, its share (2 of 4 slots are free)")

	st, msg := s.submitAs(t, userToken, 64)
	if st != http.StatusTooManyRequests || !strings.Contains(msg, "this token") {
		t.Fatalf("fifth submission of the token: %d %s", st, msg)
	}
	res := doAuth(t, http.MethodPost, s.URL+"/api/v1/eval", "Bearer "+userToken, "application/json", `{"code":"1"}`)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "1" {
		t.Fatalf("sync run of the token: %d %s", res.status, res.body)
	}

	// The other token is admitted and starts at once.
	st, other := s.submitAs(t, userToken2, 64)
	if st != http.StatusAccepted {
		t.Fatalf("other token: %d %s", st, other)
	}
	if got := r.next(t); got.ID != other {
		t.Fatalf("started %s, want the other token's %s", got.ID, other)
	}
	metrics := string(doAuth(t, http.MethodGet, s.URL+"/metrics", "Bearer "+userToken2, "", "").body)
	if !strings.Contains(metrics, "pyexec_token_quota_rejections_total 2\n") {
		t.Errorf("metrics lack 2 quota rejections:\n%s", metrics)
	}

	// As the token's runs end, its waiting jobs start, never more than 2
	// at once.
	for range 5 {
		r.step <- struct{}{}
	}
	for _, id := range append(mine, other) {
		res := doAuth(t, http.MethodGet, s.URL+"/api/v1/executions/"+id+"?wait=5", "Bearer "+userToken, "", "")
		var e api.Execution
		res.decode(t, &e)
		if e.Status != api.StatusCompleted {
			t.Errorf("%s: %s", id, res.body)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if n := r.callerMax[newAuthenticator(Tokens{User: []string{userToken}}).entries[0].caller.id]; n != 2 {
		t.Errorf("the token ran %d jobs at once, want 2", n)
	}
}

// TestOpenServerHasNoQuota: without tokens there is nobody to tell apart;
// one client may use every slot and the whole queue.
func TestOpenServerHasNoQuota(t *testing.T) {
	r := newStepRunner()
	s := newTestServer(t, Options{MaxConcurrent: 2, QueueSize: 2}, r)
	for i := range 4 {
		if st, id := s.submitAs(t, "", 64); st != http.StatusAccepted {
			t.Fatalf("submission %d: %d %s", i+1, st, id)
		}
	}
	if st, _ := s.submitAs(t, "", 64); st != http.StatusTooManyRequests {
		t.Fatalf("past the queue: %d", st)
	}
	for range 4 {
		r.next(t)
		r.step <- struct{}{}
	}
}

func TestAdmissionOptions(t *testing.T) {
	o := Options{MaxConcurrent: 5, QueueSize: 9}.withDefaults()
	if o.TokenMaxConcurrent != 3 || o.TokenMaxQueued != 5 {
		t.Errorf("default token quotas %d, %d, want 3, 5", o.TokenMaxConcurrent, o.TokenMaxQueued)
	}
	if a := o.admission(); a.callerRunning != 0 || a.callerQueued != 0 {
		t.Errorf("an open server has quotas %+v", a)
	}
	o.Tokens = Tokens{User: []string{"x"}}
	if a := o.admission(); a.callerRunning != 3 || a.callerQueued != 5 {
		t.Errorf("admission %+v", a)
	}
	for _, tt := range []struct {
		name string
		opts Options
		want string
	}{
		{"max memory above the budget", Options{MemoryBudgetMB: 512}, "above the memory budget"},
		{"negative budget", Options{MemoryBudgetMB: -1}, "negative"},
		{"negative quota", Options{TokenMaxQueued: -1}, "negative"},
		{"header timeout above the read timeout", Options{HTTP: HTTPOptions{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Second}}, "read header timeout"},
	} {
		if _, err := New(tt.opts, &fakeRunner{}, &fakeInterps{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
	s, err := New(Options{MemoryBudgetMB: 8192}, &fakeRunner{}, &fakeInterps{})
	if err != nil {
		t.Fatalf("a budget of the max memory: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.Shutdown(ctx)
}
