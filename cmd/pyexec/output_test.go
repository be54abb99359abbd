package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func TestExitCodeMapping(t *testing.T) {
	code := func(c int) *int { return &c }
	tests := []struct {
		name string
		rec  api.Execution
		want int
	}{
		{"completed 0", api.Execution{Status: api.StatusCompleted, ExitCode: code(0)}, 0},
		{"completed no code", api.Execution{Status: api.StatusCompleted}, 0},
		{"completed 42", api.Execution{Status: api.StatusCompleted, ExitCode: code(42)}, 42},
		{"signal", api.Execution{Status: api.StatusCompleted, ExitCode: code(-9)}, 137},
		{"too big", api.Execution{Status: api.StatusCompleted, ExitCode: code(256)}, 255},
		{"timed out", api.Execution{Status: api.StatusFailed, TimedOut: true, ExitCode: code(137)}, 124},
		{"timed out in words", api.Execution{Status: api.StatusFailed, Error: "Execution timed out"}, 124},
		{"pyexec timed out", api.Execution{Status: api.StatusFailed, TimedOut: true, Error: "execution timed out after 1s",
			PythonVersion: "3.12.1", Usage: &api.Usage{}}, 124},
		{"pyexec pre_command mentioning timeout", api.Execution{Status: api.StatusFailed, ExitCode: code(2),
			Error: "pre_command 1 (timeout 5 make) failed with exit code 2", PythonVersion: "3.12.1", Usage: &api.Usage{}}, 2},
		{"pyexec pip read timed out", api.Execution{Status: api.StatusFailed,
			Error: "could not install numpy: Read timed out", PythonVersion: "3.12.1"}, 1},
		{"pyexec usage only", api.Execution{Status: api.StatusFailed, Error: "timeout", Usage: &api.Usage{}}, 1},
		{"oom", api.Execution{Status: api.StatusFailed, OOMKilled: true}, 137},
		{"failed exit 0", api.Execution{Status: api.StatusFailed, ExitCode: code(0), Error: "output limit"}, 1},
		{"killed", api.Execution{Status: api.StatusKilled}, 137},
		{"running", api.Execution{Status: api.StatusRunning}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := exitCode(&tt.rec); got != tt.want {
				t.Errorf("exitCode = %d, want %d", got, tt.want)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgress(t *testing.T) {
	var buf syncBuffer
	p := newProgress(&buf, 5*time.Millisecond, 5*time.Millisecond, "waiting", "exe_1")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(buf.String(), "⏳ waiting") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.set("running", "")
	for !strings.Contains(buf.String(), "⏳ running") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	p.finish()
	out := buf.String()
	if !strings.HasPrefix(out, "\r⏳ waiting 0s (exe_1)") || !strings.Contains(out, "\r⏳ running") {
		t.Errorf("progress output = %q", out)
	}
	if !strings.HasSuffix(out, " \r") {
		t.Errorf("progress line not erased: %q", out)
	}

	// Nothing before the delay, and nothing at all when disabled.
	var quick syncBuffer
	newProgress(&quick, time.Hour, time.Hour, "running", "").finish()
	var none *progress
	none.set("x", "y")
	none.finish()
	if quick.String() != "" {
		t.Errorf("progress printed before its delay: %q", quick.String())
	}
	c := &cli{stderr: &quick}
	if c.startProgress("running", "") != nil {
		t.Error("progress started on a stderr that is not a terminal")
	}
}
