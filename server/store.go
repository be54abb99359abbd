package server

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/pyexec/pyexec/api"
)

var (
	errStoreFull = errors.New("store full of unfinished records")
	errNoRecord  = errors.New("no such record")
)

// storeConfig bounds a recordStore.
type storeConfig struct {
	max      int           // records kept, finished or not
	maxBytes int64         // bytes of finished records kept (recordSize); 0: no bound
	ttl      time.Duration // how long a finished record is kept
	now      func() time.Time
	disk     *diskStore // nil: every record is kept in memory
	files    *fileStore // the records' output files; nil: none are kept
	log      *slog.Logger
}

// recordStore keeps execution records by id. Unfinished records are in
// memory; finished ones are on disk (with a disk) and held in memory only
// until their write is committed. At most max records are kept, and
// finished ones taking at most maxBytes; finished records are dropped ttl
// after they finished, and the oldest finished ones make room for new
// records and bytes. Unfinished ones are never evicted. It is safe for
// concurrent use and hands out copies, never its own records.
type recordStore struct {
	storeConfig

	mu       sync.Mutex
	records  map[string]*entry
	finished []finishedRef // in the order the records finished
	bytes    int64         // recordSize of the finished records
	closed   bool
}

// entry is one record of the store.
type entry struct {
	rec      *api.Execution // nil: finished and on disk only
	finished bool
	status   string    // of a finished record
	at       time.Time // when it finished, by the store's clock
	size     int64     // recordSize, once finished
	seq      uint64    // the last write handed to the disk
	file     bool      // its output is in a file of the disk
	outFiles bool      // it has output files in s.files
}

type finishedRef struct {
	id string
	at time.Time
}

// newRecordStore returns a store with the records of c.disk (see
// diskStore.load): the finished ones as they are, the ones that were
// queued or running when the last server stopped as failed.
func newRecordStore(c storeConfig) (*recordStore, error) {
	s := &recordStore{storeConfig: c, records: make(map[string]*entry)}
	if c.disk == nil {
		return s, nil
	}
	loaded, err := c.disk.load(c.now())
	if err != nil {
		return nil, err
	}
	for _, l := range loaded {
		e := &entry{finished: true, status: l.rec.Status, at: l.at, size: l.size, file: l.file,
			outFiles: len(l.rec.OutputFiles) > 0}
		s.records[l.rec.ExecutionID] = e
		s.finished = append(s.finished, finishedRef{id: l.rec.ExecutionID, at: l.at})
		s.bytes += l.size
	}
	if c.files != nil {
		keep := map[string]bool{}
		for id, e := range s.records {
			keep[id] = e.outFiles
		}
		c.files.removeOrphans(keep)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	for len(s.records) > s.max && s.evictOldestLocked("") {
	}
	s.fitBytesLocked("")
	return s, nil
}

// closedDone is the durable channel of a write that waits for nothing.
var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// Put adds the record of a new execution. It fails when the store is full
// of unfinished records. The returned channel is closed once the record
// is on disk.
func (s *recordStore) Put(e api.Execution) (<-chan struct{}, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	for len(s.records) >= s.max {
		if !s.evictOldestLocked("") {
			return nil, errStoreFull
		}
	}
	c := cloneExecution(e)
	en := &entry{rec: &c}
	s.records[e.ExecutionID] = en
	if c.Finished() {
		s.finishLocked(e.ExecutionID, en)
	}
	return s.writeLocked(e.ExecutionID, en), nil
}

// Update applies fn to the unfinished record with the id and returns a
// copy of the result; false if there is no such unfinished record. The
// returned channel is closed once the change is on disk; a record that fn
// finishes is not evicted before.
func (s *recordStore) Update(id string, fn func(*api.Execution)) (api.Execution, <-chan struct{}, bool) {
	s.mu.Lock()
	en, ok := s.records[id]
	if !ok || en.finished {
		s.mu.Unlock()
		return api.Execution{}, nil, false
	}
	fn(en.rec)
	en.rec.ExecutionID = id
	out := cloneExecution(*en.rec)
	if !out.Finished() || s.disk == nil || !largeOutput(out) {
		if out.Finished() {
			s.finishLocked(id, en)
		}
		durable := s.writeLocked(id, en)
		s.mu.Unlock()
		return out, durable, true
	}
	// A large output goes to a file first, outside the lock.
	s.finishLocked(id, en)
	en.seq++
	seq := en.seq
	s.mu.Unlock()
	err := s.disk.writeOutput(id, out.Stdout, out.Stderr)
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil:
		s.log.Error("execution record kept in memory only: its output could not be written", "id", id, "err", err)
		return out, closedDone, true
	case s.records[id] != en || en.seq != seq: // evicted meanwhile
		s.disk.removeOutput(id)
		return out, closedDone, true
	}
	en.file = true
	return out, s.sendLocked(id, en, seq), true
}

// finishLocked files a record that has just finished and makes room for
// its bytes.
func (s *recordStore) finishLocked(id string, en *entry) {
	en.finished = true
	en.status = en.rec.Status
	en.at = s.now()
	en.size = recordSize(*en.rec)
	en.outFiles = len(en.rec.OutputFiles) > 0
	s.finished = append(s.finished, finishedRef{id: id, at: en.at})
	s.bytes += en.size
	s.fitBytesLocked(id)
}

// writeLocked hands the record's current state to the disk.
func (s *recordStore) writeLocked(id string, en *entry) <-chan struct{} {
	if s.disk == nil {
		return closedDone
	}
	en.seq++
	return s.sendLocked(id, en, en.seq)
}

// sendLocked queues the write of en (already given seq) and, for a
// finished record, drops the memory copy once it is committed.
func (s *recordStore) sendLocked(id string, en *entry, seq uint64) <-chan struct{} {
	after := func(err error) {
		if err != nil {
			s.log.Error("execution record kept in memory only: writing it failed", "id", id, "err", err)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.records[id] == en && en.seq == seq && en.finished {
			en.rec = nil
		}
	}
	return s.disk.put(id, *en.rec, en.at, en.file, after)
}

// Open returns a copy of the record with the id, whose output, for a
// record read from disk, is to be read from out (nil otherwise). The
// caller closes out. errNoRecord if there is none; errClosed after Close.
func (s *recordStore) Open(id string) (api.Execution, *recordOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return api.Execution{}, nil, errClosed
	}
	s.expireLocked()
	en, ok := s.records[id]
	if !ok {
		return api.Execution{}, nil, errNoRecord
	}
	if en.rec != nil {
		return cloneExecution(*en.rec), nil, nil
	}
	// Under the lock: nobody can remove the record while it is opened.
	return s.disk.open(id)
}

// Get returns a copy of the record with the id, its output included.
func (s *recordStore) Get(id string) (api.Execution, bool) {
	e, out, err := s.Open(id)
	if err != nil {
		return api.Execution{}, false
	}
	if out != nil {
		defer out.Close()
		if e.Stdout, e.Stderr, err = out.readAll(); err != nil {
			s.log.Error("reading an execution record's output", "id", id, "err", err)
			return api.Execution{}, false
		}
	}
	return e, true
}

// Status returns the status of the record with the id.
func (s *recordStore) Status(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
	en, ok := s.records[id]
	switch {
	case !ok:
		return "", false
	case en.finished:
		return en.status, true
	}
	return en.rec.Status, true
}

// Len returns the number of records held.
func (s *recordStore) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

// Bytes returns the recordSize of the finished records held.
func (s *recordStore) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Sweep drops the records that finished more than ttl ago.
func (s *recordStore) Sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked()
}

// Release gives back the memory the disk's database holds mapped (an idle
// server's trim, with the heap's).
func (s *recordStore) Release() error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if s.disk == nil || closed {
		return nil
	}
	return s.disk.release()
}

// Flush waits until every write handed to the disk so far is committed.
func (s *recordStore) Flush() {
	if s.disk != nil {
		s.disk.flush()
	}
}

// Close writes what is still to be written and closes the disk. Records
// are not served after it.
func (s *recordStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	var err error
	if s.files != nil {
		err = s.files.Close()
	}
	if s.disk == nil {
		return err
	}
	return errors.Join(s.disk.Close(), err)
}

func (s *recordStore) expireLocked() {
	deadline := s.now().Add(-s.ttl)
	n := 0
	for n < len(s.finished) && !s.finished[n].at.After(deadline) {
		s.dropLocked(s.finished[n].id)
		n++
	}
	s.trimLocked(n)
}

// fitBytesLocked evicts the oldest finished records, except keep, until
// the finished ones fit maxBytes.
func (s *recordStore) fitBytesLocked(keep string) {
	for s.maxBytes > 0 && s.bytes > s.maxBytes && s.evictOldestLocked(keep) {
	}
}

// evictOldestLocked drops the record that finished first, except keep.
func (s *recordStore) evictOldestLocked(keep string) bool {
	for n := 0; n < len(s.finished); n++ {
		id := s.finished[n].id
		if id == keep {
			continue
		}
		if s.dropLocked(id) {
			if n == 0 {
				s.trimLocked(1) // the usual case: no copy
			} else {
				s.finished = append(s.finished[:n:n], s.finished[n+1:]...)
			}
			return true
		}
	}
	return false
}

// dropLocked deletes a finished record; false if it was already gone.
func (s *recordStore) dropLocked(id string) bool {
	en, ok := s.records[id]
	if !ok || !en.finished {
		return false
	}
	delete(s.records, id)
	s.bytes -= en.size
	if en.outFiles && s.files != nil {
		s.files.remove(id)
	}
	if s.disk != nil {
		s.disk.remove(id, en.file)
	}
	return true
}

// trimLocked forgets the first n refs. The array is not copied (that
// was a copy of up to max refs per record stored, once the store is
// full): the refs move up it, and appends past its end copy the live
// ones to a new array, leaving the old one behind.
func (s *recordStore) trimLocked(n int) {
	if n == 0 {
		return
	}
	clear(s.finished[:n])
	s.finished = s.finished[n:]
}

// recordOverhead is what a record's fields count besides its output and
// the strings below (recordSize): the size of their JSON, rounded up.
const recordOverhead = 1 << 10

// recordSize is what a finished record counts against maxBytes.
func recordSize(e api.Execution) int64 {
	n := int64(len(e.Stdout)+len(e.Stderr)+len(e.Error)+len(e.ErrorType)+len(e.Result)) + recordOverhead
	for _, d := range e.Display {
		n += int64(len(d.Data))
	}
	for _, f := range e.OutputFiles {
		n += f.Size
	}
	return n
}
