package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
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
	now := time.Now().UTC()
	e.Status = api.StatusCompleted
	e.FinishedAt = &now
}

// finishWith finishes a record with output.
func finishWith(stdout, stderr string) func(*api.Execution) {
	return func(e *api.Execution) {
		finish(e)
		e.Stdout, e.Stderr = stdout, stderr
	}
}

// storeModes are the two kinds of record store: in memory, and on disk.
var storeModes = []string{"memory", "disk"}

// testStore opens a store in mode; dir is the records dir of a disk
// store ("" for a new one). The store is closed when the test ends.
func testStore(t *testing.T, mode, dir string, c storeConfig) *recordStore {
	t.Helper()
	if c.now == nil {
		c.now = time.Now
	}
	if c.ttl == 0 {
		c.ttl = time.Hour
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if mode == "disk" {
		if dir == "" {
			dir = t.TempDir()
		}
		d, err := openDisk(dir, true, c.log)
		if err != nil {
			t.Fatal(err)
		}
		c.disk = d
	}
	s, err := newRecordStore(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s *recordStore, id string) {
	t.Helper()
	if _, err := s.Put(api.Execution{ExecutionID: id, Status: api.StatusPending}); err != nil {
		t.Fatal(err)
	}
}

// update applies fn and waits until it is on disk.
func update(t *testing.T, s *recordStore, id string, fn func(*api.Execution)) api.Execution {
	t.Helper()
	e, durable, ok := s.Update(id, fn)
	if !ok {
		t.Fatalf("Update(%s): no such unfinished record", id)
	}
	<-durable
	return e
}

func has(s *recordStore, id string) bool {
	_, ok := s.Status(id)
	return ok
}

func TestRecordStoreTTL(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1000, 0)}
			s := testStore(t, mode, "", storeConfig{max: 10, ttl: time.Hour, now: clock.Now})
			for _, id := range []string{"a", "b", "c"} {
				put(t, s, id)
			}
			update(t, s, "a", finish)
			clock.Advance(30 * time.Minute)
			update(t, s, "b", finish)
			clock.Advance(30 * time.Minute) // a has been finished for an hour
			if has(s, "a") {
				t.Error("a is still there")
			}
			if !has(s, "b") {
				t.Error("b is gone too early")
			}
			clock.Advance(31 * time.Minute)
			s.Sweep()
			if n := s.Len(); n != 1 {
				t.Errorf("len = %d, want 1 (the unfinished c)", n)
			}
			if !has(s, "c") {
				t.Error("unfinished c was dropped")
			}
		})
	}
}

func TestRecordStoreMaxRecords(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1000, 0)}
			s := testStore(t, mode, "", storeConfig{max: 3, now: clock.Now})
			for _, id := range []string{"a", "b", "c"} {
				put(t, s, id)
			}
			if _, err := s.Put(api.Execution{ExecutionID: "d", Status: api.StatusPending}); !errors.Is(err, errStoreFull) {
				t.Fatalf("full of unfinished: err = %v, want errStoreFull", err)
			}
			update(t, s, "c", finish)
			clock.Advance(time.Second)
			update(t, s, "a", finish)
			put(t, s, "d")
			if has(s, "c") {
				t.Error("c, the first to finish, is still there")
			}
			for _, id := range []string{"a", "b", "d"} {
				if !has(s, id) {
					t.Errorf("%s was evicted", id)
				}
			}
			put(t, s, "e")
			if has(s, "a") {
				t.Error("a, the only finished record, is still there")
			}
			if _, err := s.Put(api.Execution{ExecutionID: "f", Status: api.StatusPending}); !errors.Is(err, errStoreFull) {
				t.Errorf("err = %v, want errStoreFull (b, d, e unfinished)", err)
			}
		})
	}
}

func TestRecordStoreMaxBytes(t *testing.T) {
	big := strings.Repeat("x", 100<<10) // on disk, in an output file
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(1000, 0)}
			s := testStore(t, mode, "", storeConfig{max: 100, maxBytes: 3 * (100<<10 + recordOverhead), now: clock.Now})
			for i := range 5 {
				id := fmt.Sprint("r", i)
				put(t, s, id)
				update(t, s, id, finishWith(big, ""))
				clock.Advance(time.Second)
			}
			put(t, s, "pending")
			for i := range 5 {
				if got, want := has(s, fmt.Sprint("r", i)), i >= 2; got != want {
					t.Errorf("r%d kept = %v, want %v (the 3 newest fit)", i, got, want)
				}
			}
			if b := s.Bytes(); b > 3*(100<<10+recordOverhead) {
				t.Errorf("bytes = %d, above the budget", b)
			}
			if !has(s, "pending") {
				t.Error("an unfinished record was evicted")
			}
			if mode == "disk" {
				files, _ := os.ReadDir(s.disk.outDir)
				if len(files) != 3 {
					t.Errorf("%d output files, want 3 (those of the records kept)", len(files))
				}
			}
		})
	}
}

func TestRecordStoreCopies(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			s := testStore(t, mode, "", storeConfig{max: 10})
			code := 1
			in := api.Execution{ExecutionID: "x", Status: api.StatusCompleted, ExitCode: &code, Result: []byte(`"1"`)}
			durable, err := s.Put(in)
			if err != nil {
				t.Fatal(err)
			}
			<-durable
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
			if _, _, ok := s.Update("missing", finish); ok {
				t.Error("Update of a missing record reported ok")
			}
			if _, _, ok := s.Update("x", finish); ok {
				t.Error("Update of a finished record reported ok")
			}
		})
	}
}

func TestRecordStoreConcurrent(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			s := testStore(t, mode, "", storeConfig{max: 50, maxBytes: 40 << 10, ttl: time.Millisecond})
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Go(func() {
					for i := range 100 {
						id := fmt.Sprintf("%d-%d", g, i)
						if _, err := s.Put(api.Execution{ExecutionID: id, Status: api.StatusPending}); err != nil {
							continue // full of unfinished ones for a moment
						}
						out := strings.Repeat("y", i*300) // some inline, some in files
						s.Update(id, finishWith(out, "e"))
						if e, ok := s.Get(id); ok && e.Stdout != out {
							t.Errorf("%s: stdout of %d bytes, want %d", id, len(e.Stdout), len(out))
						}
						s.Sweep()
					}
				})
			}
			wg.Wait()
			if n := s.Len(); n > 50 {
				t.Errorf("len = %d, above the bound", n)
			}
		})
	}
}

// recordJSON is the JSON the server sends for a stored record.
func recordJSON(t *testing.T, s *recordStore, id string) string {
	t.Helper()
	e, out, err := s.Open(id)
	if err != nil {
		t.Fatalf("Open(%s): %v", id, err)
	}
	defer out.Close()
	rec := httptest.NewRecorder()
	if err := writeRecordJSON(rec, 200, e, out); err != nil {
		t.Fatal(err)
	}
	return rec.Body.String()
}

// TestDiskStoreReopen: what a store wrote is there after it is closed
// and opened again, as the same JSON; what was pending or running comes
// back failed; TTL and the bounds apply to what was loaded.
func TestDiskStoreReopen(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	c := storeConfig{max: 10, now: clock.Now, ttl: time.Hour}
	s := testStore(t, "disk", dir, c)

	large := strings.Repeat("\x01<&>\u2028é", 20<<10) + "\xff\xfe" // in a file; invalid UTF-8 too
	records := map[string]func(*api.Execution){
		"small": finishWith("hello\n", "warning \xc3\n"),
		"large": finishWith(large, large[:1000]),
		"empty": finish,
		"result": func(e *api.Execution) {
			finish(e)
			e.Result = []byte(`"<b>'x'</b>"`)
			code, line := 1, 3
			e.ExitCode, e.ErrorLine, e.ErrorType = &code, &line, "ZeroDivisionError"
			e.Usage = &api.Usage{CPUMS: 12, MemoryPeakBytes: 1 << 20}
		},
	}
	want := map[string]string{}
	for id, fn := range records {
		put(t, s, id)
		update(t, s, id, func(e *api.Execution) { startExecution(e, clock.Now(), clock.Now()) })
		update(t, s, id, fn)
		want[id] = recordJSON(t, s, id)
		clock.Advance(time.Minute)
	}
	put(t, s, "queued")
	put(t, s, "running")
	update(t, s, "running", func(e *api.Execution) { startExecution(e, clock.Now(), clock.Now()) })
	if err := os.WriteFile(filepath.Join(dir, outputDirName, "exe_orphan"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	t.Run("records intact", func(t *testing.T) {
		s := testStore(t, "disk", dir, c)
		for id, w := range want {
			if got := recordJSON(t, s, id); got != w {
				t.Errorf("%s after reopening:\n%.300s\nwant\n%.300s", id, got, w)
			}
		}
		for _, id := range []string{"queued", "running"} {
			e, ok := s.Get(id)
			if !ok || e.Status != api.StatusFailed || e.Error != msgRestarted || e.FinishedAt == nil {
				t.Errorf("%s after reopening: %+v, want failed: %s", id, e, msgRestarted)
			}
		}
		if e, _ := s.Get("running"); e.StartedAt == nil {
			t.Error("the running record lost its started_at")
		}
		if _, err := os.Stat(filepath.Join(dir, outputDirName, "exe_orphan")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("an output file of no record is kept: %v", err)
		}
		s.Close()
	})
	t.Run("restarted records are final", func(t *testing.T) {
		s := testStore(t, "disk", dir, c)
		if e, _ := s.Get("queued"); e.Error != msgRestarted {
			t.Errorf("queued after a second reopening: %+v", e)
		}
		s.Close()
	})
	t.Run("max records", func(t *testing.T) {
		small := c
		small.max = 3
		s := testStore(t, "disk", dir, small)
		if n := s.Len(); n != 3 {
			t.Errorf("len = %d, want 3", n)
		}
		// The newest: the two restarted ones (finished at opening) and the
		// last of the others to finish.
		for _, id := range []string{"queued", "running"} {
			if !has(s, id) {
				t.Errorf("%s was evicted", id)
			}
		}
		s.Close()
	})
	t.Run("TTL", func(t *testing.T) {
		clock.Advance(2 * time.Hour)
		s := testStore(t, "disk", dir, c)
		if n := s.Len(); n != 0 {
			t.Errorf("len = %d two hours later, want 0", n)
		}
		s.Close()
		files, _ := os.ReadDir(filepath.Join(dir, outputDirName))
		if len(files) != 0 {
			t.Errorf("output files of expired records: %v", files)
		}
	})
}

func TestDiskStoreLocked(t *testing.T) {
	dir := t.TempDir()
	testStore(t, "disk", dir, storeConfig{max: 10})
	start := time.Now()
	_, err := openDisk(dir, false, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "in use by another process") {
		t.Fatalf("second open: %v, want in use", err)
	}
	if took := time.Since(start); took > 2*dbLockTimeout {
		t.Errorf("second open took %v", took)
	}
}

func TestDiskStoreBadFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, dbFileName), []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openDisk(dir, false, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a file that is not a database opened")
	}
}

// TestRecordStoreRelease gives back the records database's mapped pages
// (an idle server's trim): they leave the process's resident memory, and
// every record reads the same, before and after more writes.
func TestRecordStoreRelease(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			s := testStore(t, mode, dir, storeConfig{max: 1000})
			want := map[string]string{}
			add := func(from, to int) {
				for i := from; i < to; i++ {
					id := fmt.Sprintf("exe_%04d", i)
					put(t, s, id)
					update(t, s, id, finishWith(strings.Repeat("out ", 200), "err"))
					want[id] = recordJSON(t, s, id)
				}
			}
			add(0, 500)
			db := filepath.Join(dir, dbFileName)
			before := 0
			if mode == "disk" {
				before = mappedKB(t, db)
			}
			if err := s.Release(); err != nil {
				t.Fatal(err)
			}
			if mode == "disk" {
				if after := mappedKB(t, db); before < 64 || after > before/4 {
					t.Errorf("records database resident: %d kB before, %d kB after", before, after)
				}
			}
			add(500, 600)
			for id, w := range want {
				if got := recordJSON(t, s, id); got != w {
					t.Fatalf("%s after release:\n%.200s\nwant\n%.200s", id, got, w)
				}
			}
		})
	}
}

// mappedKB is how much of the file at path this process has resident
// through its mappings (/proc/self/smaps: the server runs on Linux only,
// so a missing file is a failure, never a skip).
func mappedKB(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	kb, in := 0, false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":") {
			in = len(f) >= 6 && f[len(f)-1] == path
			continue
		}
		if in && len(f) >= 2 && f[0] == "Rss:" {
			n, _ := strconv.Atoi(f[1])
			kb += n
		}
	}
	return kb
}
