package layers

import (
	"sync"
	"time"

	"github.com/pyexec/pyexec/interpreters/requirements"
)

// How long, and how many, outcomes of detected imports are remembered.
// Long enough that repeated requests do not run pip again; short enough
// that a package added to the index, or an index that was down, is tried
// again soon.
const (
	memoTTL = 10 * time.Minute
	memoMax = 4096
)

// memo remembers, for a while, what pip made of detected imports: the
// requirements a request's layer ended with and what was skipped (by the
// request's content), and the names pip found on no index (by interpreter
// version, index and name). It forgets everything past max entries of a
// kind rather than grow. Safe for concurrent use.
type memo struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu      sync.Mutex
	sets    map[string]memoSet
	missing map[string]time.Time
}

// memoSet is the outcome of one request's detected imports.
type memoSet struct {
	at    time.Time
	reqs  requirements.List // what the layer holds
	skips []Skip
}

func newMemo(ttl time.Duration, max int) *memo {
	return &memo{ttl: ttl, max: max, now: time.Now, sets: map[string]memoSet{}, missing: map[string]time.Time{}}
}

// set returns the outcome remembered for key.
func (m *memo) set(key string) (memoSet, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sets[key]
	if ok && m.now().Sub(s.at) >= m.ttl {
		delete(m.sets, key)
		ok = false
	}
	return s, ok
}

func (m *memo) putSet(key string, reqs requirements.List, skips []Skip) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.sets) >= m.max {
		for k, s := range m.sets {
			if now.Sub(s.at) >= m.ttl {
				delete(m.sets, k)
			}
		}
		if len(m.sets) >= m.max {
			clear(m.sets)
		}
	}
	m.sets[key] = memoSet{at: now, reqs: reqs, skips: skips}
}

func (m *memo) forgetSet(key string) {
	m.mu.Lock()
	delete(m.sets, key)
	m.mu.Unlock()
}

// isMissing reports whether key (of one name) was found on no index.
func (m *memo) isMissing(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	at, ok := m.missing[key]
	if ok && m.now().Sub(at) >= m.ttl {
		delete(m.missing, key)
		ok = false
	}
	return ok
}

func (m *memo) putMissing(key string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if len(m.missing) >= m.max {
		for k, at := range m.missing {
			if now.Sub(at) >= m.ttl {
				delete(m.missing, k)
			}
		}
		if len(m.missing) >= m.max {
			clear(m.missing)
		}
	}
	m.missing[key] = now
}
