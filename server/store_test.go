package server

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/client/api"
)

// fakeClock is a settable clock for the store.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func finish(e *api.Execution) {
	now := time.Now()
	e.Status = api.StatusCompleted
	e.FinishedAt = &now
}

func TestMemStoreTTL(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	s := newMemStore(10, time.Hour, clock.Now)
	for _, id := range []string{"a", "b", "c"} {
		if err := s.Put(api.Execution{ExecutionID: id, Status: api.StatusPending}); err != nil {
			t.Fatal(err)
		}
	}
	s.Update("a", finish)
	clock.Advance(30 * time.Minute)
	s.Update("b", finish)
	clock.Advance(30 * time.Minute) // a has been finished for an hour

	t.Run("expired on access", func(t *testing.T) {
		if _, ok := s.Get("a"); ok {
			t.Error("a is still there")
		}
		if _, ok := s.Get("b"); !ok {
			t.Error("b is gone too early")
		}
	})
	t.Run("sweep", func(t *testing.T) {
		clock.Advance(31 * time.Minute)
		s.Sweep()
		if n := s.Len(); n != 1 {
			t.Errorf("len = %d, want 1 (the unfinished c)", n)
		}
		if _, ok := s.Get("c"); !ok {
			t.Error("unfinished c was dropped")
		}
	})
}

func TestMemStoreMaxRecords(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1000, 0)}
	s := newMemStore(3, time.Hour, clock.Now)
	put := func(id string) error { return s.Put(api.Execution{ExecutionID: id, Status: api.StatusPending}) }
	for _, id := range []string{"a", "b", "c"} {
		if err := put(id); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("full of unfinished", func(t *testing.T) {
		if err := put("d"); !errors.Is(err, errStoreFull) {
			t.Errorf("err = %v, want errStoreFull", err)
		}
	})
	t.Run("evicts the oldest finished", func(t *testing.T) {
		s.Update("c", finish)
		clock.Advance(time.Second)
		s.Update("a", finish)
		if err := put("d"); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Get("c"); ok {
			t.Error("c, the first to finish, is still there")
		}
		for _, id := range []string{"a", "b", "d"} {
			if _, ok := s.Get(id); !ok {
				t.Errorf("%s was evicted", id)
			}
		}
	})
	t.Run("evicts the last finished, then is full", func(t *testing.T) {
		if err := put("e"); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Get("a"); ok {
			t.Error("a, the only finished record, is still there")
		}
		if n := s.Len(); n != 3 {
			t.Errorf("len = %d", n)
		}
		if err := put("f"); !errors.Is(err, errStoreFull) {
			t.Errorf("err = %v, want errStoreFull (b, d, e unfinished)", err)
		}
	})
}

func TestMemStoreCopies(t *testing.T) {
	s := newMemStore(10, time.Hour, time.Now)
	code := 1
	in := api.Execution{ExecutionID: "x", Status: api.StatusCompleted, ExitCode: &code, Result: []byte(`"1"`)}
	if err := s.Put(in); err != nil {
		t.Fatal(err)
	}
	code = 2
	in.Result[1] = '9'
	got, _ := s.Get("x")
	if *got.ExitCode != 1 || string(got.Result) != `"1"` {
		t.Fatalf("store shares memory with Put's argument: %d %s", *got.ExitCode, got.Result)
	}
	*got.ExitCode = 3
	got.Result[1] = '8'
	again, _ := s.Get("x")
	if *again.ExitCode != 1 || string(again.Result) != `"1"` {
		t.Errorf("store shares memory with Get's result: %d %s", *again.ExitCode, again.Result)
	}
	if _, ok := s.Update("missing", finish); ok {
		t.Error("Update of a missing record reported ok")
	}
}

func TestMemStoreConcurrent(t *testing.T) {
	s := newMemStore(50, time.Millisecond, time.Now)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", g, i)
				if err := s.Put(api.Execution{ExecutionID: id, Status: api.StatusPending}); err != nil {
					continue // full of unfinished ones for a moment
				}
				s.Update(id, finish)
				s.Get(id)
				s.Sweep()
			}
		}()
	}
	wg.Wait()
	if n := s.Len(); n > 50 {
		t.Errorf("len = %d, above the bound", n)
	}
}
