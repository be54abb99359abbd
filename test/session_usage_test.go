package test

// The usage a session cell reports (ours).

import (
	"os"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestSessionCellMemoryPeak: on cgroup v1 (this CI's host) a cell's
// memory_peak_bytes is its own: a small cell after one that used and
// freed 200 MiB reports far less, while the session's usage keeps the
// 200 MiB. (v2 before kernel 6.12 cannot restart a peak: there every
// cell reports the session's peak so far; jail's TestSessionCellPeak
// checks both in the v2 guest.)
func TestSessionCellMemoryPeak(t *testing.T) {
	s := sharedServer(t)
	id := s.openSession(t, api.SessionRequest{Config: &api.SessionConfig{Config: api.Config{MemoryMB: ptr(512)}}})
	big := s.cell(t, id, "b = b'x' * (200 << 20)\ndel b", 0)
	small := s.cell(t, id, "x = 1", 0)
	ses := s.session(t, id)
	if big.Usage == nil || small.Usage == nil || ses.Usage == nil {
		t.Fatalf("no usage: %s / %s / %+v", describeCell(big), describeCell(small), ses)
	}
	t.Logf("memory peak: big cell %d MiB, small cell %d MiB, session %d MiB",
		big.Usage.MemoryPeakBytes>>20, small.Usage.MemoryPeakBytes>>20, ses.Usage.MemoryPeakBytes>>20)
	if big.Usage.MemoryPeakBytes < 200<<20 || ses.Usage.MemoryPeakBytes < big.Usage.MemoryPeakBytes {
		t.Fatalf("big cell's peak %d, the session's %d: want both >= 200 MiB", big.Usage.MemoryPeakBytes, ses.Usage.MemoryPeakBytes)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.max_usage_in_bytes"); err != nil {
		t.Logf("not cgroup v1 memory (%v): the small cell's peak may be the session's", err)
		return
	}
	if small.Usage.MemoryPeakBytes >= 100<<20 {
		t.Errorf("the small cell reports %d MiB: the session's peak, not its own", small.Usage.MemoryPeakBytes>>20)
	}
}
