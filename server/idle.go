package server

import (
	"sync/atomic"
	"time"
)

// idleTrimAfter is how long the server runs no execution before it gives
// the heap's free memory back to the kernel.
const idleTrimAfter = 2 * time.Second

// idleTrim returns free heap memory to the kernel once the server is idle.
// A burst of runs grows the heap (its garbage collector's goal doubles the
// live heap) and the runtime gives the pages back only slowly; an idle
// server should hold what it holds at its start. Work is executions
// starting and ending; requests that run nothing (health checks, record
// reads) are not, so polling does not keep the memory.
type idleTrim struct {
	last    atomic.Int64 // unix nanoseconds of the last execution's start or end
	trimmed atomic.Bool  // nothing ran since the last trim
}

// work marks an execution's start or end at now.
func (t *idleTrim) work(now time.Time) {
	t.last.Store(now.UnixNano())
	t.trimmed.Store(false)
}

// due reports, at most once per idle period, whether free should run now:
// nothing ran for idleTrimAfter.
func (t *idleTrim) due(now time.Time) bool {
	if t.trimmed.Load() || now.Sub(time.Unix(0, t.last.Load())) < idleTrimAfter {
		return false
	}
	return t.trimmed.CompareAndSwap(false, true)
}
