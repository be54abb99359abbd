package limits

import (
	"testing"
	"time"
)

// TestDefaultsWithinBounds keeps the defaults between the minimums and
// the ceilings, as configs and the server both require.
func TestDefaultsWithinBounds(t *testing.T) {
	lo, def, hi := Min(), Defaults(), Ceilings()
	hi.CPULimit = CPUCeiling(hi.CPULimit)
	for _, f := range []struct {
		name         string
		lo, def, max float64
	}{
		{"timeout_seconds", float64(lo.TimeoutSeconds), float64(def.TimeoutSeconds), float64(hi.TimeoutSeconds)},
		{"memory_mb", float64(lo.MemoryMB), float64(def.MemoryMB), float64(hi.MemoryMB)},
		{"disk_mb", float64(lo.DiskMB), float64(def.DiskMB), float64(hi.DiskMB)},
		{"cpu_shares", float64(lo.CPUShares), float64(def.CPUShares), float64(hi.CPUShares)},
		{"pids_limit", float64(lo.PidsLimit), float64(def.PidsLimit), float64(hi.PidsLimit)},
		{"max_output_bytes", float64(lo.MaxOutputBytes), float64(def.MaxOutputBytes), float64(hi.MaxOutputBytes)},
	} {
		if f.def < f.lo || f.def > f.max {
			t.Errorf("default %s %g outside [%g, %g]", f.name, f.def, f.lo, f.max)
		}
	}
	if hi.CPUShares > MaxCPUShares {
		t.Errorf("cpu_shares ceiling %d above the kernel's %d", hi.CPUShares, MaxCPUShares)
	}
	if MaxRecords < QueueSize {
		t.Errorf("MaxRecords %d below QueueSize %d", MaxRecords, QueueSize)
	}
}

func TestFillAndRun(t *testing.T) {
	v := Values{MemoryMB: 64, CPULimit: 0.5}.Fill(Defaults())
	want := Defaults()
	want.MemoryMB, want.CPULimit = 64, 0.5
	if v != want {
		t.Fatalf("Fill = %+v, want %+v", v, want)
	}
	got := v.Run(true)
	wantRun := Run{Timeout: 300 * time.Second, MemoryBytes: 64 << 20, DiskBytes: 2048 << 20, CPUShares: 1024,
		CPULimit: 0.5, Pids: 256, MaxOutputBytes: 1 << 20, Network: true}
	if got != wantRun {
		t.Fatalf("Run = %+v, want %+v", got, wantRun)
	}
}

func TestCPUCeiling(t *testing.T) {
	if got := CPUCeiling(1.5); got != 1.5 {
		t.Errorf("CPUCeiling(1.5) = %g", got)
	}
	if got := CPUCeiling(0); got < 1 {
		t.Errorf("CPUCeiling(0) = %g, want the number of CPUs", got)
	}
}
