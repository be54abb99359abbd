package runner

import (
	"github.com/pyexec/pyexec/api"
)

// PoolStatus is /health's view of the pooled jails (none without a pool).
func (r *Runner) PoolStatus() []api.PoolSlot {
	if r.pool == nil {
		return nil
	}
	st := r.pool.Status()
	out := make([]api.PoolSlot, len(st))
	for i, s := range st {
		out[i] = api.PoolSlot{Version: s.Key, Size: s.Size, Ready: s.Ready, Failing: s.Failing,
			Served: s.Served, Missed: s.Missed}
	}
	return out
}

// ZygoteStatus is /health's source for the zygotes: nil (not reported)
// when the runner has none.
func (r *Runner) ZygoteStatus() func() []api.ZygoteSlot {
	if r.zygotes == nil {
		return nil
	}
	return func() []api.ZygoteSlot {
		st := r.zygotes.Status()
		out := make([]api.ZygoteSlot, len(st))
		for i, s := range st {
			out[i] = api.ZygoteSlot{Version: s.Key, Running: s.Running, Failing: s.Failing, AgeS: int64(s.Age.Seconds()),
				Served: s.Served, Missed: s.Missed, Recycled: s.Recycled, Prepared: s.Prepared}
		}
		return out
	}
}
