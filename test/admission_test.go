package test

// Admission against the real binary: runs whose memory limits do not fit
// the budget together run one after the other although slots are free,
// and one token past its share gets 429 while another token's run starts.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// sleeper is a run of memMB that sleeps a while and prints "done".
func sleeper(memMB int) api.Metadata {
	return api.Metadata{Entrypoint: "main.py", Config: &api.Config{MemoryMB: &memMB}}
}

var sleepFiles = map[string]string{"main.py": "import time\ntime.sleep(2)\nprint('done')"}

// waitFinal long-polls a record until it is final.
func (s *Server) waitFinal(t *testing.T, auth, id string) api.Execution {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		r := s.requestAuth(t, http.MethodGet, "/api/v1/executions/"+id+"?wait=30", auth, "", "")
		e := decode[api.Execution](t, r.Body)
		if r.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", id, r.Status, r.Body)
		}
		if e.Status != api.StatusPending && e.Status != api.StatusRunning {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after a minute", id, e.Status)
		}
	}
}

func TestMemoryBudgetAdmission(t *testing.T) {
	s := startServer(t, "PYEXEC_EXECUTION_MEMORY_BUDGET_MB=256", "PYEXEC_LIMITS_MAX_MEMORY_MB=256",
		"PYEXEC_LIMITS_DEFAULT_MEMORY_MB=128", "PYEXEC_EXECUTION_MAX_CONCURRENT=4")
	if m := s.metrics(t); metric(m, "pyexec_memory_budget_bytes") != 256<<20 {
		t.Fatalf("budget: %v", metric(m, "pyexec_memory_budget_bytes"))
	}
	first := s.execAsync(t, sleepFiles, sleeper(160))
	second := s.execAsync(t, sleepFiles, sleeper(160)) // 160 + 160 > 256: waits
	a, b := s.waitFinal(t, "", first), s.waitFinal(t, "", second)
	wantRun(t, a, "done\n")
	wantRun(t, b, "done\n")
	if a.StartedAt == nil || a.FinishedAt == nil || b.StartedAt == nil {
		t.Fatalf("timestamps missing: %+v %+v", a, b)
	}
	if b.StartedAt.Before(*a.FinishedAt) {
		t.Errorf("the second run started at %v, before the first finished at %v: 320 MiB ran in a 256 MiB budget",
			b.StartedAt, a.FinishedAt)
	}
	t.Logf("second run queued %d ms while 3 slots were free", b.QueuedMS)
}

func TestTokenQuotaAdmission(t *testing.T) {
	const other = "e2e-other-0123456789abcdef"
	s := startServer(t, "PYEXEC_SERVER_AUTH_TOKENS="+e2eUserToken+","+other,
		"PYEXEC_SERVER_TOKEN_MAX_CONCURRENT=1", "PYEXEC_SERVER_TOKEN_MAX_QUEUED=1", "PYEXEC_EXECUTION_MAX_CONCURRENT=4")
	mine, theirs := "Bearer "+e2eUserToken, "Bearer "+other
	submit := func(auth string) response {
		body, ct := multipartBody(t, tarPart(tarFiles(t, sleepFiles)), metaPart(t, sleeper(128)))
		return s.requestAuth(t, http.MethodPost, "/api/v1/exec/async", auth, ct, string(body))
	}
	var ids []string
	for range 2 {
		r := submit(mine)
		if r.Status != http.StatusAccepted {
			t.Fatalf("token A: %d %s", r.Status, r.Body)
		}
		ids = append(ids, decode[api.Accepted](t, r.Body).ExecutionID)
	}
	if r := submit(mine); r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" ||
		!strings.Contains(string(r.Body), "this token") {
		t.Fatalf("token A's third run: %d %s", r.Status, r.Body)
	}
	r := submit(theirs)
	if r.Status != http.StatusAccepted {
		t.Fatalf("token B: %d %s", r.Status, r.Body)
	}
	b := s.waitFinal(t, theirs, decode[api.Accepted](t, r.Body).ExecutionID)
	a1, a2 := s.waitFinal(t, mine, ids[0]), s.waitFinal(t, mine, ids[1])
	for _, e := range []api.Execution{a1, a2, b} {
		wantRun(t, e, "done\n")
	}
	// Token A ran one at a time; token B's run did not wait for A's second.
	if a2.StartedAt.Before(*a1.FinishedAt) {
		t.Errorf("token A ran two at once: %v < %v", a2.StartedAt, a1.FinishedAt)
	}
	if !b.StartedAt.Before(*a1.FinishedAt) {
		t.Errorf("token B's run started at %v, after token A's first ended at %v", b.StartedAt, a1.FinishedAt)
	}
}
