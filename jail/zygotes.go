package jail

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// ZygoteTemplate describes the zygote kept for one interpreter.
type ZygoteTemplate struct {
	// Key names it (an interpreter version).
	Key string
	// Spec starts the zygote (see StartZygote); Ready is what it writes
	// once it waits for requests.
	Spec  Spec
	Ready string
	// Eager: started with the pool; otherwise on its first request (which
	// runs cold meanwhile).
	Eager bool
	// RunLimits are the limits most of its runs have (the request
	// defaults): its first prepared runs are made for them. Zero: the
	// jail defaults.
	RunLimits Limits
}

// ZygoteStatus reports one interpreter's zygote.
type ZygoteStatus struct {
	Key      string
	Running  bool          // a zygote serves requests
	Failing  bool          // the last start failed (logged): requests run cold
	Age      time.Duration // of the serving zygote
	Served   int64         // runs forked, all generations
	Missed   int64         // requests that found no zygote (or every run slot busy)
	Recycled int64         // zygotes replaced for age or count
	Prepared int           // runs of the serving zygote forked ahead (see Zygote.Start)
}

// ZygotePool keeps one zygote per interpreter, replaces it once it is older
// than maxAge or served maxRuns runs (so that an address-space layout and a
// hash seed do not serve forever), and restarts one that died, backing off
// while starts fail.
type ZygotePool struct {
	m       *Manager
	maxAge  time.Duration
	maxRuns int64
	grace   time.Duration
	slots   map[string]*zslot
	closed  atomic.Bool
	wg      sync.WaitGroup
}

type zslot struct {
	p    *ZygotePool
	tmpl ZygoteTemplate

	mu       sync.Mutex
	cur      *Zygote
	starting bool
	failing  bool
	retryAt  time.Time
	backoff  time.Duration

	served, missed, recycled atomic.Int64
}

// NewZygotePool starts the eager zygotes in the background. Zero maxAge:
// 10 minutes; zero maxRuns: 10000.
func (m *Manager) NewZygotePool(templates []ZygoteTemplate, maxAge time.Duration, maxRuns int64) (*ZygotePool, error) {
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	if maxRuns <= 0 {
		maxRuns = 10000
	}
	p := &ZygotePool{m: m, maxAge: maxAge, maxRuns: maxRuns, grace: 30 * time.Second, slots: map[string]*zslot{}}
	for _, t := range templates {
		if _, dup := p.slots[t.Key]; dup {
			return nil, fmt.Errorf("zygotes: template %q twice", t.Key)
		}
		s := &zslot{p: p, tmpl: t, backoff: time.Second}
		p.slots[t.Key] = s
		if t.Eager {
			s.mu.Lock()
			s.startLocked(nil)
			s.mu.Unlock()
		}
	}
	return p, nil
}

// Has reports whether key has a zygote template.
func (p *ZygotePool) Has(key string) bool { _, ok := p.slots[key]; return ok }

// startLocked starts a zygote in the background; old, when not nil, is
// retired once the new one serves. s.mu is held.
func (s *zslot) startLocked(old *Zygote) {
	if s.starting || s.p.closed.Load() || time.Now().Before(s.retryAt) {
		return
	}
	s.starting = true
	s.p.wg.Add(1)
	go func() {
		defer s.p.wg.Done()
		z, err := s.p.m.startZygote(s.tmpl.Spec, s.tmpl.Ready, s.tmpl.RunLimits)
		s.mu.Lock()
		s.starting = false
		if err != nil {
			s.failing = true
			s.retryAt = time.Now().Add(s.backoff)
			s.backoff = min(2*s.backoff, time.Minute)
			s.mu.Unlock()
			if !s.p.closed.Load() { // a start cut short by shutdown is no failure
				s.p.m.log.Error("zygote did not start: its runs go cold", "key", s.tmpl.Key, "err", err)
			}
			return
		}
		if s.p.closed.Load() {
			s.mu.Unlock()
			z.Close(0)
			return
		}
		s.failing, s.backoff = false, time.Second
		prev := s.cur
		s.cur = z
		s.mu.Unlock()
		if prev != nil {
			s.retire(prev)
		}
	}()
}

// retire closes z once its runs in flight are done; its sessions (forks
// of it, which would die with it) end first, unless the pool closes.
func (s *zslot) retire(z *Zygote) {
	s.p.wg.Add(1)
	z.dropPrepared()
	go func() {
		defer s.p.wg.Done()
		for z.sessions.Load() > 0 && !s.p.closed.Load() {
			time.Sleep(time.Second)
		}
		z.Close(s.p.grace)
	}()
}

// current returns the zygote to fork from, starting or replacing one as
// needed; nil when none serves yet.
func (s *zslot) current() *Zygote {
	s.mu.Lock()
	defer s.mu.Unlock()
	z := s.cur
	switch {
	case z == nil:
		s.startLocked(nil)
		return nil
	case !z.Alive():
		s.p.m.log.Warn("zygote died; starting another", "key", s.tmpl.Key, "err", z.exit, "stderr", z.Stderr())
		s.cur = nil
		s.failing = true
		s.startLocked(nil)
		return nil
	case z.Age() > s.p.maxAge || z.Served() >= s.p.maxRuns:
		if !s.starting {
			s.recycled.Add(1)
		}
		s.startLocked(z) // keeps serving until its replacement does
	}
	return z
}

// Start forks a run of key's zygote. ok is false when no zygote could take
// it (none yet, failing, every run slot busy): the caller runs it
// elsewhere. An error with ok true is the run's own failure.
func (p *ZygotePool) Start(key string, a Activation) (_ *Jail, ok bool, _ error) {
	s := p.slots[key]
	if s == nil || p.closed.Load() {
		return nil, false, nil
	}
	z := s.current()
	if z == nil {
		s.missed.Add(1)
		return nil, false, nil
	}
	j, err := z.Start(a)
	switch {
	case errors.Is(err, ErrZygoteBusy), errors.Is(err, ErrZygoteDead):
		s.missed.Add(1)
		return nil, false, nil
	case err != nil:
		return nil, false, err
	}
	s.served.Add(1)
	return j, true, nil
}

// RunWatched is Start and Wait, killing the run when ctx ends; started
// (when not nil) gets the run once it is started.
func (p *ZygotePool) RunWatched(ctx context.Context, key string, a Activation, started func(*Jail)) (Result, bool, error) {
	j, ok, err := p.Start(key, a)
	if !ok || err != nil {
		return Result{}, ok, err
	}
	if started != nil {
		started(j)
	}
	stop := context.AfterFunc(ctx, j.Kill)
	defer stop()
	res, err := j.Wait()
	return res, true, err
}

// Status reports every interpreter's zygote, by key.
func (p *ZygotePool) Status() []ZygoteStatus {
	out := make([]ZygoteStatus, 0, len(p.slots))
	for key, s := range p.slots {
		s.mu.Lock()
		st := ZygoteStatus{Key: key, Failing: s.failing, Served: s.served.Load(), Missed: s.missed.Load(), Recycled: s.recycled.Load()}
		if s.cur != nil && s.cur.Alive() {
			st.Running, st.Age, st.Prepared = true, s.cur.Age(), s.cur.Prepared()
		}
		s.mu.Unlock()
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// Close ends every zygote (their runs in flight die with them: call it
// after the runs were stopped).
func (p *ZygotePool) Close() {
	if p.closed.Swap(true) {
		return
	}
	for _, s := range p.slots {
		s.mu.Lock()
		z := s.cur
		s.cur = nil
		s.mu.Unlock()
		if z != nil {
			z.Close(0)
		}
	}
	p.wg.Wait()
}
