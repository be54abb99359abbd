package test

// Records while they are not final: exit_code is in every record (0 until
// the code has exited, as python-executor sends it), and a running record
// shows the output written so far, cold and warm.

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// rawRecord reads a record as JSON fields, to see which keys are on the
// wire; wait is the ?wait= value, "" for none.
func (s *Server) rawRecord(t testing.TB, id, wait string) map[string]any {
	t.Helper()
	path := "/api/v1/executions/" + url.PathEscape(id)
	if wait != "" {
		path += "?wait=" + wait
	}
	r := s.do(t, http.MethodGet, path, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
	}
	return decode[map[string]any](t, r.Body)
}

func TestUnfinishedRecords(t *testing.T) {
	for _, tt := range []struct {
		name string
		pool string
		warm bool
	}{
		{"cold", "PYEXEC_POOL_SIZES=3.12=0", false},
		{"warm", "PYEXEC_POOL_SIZES=3.12=1", true},
		{"zygote", "PYEXEC_POOL_SIZES=3.12=0", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			zyg := "PYEXEC_ZYGOTE_ENABLED=" + fmt.Sprint(tt.name == "zygote")
			s := startServer(t, "PYEXEC_EXECUTION_MAX_CONCURRENT=1", tt.pool, zyg)
			if tt.name == "zygote" {
				s.waitZygote(t)
			}
			if tt.warm {
				s.waitWarm(t)
			}
			code := mainPy(`import time; print("a", flush=True); time.sleep(3)`)
			id := s.execAsync(t, code, entry)
			queued := s.execAsync(t, code, entry)

			t.Run("pending", func(t *testing.T) {
				m := s.rawRecord(t, queued, "")
				if v, ok := m["exit_code"]; m["status"] != api.StatusPending || !ok || v != 0.0 {
					t.Errorf("record %v, want pending with exit_code 0", m)
				}
			})
			t.Run("killed while pending", func(t *testing.T) {
				if r := s.kill(t, queued); r.Status != http.StatusOK {
					t.Fatalf("DELETE: %d %s", r.Status, r.Body)
				}
				m := s.rawRecord(t, queued, "")
				if v, ok := m["exit_code"]; m["status"] != api.StatusKilled || m["started_at"] != nil || !ok || v != 0.0 {
					t.Errorf("record %v, want killed before it ran, with exit_code 0", m)
				}
			})
			t.Run("running", func(t *testing.T) {
				var m map[string]any
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
					if m = s.rawRecord(t, id, ""); (m["status"] != api.StatusPending && m["status"] != api.StatusRunning) || m["stdout"] == "a\n" {
						break
					}
				}
				if v, ok := m["exit_code"]; m["status"] != api.StatusRunning || m["stdout"] != "a\n" || !ok || v != 0.0 {
					t.Fatalf("record %v, want running with stdout \"a\\n\" and exit_code 0", m)
				}
				// A long-poll that times out answers the same.
				m = s.rawRecord(t, id, "0.2")
				if v, ok := m["exit_code"]; m["status"] != api.StatusRunning || m["stdout"] != "a\n" || !ok || v != 0.0 {
					t.Errorf("long-poll record %v, want running with stdout \"a\\n\" and exit_code 0", m)
				}
			})
			wantRun(t, s.waitDone(t, id), "a\n")
			if tt.warm {
				if h := s.health(t); len(h.Pool) == 0 || h.Pool[0].Served == 0 {
					t.Errorf("the run did not take a pooled jail: %+v", h.Pool)
				}
			}
		})
	}
}
