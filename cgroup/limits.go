package cgroup

import "fmt"

// Limits are the resource limits of one jail's group. A zero field means
// "no limit" for that resource.
type Limits struct {
	// MemoryBytes caps the group's memory; swap is disabled where the host
	// allows it, so this is the whole of what the jail may use.
	MemoryBytes int64
	// CPUShares is the relative CPU weight in cgroup v1 units (2..262144,
	// 1024 is the default); on v2 it is converted to cpu.weight.
	CPUShares uint64
	// CPUs caps CPU time at this many cores (0.5 = half a core).
	CPUs float64
	// Pids caps the number of tasks (processes and threads).
	Pids int64
}

// cpuPeriod is the CFS period the quota is expressed against, in µs.
const cpuPeriod = 100000

// quota returns the CFS quota in µs for l.CPUs, or 0 for no quota.
func (l Limits) quota() int64 {
	if l.CPUs <= 0 {
		return 0
	}
	q := int64(l.CPUs * cpuPeriod)
	if q < 1000 {
		q = 1000 // the kernel's minimum is 1 ms
	}
	return q
}

// Validate reports limits the kernel would refuse.
func (l Limits) Validate() error {
	switch {
	case l.MemoryBytes < 0:
		return fmt.Errorf("memory limit %d: must not be negative", l.MemoryBytes)
	case l.CPUShares != 0 && (l.CPUShares < 2 || l.CPUShares > 262144):
		return fmt.Errorf("cpu shares %d: must be within 2..262144", l.CPUShares)
	case l.CPUs < 0:
		return fmt.Errorf("cpu quota %g: must not be negative", l.CPUs)
	case l.Pids < 0:
		return fmt.Errorf("pids limit %d: must not be negative", l.Pids)
	}
	return nil
}

// sharesToWeight converts v1 cpu.shares (2..262144) to v2 cpu.weight
// (1..10000), the conversion runc and the OCI runtime spec use.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	return 1 + ((shares-2)*9999)/262142
}
