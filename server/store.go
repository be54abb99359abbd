package server

import (
	"errors"
	"sync"
	"time"

	"github.com/pyexec/pyexec/client/api"
)

var errStoreFull = errors.New("store full of unfinished records")

// memStore keeps execution records by id, in memory: at most max records;
// finished records are dropped ttl after they finished, and the oldest
// finished ones make room for new records when it is full. Unfinished ones
// are never evicted. It is safe for concurrent use and hands out copies,
// never its own records.
type memStore struct {
	max int
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	records  map[string]*api.Execution
	finished []finishedRef // in the order the records finished
}

type finishedRef struct {
	id string
	at time.Time
}

func newMemStore(max int, ttl time.Duration, now func() time.Time) *memStore {
	return &memStore{max: max, ttl: ttl, now: now, records: make(map[string]*api.Execution)}
}

// Put adds the record of a new, unfinished execution. It fails when the
// store is full of unfinished records.
func (s *memStore) Put(e api.Execution) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	for len(s.records) >= s.max {
		if !s.evictOldestLocked() {
			return errStoreFull
		}
	}
	c := cloneExecution(e)
	s.records[e.ExecutionID] = &c
	return nil
}

// Get returns a copy of the record with the id.
func (s *memStore) Get(id string) (api.Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	e, ok := s.records[id]
	if !ok {
		return api.Execution{}, false
	}
	return cloneExecution(*e), true
}

// Update applies fn to the record with the id and returns a copy of the
// result; false if there is no such record.
func (s *memStore) Update(id string, fn func(*api.Execution)) (api.Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.records[id]
	if !ok {
		return api.Execution{}, false
	}
	was := e.Finished()
	fn(e)
	e.ExecutionID = id
	if !was && e.Finished() {
		s.finished = append(s.finished, finishedRef{id: id, at: s.now()})
	}
	return cloneExecution(*e), true
}

// Len returns the number of records held.
func (s *memStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// Sweep drops the records that finished more than ttl ago.
func (s *memStore) Sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
}

func (s *memStore) expireLocked() {
	deadline := s.now().Add(-s.ttl)
	n := 0
	for n < len(s.finished) && !s.finished[n].at.After(deadline) {
		s.dropLocked(s.finished[n].id)
		n++
	}
	s.trimLocked(n)
}

// evictOldestLocked drops the record that finished first.
func (s *memStore) evictOldestLocked() bool {
	for n := 0; n < len(s.finished); n++ {
		if s.dropLocked(s.finished[n].id) {
			s.trimLocked(n + 1)
			return true
		}
	}
	s.trimLocked(len(s.finished))
	return false
}

// dropLocked deletes a finished record; false if it was already gone.
func (s *memStore) dropLocked(id string) bool {
	e, ok := s.records[id]
	if !ok || !e.Finished() {
		return false
	}
	delete(s.records, id)
	return true
}

// trimLocked forgets the first n refs, letting the array shrink.
func (s *memStore) trimLocked(n int) {
	if n == 0 {
		return
	}
	s.finished = append(s.finished[:0:0], s.finished[n:]...)
}
