package jail

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Template describes the jails one pool slot keeps ready.
type Template struct {
	// Key names the slot (an interpreter version).
	Key string
	// Spec is what each pooled jail is started with: its Args must be a
	// process that waits for its request on the control pipe. Its Limits
	// hold while the jail idles and fix its disk size.
	Spec Spec
	// Size is how many jails the slot keeps ready.
	Size int
	// Ready is what the process writes to its report pipe when it waits
	// for its request (see StartWarm).
	Ready string
}

// PoolStatus reports one slot.
type PoolStatus struct {
	Key     string
	Size    int
	Ready   int
	Failing bool  // the last start failed (logged); requests run cold
	Served  int64 // requests run in a pooled jail
	Missed  int64 // requests that found the slot empty
}

// Pool keeps jails started ahead of requests, so that a request pays only
// for handing its code to an already running interpreter. A pooled jail
// serves one request and is destroyed; the pool refills in the background.
type Pool struct {
	m      *Manager
	maxAge time.Duration
	slots  map[string]*slot
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type slot struct {
	tmpl    Template
	ready   chan *Jail
	want    chan struct{}
	failing atomic.Bool
	served  atomic.Int64
	missed  atomic.Int64
}

// NewPool starts filling a slot per template. maxAge recycles jails that
// waited longer (zero: 10 minutes).
func (m *Manager) NewPool(templates []Template, maxAge time.Duration) (*Pool, error) {
	if maxAge <= 0 {
		maxAge = 10 * time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Pool{m: m, maxAge: maxAge, slots: map[string]*slot{}, cancel: cancel}
	for _, t := range templates {
		if t.Size <= 0 {
			continue
		}
		if _, dup := p.slots[t.Key]; dup {
			cancel()
			return nil, fmt.Errorf("pool: template %q twice", t.Key)
		}
		t.Spec.Limits = t.Spec.Limits.withDefaults()
		s := &slot{tmpl: t, ready: make(chan *Jail, t.Size), want: make(chan struct{}, 1)}
		p.slots[t.Key] = s
		p.wg.Add(1)
		go p.fill(ctx, s)
	}
	return p, nil
}

// DiskBytes is the disk size of the slot's jails, 0 when there is no slot.
func (p *Pool) DiskBytes(key string) int64 {
	if s, ok := p.slots[key]; ok {
		return s.tmpl.Spec.Limits.DiskBytes
	}
	return 0
}

// fill keeps s full until ctx ends.
func (p *Pool) fill(ctx context.Context, s *slot) {
	defer p.wg.Done()
	backoff := 100 * time.Millisecond
	tick := time.NewTicker(max(p.maxAge/4, time.Second))
	defer tick.Stop()
	for {
		for len(s.ready) < cap(s.ready) && ctx.Err() == nil {
			j, err := p.m.StartWarm(s.tmpl.Spec, s.tmpl.Ready)
			if err != nil {
				if !s.failing.Swap(true) {
					p.m.log.Error("pool cannot start jails: requests run in cold jails", "slot", s.tmpl.Key, "err", err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(backoff):
				}
				backoff = min(backoff*2, 30*time.Second)
				continue
			}
			if s.failing.Swap(false) {
				p.m.log.Info("pool recovered", "slot", s.tmpl.Key)
			}
			backoff = 100 * time.Millisecond
			s.ready <- j
		}
		select {
		case <-ctx.Done():
			return
		case <-s.want:
		case <-tick.C:
			p.recycle(s)
		}
	}
}

// recycle replaces the jails of s that waited longer than maxAge.
func (p *Pool) recycle(s *slot) {
	for n := len(s.ready); n > 0; n-- {
		select {
		case j := <-s.ready:
			if j.Age() < p.maxAge {
				s.ready <- j
				continue
			}
			discard(j)
		default:
			return
		}
	}
}

// discard kills an unused pooled jail and removes it.
func discard(j *Jail) {
	j.Kill()
	_, _ = j.Wait()
}

// take returns a ready jail of slot key, or nil.
func (p *Pool) take(key string) (*Jail, *slot) {
	s, ok := p.slots[key]
	if !ok {
		return nil, nil
	}
	select {
	case j := <-s.ready:
		s.served.Add(1)
		return j, s
	default:
		s.missed.Add(1)
		s.refill()
		return nil, nil
	}
}

// refill asks the slot's filler to start jails. The filler is asked when a
// run has ended rather than when it begins: a container start costs tens
// of milliseconds of CPU, and on a small machine it would slow down the
// very run that emptied the slot.
func (s *slot) refill() {
	select {
	case s.want <- struct{}{}:
	default:
	}
}

// Run runs a in a pooled jail of slot key. ok is false when no jail was
// ready or the pooled jail could not take the request: run it cold then.
// Cancelling ctx kills the jail.
func (p *Pool) Run(ctx context.Context, key string, a Activation) (res Result, ok bool, err error) {
	return p.RunWatched(ctx, key, a, nil)
}

// RunWatched is Run that calls started (when not nil) with the jail once
// it has its request, before waiting for it (see Manager.RunWatched).
func (p *Pool) RunWatched(ctx context.Context, key string, a Activation, started func(*Jail)) (res Result, ok bool, err error) {
	j, s := p.take(key)
	if j == nil {
		return Result{}, false, nil
	}
	defer s.refill()
	if err := j.Activate(a); err != nil {
		discard(j)
		if errors.Is(err, ErrDiskSize) {
			return Result{}, false, nil
		}
		return Result{}, false, fmt.Errorf("pooled jail: %w", err)
	}
	if started != nil {
		started(j)
	}
	stop := context.AfterFunc(ctx, j.Kill)
	defer stop()
	res, err = j.Wait()
	return res, true, err
}

// Status reports every slot.
func (p *Pool) Status() []PoolStatus {
	out := make([]PoolStatus, 0, len(p.slots))
	for _, s := range p.slots {
		out = append(out, PoolStatus{
			Key: s.tmpl.Key, Size: s.tmpl.Size, Ready: len(s.ready),
			Failing: s.failing.Load(),
			Served:  s.served.Load(), Missed: s.missed.Load(),
		})
	}
	slices.SortFunc(out, func(a, b PoolStatus) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// Close stops refilling and destroys every ready jail.
func (p *Pool) Close() {
	p.cancel()
	p.wg.Wait()
	for _, s := range p.slots {
		for len(s.ready) > 0 {
			discard(<-s.ready)
		}
	}
}
