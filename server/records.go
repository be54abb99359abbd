package server

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/pyexec/pyexec/api"
)

// openRecords opens the record store of opts, on disk under RecordsDir
// (memory only when it is empty), and returns it with the directory
// uploads are spooled in.
func openRecords(opts Options) (*recordStore, string, error) {
	if opts.RecordsDir != "" {
		if err := makeRecordsDir(opts.RecordsDir); err != nil {
			return nil, "", err
		}
	}
	spool, err := spoolDir(opts.RecordsDir)
	if err != nil {
		return nil, "", err
	}
	c := storeConfig{
		max:      opts.MaxRecords,
		maxBytes: opts.MaxRecordBytes,
		ttl:      opts.RecordTTL,
		now:      time.Now,
		log:      opts.Logger,
	}
	if opts.RecordsDir != "" {
		if c.disk, err = openDisk(opts.RecordsDir, opts.RecordsSync, opts.Logger); err != nil {
			return nil, "", err
		}
	}
	if c.files, err = openFileStore(opts.RecordsDir, opts.Logger); err != nil {
		if c.disk != nil {
			c.disk.Close()
		}
		return nil, "", err
	}
	store, err := newRecordStore(c)
	if err != nil {
		if c.disk != nil {
			c.disk.Close()
		}
		c.files.Close()
		return nil, "", err
	}
	if n := store.Len(); n > 0 {
		opts.Logger.Info("execution records loaded", "records", n, "bytes", store.Bytes())
	}
	return store, spool, nil
}

// makeRecordsDir makes the records dir, private to the server; parents it
// has to make are left open to others (/var/lib/pyexec holds what setup
// makes for other users too).
func makeRecordsDir(dir string) error {
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("records dir: %w", err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("records dir: %w", err)
	}
	return nil
}

// writeStored answers with the stored record with the id, its output
// streamed from disk; running adds the output so far of a running task.
func (s *Server) writeStored(w http.ResponseWriter, r *http.Request, id string, running *task) {
	e, out, err := s.store.Open(id)
	switch {
	case errors.Is(err, errNoRecord):
		writeError(w, http.StatusNotFound, "execution not found")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	defer out.Close()
	if running != nil {
		running.showOutput(&e)
	}
	s.writeRecord(w, r, e, out)
}

// writeRecord answers with a record (see writeRecordJSON). A failure to read
// its output once the answer has started aborts the connection: the
// client must not take a cut record for a whole one.
func (s *Server) writeRecord(w http.ResponseWriter, r *http.Request, e api.Execution, out *recordOutput) {
	err := writeRecordJSON(w, http.StatusOK, e, out)
	if errors.Is(err, errOutputRead) {
		s.log.Error("sending an execution record", "id", e.ExecutionID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		s.log.Debug("sending an execution record", "id", e.ExecutionID, "path", r.URL.Path, "err", err)
	}
}

// queueBytesMessage is the 429 of a submission past MaxQueuedBytes.
func queueBytesMessage(limit int64) string {
	return fmt.Sprintf("the executions waiting hold more than the limit of %d MiB; retry later", limit>>20)
}
