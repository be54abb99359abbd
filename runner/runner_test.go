package runner

import (
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/configs/limits"
	"github.com/pyexec/pyexec/jail"
)

// TestJailLimits checks the one conversion from a run's limits to the
// jail's: every field lands, in the jail's units.
func TestJailLimits(t *testing.T) {
	got := jailLimits(limits.Run{Timeout: 3 * time.Second, MemoryBytes: 64 << 20, DiskBytes: 8 << 20,
		CPUShares: 512, CPULimit: 0.5, Pids: 32, MaxOutputBytes: 4096, Network: true})
	want := jail.Limits{
		Limits:         cgroup.Limits{MemoryBytes: 64 << 20, CPUShares: 512, CPUs: 0.5, Pids: 32},
		DiskBytes:      8 << 20,
		Timeout:        3 * time.Second,
		MaxOutputBytes: 4096,
	}
	if got != want {
		t.Fatalf("jailLimits = %+v, want %+v", got, want)
	}
}
