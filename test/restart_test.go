package test

// Execution records survive the server: a restart on the same records
// dir after SIGTERM or SIGKILL serves the same records, and the runs that
// were queued or running end failed, saying why (issue 12).

import (
	"bytes"
	"net/http"
	"net/url"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// Messages of the records a stopped server did not finish.
const (
	msgShutdown  = "the server shut down before the execution finished"
	msgRestarted = "the server restarted before the execution finished"
)

// recordBytes GETs a record's JSON as sent.
func (s *Server) recordBytes(t testing.TB, id string) response {
	t.Helper()
	return s.do(t, http.MethodGet, "/api/v1/executions/"+url.PathEscape(id), "", nil)
}

// restart stops the server with sig, waits for its jails to go, and
// starts it again on the same state and records dirs with env.
func (s *Server) restart(t *testing.T, sig syscall.Signal, env ...string) {
	t.Helper()
	if _, ok := s.signal(sig, stopTimeout); !ok {
		t.Fatalf("pyexecd did not exit within %v of %v", stopTimeout, sig)
	}
	if sig == syscall.SIGTERM && s.exitErr != nil {
		t.Errorf("pyexecd exited with %v after SIGTERM", s.exitErr)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.jailProcs()) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if procs := s.jailProcs(); len(procs) > 0 {
		t.Fatalf("jail processes outlived the server: %v", procs)
	}
	if err := s.start(env); err != nil {
		t.Fatalf("restart: %v", err)
	}
}

func TestRestartKeepsRecords(t *testing.T) {
	for _, c := range []struct {
		name string
		sig  syscall.Signal
		msg  string // of the records left queued and running
	}{
		{"SIGTERM", syscall.SIGTERM, msgShutdown},
		{"SIGKILL", syscall.SIGKILL, msgRestarted},
	} {
		t.Run(c.name, func(t *testing.T) {
			env := []string{"PYEXEC_EXECUTION_MAX_CONCURRENT=1", "PYEXEC_SERVER_SHUTDOWN_GRACE=1s"}
			s := startServer(t, env...)

			finished := map[string][]byte{} // id -> its JSON before the restart
			for _, code := range []string{
				"print('kept')",
				// 300 KB of output: in a file next to the database; raw
				// bytes, invalid UTF-8 included.
				"import sys\nsys.stdout.buffer.write(b'\\x01\\xff<&>' * 60000)\nprint('x', file=sys.stderr)",
				"1/0",
			} {
				e := s.eval(t, api.EvalRequest{Code: code})
				r := s.recordBytes(t, e.ExecutionID)
				if r.Status != http.StatusOK {
					t.Fatalf("GET %s: %d %s", e.ExecutionID, r.Status, r.Body)
				}
				finished[e.ExecutionID] = r.Body
			}
			running := s.execAsync(t, mainPy(tagged("e2e-restart", "import time\nprint('up', flush=True)\ntime.sleep(60)")), entry)
			waitRunning(t, s, running)
			queued := s.execAsync(t, mainPy("print('never')"), entry)

			s.restart(t, c.sig, env...)

			for id, before := range finished {
				r := s.recordBytes(t, id)
				if r.Status != http.StatusOK || !bytes.Equal(r.Body, before) {
					t.Errorf("%s after the restart: status %d, %d bytes (%d before), identical %v:\n%.300s",
						id, r.Status, len(r.Body), len(before), bytes.Equal(r.Body, before), r.Body)
				}
			}
			for _, id := range []string{running, queued} {
				status, e := s.get(t, id, 0)
				if status != http.StatusOK || e.Status != api.StatusFailed || e.Error != c.msg || e.FinishedAt == nil || e.ExitCode == nil {
					t.Errorf("%s after the restart: %d %s, want failed: %s", id, status, describe(e), c.msg)
				}
			}
			if status, e := s.get(t, running, 0); status == http.StatusOK && e.StartedAt == nil {
				t.Error("the record that was running lost its started_at")
			}
			// The restarted server runs new work.
			again := s.eval(t, api.EvalRequest{Code: "print('again')"})
			if again.Stdout != "again\n" {
				t.Errorf("eval after the restart: %s", describe(again))
			}

			t.Run("max_records after restart", func(t *testing.T) {
				// Two records: the newest (the eval just run and the last
				// one to be finished before it).
				s.restart(t, syscall.SIGTERM, "PYEXEC_EXECUTION_MAX_CONCURRENT=1", "PYEXEC_EXECUTION_QUEUE_SIZE=1", "PYEXEC_EXECUTION_MAX_RECORDS=2")
				kept := 0
				for id := range finished {
					if status, _ := s.get(t, id, 0); status == http.StatusOK {
						kept++
					}
				}
				if kept != 0 {
					t.Errorf("%d of the oldest records kept, want 0 with max_records 2", kept)
				}
				if status, e := s.get(t, again.ExecutionID, 0); status != http.StatusOK || e.Stdout != "again\n" {
					t.Errorf("the newest record after a restart with max_records 2: %d %s", status, describe(e))
				}
			})
			t.Run("TTL after restart", func(t *testing.T) {
				time.Sleep(1100 * time.Millisecond)
				s.restart(t, syscall.SIGTERM, "PYEXEC_EXECUTION_CLEANUP_TTL=1s")
				for _, id := range []string{running, queued} {
					if status, e := s.get(t, id, 0); status != http.StatusNotFound {
						t.Errorf("%s more than the TTL after it finished: %d %s, want 404", id, status, describe(e))
					}
				}
			})
		})
	}
}
