package jail

import (
	"errors"

	"github.com/pyexec/pyexec/cgroup"
)

// Prepared runs. Each zygote keeps Config.ZygotePrepared runs forked ahead
// (see prepped): a request then costs its launch (the request on a pipe,
// its files, the cgroup limits written again when they differ), not the
// fork, the namespaces, the mounts and the cgroup. A prepared run is made
// for the disk size and cgroup limits of the zygote's last request; one
// that asks for another disk size forks its own run, and the prepared run
// made for the old size gives way to one of the new size.

// PreparedComm is the process name of a prepared run's processes until
// its request comes (its pid 1 and its code process; then both take the
// interpreter's name back). Leftover checks count them as the server's.
const PreparedComm = "pyexec-prep"

// takePrepared returns a prepared run with disk bytes of /work and /tmp,
// or nil. When none has that size and every place is taken, the oldest
// is discarded, so the refill that follows makes one of this size.
func (z *Zygote) takePrepared(disk int64) *prepped {
	z.prepMu.Lock()
	for i, p := range z.preps {
		if p.disk == disk {
			z.preps = append(z.preps[:i], z.preps[i+1:]...)
			z.prepMu.Unlock()
			return p
		}
	}
	var old *prepped
	if len(z.preps) > 0 && len(z.preps) >= z.m.cfg.ZygotePrepared {
		old, z.preps = z.preps[0], z.preps[1:]
	}
	z.prepMu.Unlock()
	if old != nil {
		z.discard(old)
	}
	return nil
}

// refill starts preparing runs of disk bytes and cgroup limits cg in the
// background, until the zygote has its Config.ZygotePrepared of them.
func (z *Zygote) refill(disk int64, cg cgroup.Limits) {
	z.prepMu.Lock()
	n := z.m.cfg.ZygotePrepared - len(z.preps) - z.filling
	if z.prepClosed || n <= 0 {
		z.prepMu.Unlock()
		return
	}
	z.filling += n
	z.prepMu.Unlock()
	for range n {
		go func() {
			p, err := z.prepare(Limits{DiskBytes: disk, Limits: cg}.withDefaults(), nil)
			z.prepMu.Lock()
			z.filling--
			keep := err == nil && !z.prepClosed
			if keep {
				z.preps = append(z.preps, p)
			}
			z.prepMu.Unlock()
			switch {
			case errors.Is(err, ErrZygoteBusy):
				// Every run slot is taken: the next request's refill tries again.
			case err != nil:
				if z.Alive() {
					z.m.log.Warn("zygote could not prepare a run: its requests fork their own", "err", err)
				}
			case !keep:
				z.discard(p)
			}
		}()
	}
}

// dropPrepared discards the prepared runs and prepares no more (the
// zygote ends, or retires).
func (z *Zygote) dropPrepared() {
	z.prepMu.Lock()
	preps := z.preps
	z.preps, z.prepClosed = nil, true
	z.prepMu.Unlock()
	for _, p := range preps {
		z.discard(p)
	}
}

// Prepared is how many runs wait for a request.
func (z *Zygote) Prepared() int {
	z.prepMu.Lock()
	defer z.prepMu.Unlock()
	return len(z.preps)
}

// discard ends a prepared run that will get no request: without its
// request its code process leaves at once, and the kill covers one
// still on its way; reap removes what is left.
func (z *Zygote) discard(p *prepped) {
	p.goW.Close()
	p.filesW.Close()
	p.j.Kill()
	z.reap(p.j)
}

// reap waits for a run that will not be answered, in the background,
// which releases its cgroup, uid and place.
func (z *Zygote) reap(j *Jail) {
	z.m.cleanups.Add(1)
	go func() {
		defer z.m.cleanups.Done()
		_, _ = j.Wait()
	}()
}
