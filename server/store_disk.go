package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/api"
)

// The records dir (Options.RecordsDir) holds:
//
//	records.db    bbolt: bucket "records" (id -> diskRecord as JSON),
//	              bucket "output" (id -> stdout then stderr, for outputs
//	              of up to inlineOutputMax bytes), bucket "meta" ("format")
//	output/<id>   stdout then stderr of a larger output
//	spool/        uploads waiting for their job (see spooled)
const (
	dbFileName    = "records.db"
	outputDirName = "output"
	diskFormat    = "1"
	// inlineOutputMax is the largest output (stdout and stderr together)
	// kept in the database; a larger one goes to a file, which is written
	// and read without passing through the database's memory map.
	inlineOutputMax = 16 << 10
	// dbLockTimeout is how long opening waits for another process to
	// release the database.
	dbLockTimeout = 2 * time.Second
)

var (
	bucketRecords = []byte("records")
	bucketOutput  = []byte("output")
	bucketMeta    = []byte("meta")
	keyFormat     = []byte("format")
)

// diskRecord is a record as the database holds it. Its stdout and stderr
// are kept apart, as the bytes the code wrote (JSON would replace invalid
// UTF-8 and change the record's encoding).
type diskRecord struct {
	Record api.Execution `json:"record"` // Stdout and Stderr empty
	// At is when the record finished, by the store's clock, in Unix
	// nanoseconds; 0 while it is unfinished.
	At          int64 `json:"at,omitempty"`
	StdoutBytes int64 `json:"stdout_bytes,omitempty"`
	StderrBytes int64 `json:"stderr_bytes,omitempty"`
	// File: the output is in output/<id>, not in the "output" bucket.
	File bool `json:"file,omitempty"`
}

// diskStore keeps execution records in a bbolt database and output files
// next to it. Writes are group-committed by one goroutine: whatever was
// queued while a commit ran goes into the next one, so a write waits for
// at most one commit besides its own, and an idle store adds no delay.
// Every commit is synced (fdatasync) before the writes in it count as
// done.
type diskStore struct {
	db     *bolt.DB
	outDir string
	log    *slog.Logger

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []diskOp
	closing bool
	done    chan struct{} // closed when the committer has exited
}

// diskOp is one queued write.
type diskOp struct {
	id     string
	meta   []byte // the diskRecord; nil deletes the record
	output []byte // its inline output, if any
	file   bool   // a delete removes output/<id> once committed
	// barrier: no write, only done once what came before is committed
	barrier bool
	after   func(error)
	done    chan struct{}
}

// openDisk opens (creating it if needed) the records database in dir.
func openDisk(dir string, syncWrites bool, log *slog.Logger) (*diskStore, error) {
	outDir := filepath.Join(dir, outputDirName)
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nil, fmt.Errorf("records dir: %w", err)
	}
	path := filepath.Join(dir, dbFileName)
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:        dbLockTimeout,
		NoFreelistSync: true, // rebuilt on open: commits write less
		// Without sync a commit is in the page cache when it returns: a
		// crash of the server loses nothing, a power loss may.
		NoSync:       !syncWrites,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("records database %s is in use by another process", path)
	}
	if err != nil {
		return nil, fmt.Errorf("records database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketRecords, bucketOutput} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		switch f := meta.Get(keyFormat); {
		case f == nil:
			return meta.Put(keyFormat, []byte(diskFormat))
		case string(f) != diskFormat:
			return fmt.Errorf("format %q, this server reads %q", f, diskFormat)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("records database %s: %w", path, err)
	}
	d := &diskStore{db: db, outDir: outDir, log: log, done: make(chan struct{})}
	d.cond = sync.NewCond(&d.mu)
	go d.commit()
	return d, nil
}

// loadedRecord is a finished record found on disk.
type loadedRecord struct {
	rec  api.Execution // without its output
	at   time.Time
	size int64 // recordSize
	file bool
}

// load returns the records on disk in the order they finished. Records
// that were still pending or running, whose server is gone, are first
// rewritten as failed at now (msgRestarted). Output files no record
// refers to are removed.
func (d *diskStore) load(now time.Time) ([]loadedRecord, error) {
	var out []loadedRecord
	err := d.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		var restarted []loadedRecord
		err := b.ForEach(func(k, v []byte) error {
			var dr diskRecord
			if err := json.Unmarshal(v, &dr); err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			l := loadedRecord{rec: dr.Record, at: now, file: dr.File}
			if !l.rec.Finished() {
				restartedExecution(&l.rec, now)
				l.size = recordSize(l.rec)
				restarted = append(restarted, l)
				return nil
			}
			if dr.At != 0 {
				l.at = time.Unix(0, dr.At)
			}
			l.size = recordSize(l.rec) + dr.StdoutBytes + dr.StderrBytes
			out = append(out, l)
			return nil
		})
		if err != nil {
			return err
		}
		for _, l := range restarted {
			v, err := json.Marshal(diskRecord{Record: l.rec, At: l.at.UnixNano()})
			if err != nil {
				return err
			}
			if err := b.Put([]byte(l.rec.ExecutionID), v); err != nil {
				return err
			}
		}
		out = append(out, restarted...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading records: %w", err)
	}
	slices.SortStableFunc(out, func(a, b loadedRecord) int { return a.at.Compare(b.at) })
	d.removeOrphans(out)
	return out, nil
}

// removeOrphans removes the output files no record refers to: those of
// records whose removal was committed, or whose own commit was not.
func (d *diskStore) removeOrphans(recs []loadedRecord) {
	keep := make(map[string]bool, len(recs))
	for _, l := range recs {
		if l.file {
			keep[l.rec.ExecutionID] = true
		}
	}
	names, err := os.ReadDir(d.outDir)
	if err != nil {
		d.log.Warn("listing record outputs", "err", err)
		return
	}
	for _, n := range names {
		if !keep[n.Name()] {
			_ = os.Remove(filepath.Join(d.outDir, n.Name()))
		}
	}
}

// put queues the write of a record; after is called once it is
// committed (nil) or failed, and then the returned channel is closed.
func (d *diskStore) put(id string, e api.Execution, at time.Time, file bool, after func(error)) <-chan struct{} {
	dr := diskRecord{Record: e, StdoutBytes: int64(len(e.Stdout)), StderrBytes: int64(len(e.Stderr)), File: file}
	dr.Record.Stdout, dr.Record.Stderr = "", ""
	if !at.IsZero() {
		dr.At = at.UnixNano()
	}
	op := diskOp{id: id, after: after, done: make(chan struct{})}
	var err error
	if op.meta, err = json.Marshal(dr); err != nil {
		after(fmt.Errorf("encoding record: %w", err))
		close(op.done)
		return op.done
	}
	if !file && len(e.Stdout)+len(e.Stderr) > 0 {
		op.output = make([]byte, 0, len(e.Stdout)+len(e.Stderr))
		op.output = append(append(op.output, e.Stdout...), e.Stderr...)
	}
	d.enqueue(op)
	return op.done
}

// flush waits until what is queued now is committed.
func (d *diskStore) flush() {
	done := make(chan struct{})
	d.enqueue(diskOp{barrier: true, done: done})
	<-done
}

// remove queues the deletion of a record and of its output file.
func (d *diskStore) remove(id string, file bool) {
	d.enqueue(diskOp{id: id, file: file})
}

func (d *diskStore) enqueue(op diskOp) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closing {
		if op.after != nil {
			op.after(errClosed)
		}
		if op.done != nil {
			close(op.done)
		}
		return
	}
	d.queue = append(d.queue, op)
	d.cond.Signal()
}

// commit writes the queued operations, all that are there at once in one
// transaction, until Close.
func (d *diskStore) commit() {
	defer close(d.done)
	for {
		d.mu.Lock()
		for len(d.queue) == 0 && !d.closing {
			d.cond.Wait()
		}
		ops := d.queue
		d.queue = nil
		d.mu.Unlock()
		if len(ops) == 0 {
			return // closing, and nothing is left
		}
		err := d.db.Update(func(tx *bolt.Tx) error {
			recs, outs := tx.Bucket(bucketRecords), tx.Bucket(bucketOutput)
			for _, op := range ops {
				if op.barrier {
					continue
				}
				key := []byte(op.id)
				if op.meta == nil {
					if err := recs.Delete(key); err != nil {
						return err
					}
					if err := outs.Delete(key); err != nil {
						return err
					}
					continue
				}
				if err := recs.Put(key, op.meta); err != nil {
					return err
				}
				var err error
				if op.output != nil {
					err = outs.Put(key, op.output)
				} else {
					err = outs.Delete(key)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			d.log.Error("writing execution records", "records", len(ops), "err", err)
		}
		for _, op := range ops {
			if err == nil && op.meta == nil && op.file && !op.barrier {
				d.removeOutput(op.id)
			}
			if op.after != nil {
				op.after(err)
			}
			if op.done != nil {
				close(op.done)
			}
		}
	}
}

// release takes the database's pages out of the server's resident memory
// (they stay in the page cache; a read maps them again). bbolt reads
// through a shared read-only mapping of the whole file, so a server that
// has written and read its 10000 records keeps ~8 MB of them resident
// (measured, session 5: an idle server's RSS 38 MB after ~12000 runs at
// c4 without this, 30 MB with it, 25 MB at its start). madvise(MADV_DONTNEED) is safe on such a mapping: nothing
// in it is private, no byte changes. The read transaction holds bbolt's
// mmap lock, so the mapping cannot move while it is advised.
func (d *diskStore) release() error {
	return d.db.View(func(tx *bolt.Tx) error {
		addr, size := d.db.Info().Data, tx.Size()
		if addr == 0 || size <= 0 {
			return nil
		}
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, addr, uintptr(size), unix.MADV_DONTNEED); errno != 0 {
			return fmt.Errorf("madvise records database: %w", errno)
		}
		return nil
	})
}

// Close commits what is queued and closes the database.
func (d *diskStore) Close() error {
	d.mu.Lock()
	d.closing = true
	d.cond.Signal()
	d.mu.Unlock()
	<-d.done
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("closing records database: %w", err)
	}
	return nil
}

func (d *diskStore) outputPath(id string) string { return filepath.Join(d.outDir, id) }

// writeOutput writes a record's output to its file and syncs it and the
// directory, so that the record's commit never refers to a missing file.
func (d *diskStore) writeOutput(id, stdout, stderr string) error {
	f, err := os.OpenFile(d.outputPath(id), os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("output file: %w", err)
	}
	_, err = io.WriteString(f, stdout)
	if err == nil {
		_, err = io.WriteString(f, stderr)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(d.outDir)
	}
	if err != nil {
		d.removeOutput(id)
		return fmt.Errorf("output file: %w", err)
	}
	return nil
}

func (d *diskStore) removeOutput(id string) {
	if err := os.Remove(d.outputPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		d.log.Warn("removing a record's output", "id", id, "err", err)
	}
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// open reads the record with the id and opens its output.
func (d *diskStore) open(id string) (api.Execution, *recordOutput, error) {
	var (
		dr     diskRecord
		inline []byte
	)
	err := d.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketRecords).Get([]byte(id))
		if v == nil {
			return errNoRecord
		}
		if err := json.Unmarshal(v, &dr); err != nil {
			return fmt.Errorf("decoding record: %w", err)
		}
		if !dr.File {
			inline = bytes.Clone(tx.Bucket(bucketOutput).Get([]byte(id)))
		}
		return nil
	})
	if err != nil {
		return api.Execution{}, nil, fmt.Errorf("record %s: %w", id, err)
	}
	var src io.ReaderAt = bytes.NewReader(inline)
	out := &recordOutput{}
	if dr.File {
		f, err := os.Open(d.outputPath(id))
		if err != nil {
			return api.Execution{}, nil, fmt.Errorf("record %s: %w", id, err)
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != dr.StdoutBytes+dr.StderrBytes {
			f.Close()
			return api.Execution{}, nil, fmt.Errorf("record %s: output file of the wrong size (%v)", id, err)
		}
		src, out.f = f, f
	} else if int64(len(inline)) != dr.StdoutBytes+dr.StderrBytes {
		return api.Execution{}, nil, fmt.Errorf("record %s: %d bytes of output, want %d", id, len(inline), dr.StdoutBytes+dr.StderrBytes)
	}
	out.stdout = io.NewSectionReader(src, 0, dr.StdoutBytes)
	out.stderr = io.NewSectionReader(src, dr.StdoutBytes, dr.StderrBytes)
	return dr.Record, out, nil
}

// recordOutput is the stdout and stderr of a record read from disk.
type recordOutput struct {
	stdout, stderr io.Reader
	f              *os.File // nil: the output was in the database
}

// Close releases the output's file. It is safe on nil.
func (o *recordOutput) Close() {
	if o != nil && o.f != nil {
		o.f.Close()
	}
}

// readAll reads the whole output into memory.
func (o *recordOutput) readAll() (stdout, stderr string, err error) {
	var b strings.Builder
	if _, err := io.Copy(&b, o.stdout); err != nil {
		return "", "", err
	}
	stdout = b.String()
	b = strings.Builder{}
	if _, err := io.Copy(&b, o.stderr); err != nil {
		return "", "", err
	}
	return stdout, b.String(), nil
}

// largeOutput reports whether a record's output goes to a file.
func largeOutput(e api.Execution) bool {
	return len(e.Stdout)+len(e.Stderr) > inlineOutputMax
}
