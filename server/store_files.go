package server

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pyexec/pyexec/api"
)

// filesDirName is the directory of the records dir holding output files:
// files/<id>/<n>, n the file's index in the record's output_files.
const filesDirName = "files"

// fileStore keeps the output files of execution records on disk. It
// writes a record's files once, before the record is final, and removes
// them with the record (recordStore.dropLocked). It is safe for
// concurrent use: every record has a directory of its own.
type fileStore struct {
	dir  string
	temp bool // made for a server without a records dir: removed by Close
	log  *slog.Logger
}

// openFileStore opens the output file store under recordsDir, or in a
// directory of its own under the system's temporary directory when
// recordsDir is empty (records in memory only).
func openFileStore(recordsDir string, log *slog.Logger) (*fileStore, error) {
	if recordsDir == "" {
		dir, err := os.MkdirTemp("", "pyexec-files-")
		if err != nil {
			return nil, fmt.Errorf("output files dir: %w", err)
		}
		return &fileStore{dir: dir, temp: true, log: log}, nil
	}
	dir := filepath.Join(recordsDir, filesDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("output files dir: %w", err)
	}
	return &fileStore{dir: dir, log: log}, nil
}

func (f *fileStore) path(id string, n int) string {
	return filepath.Join(f.dir, id, strconv.Itoa(n))
}

// save writes a record's output files (synced, with their directory) and
// returns their entries for the record. On error nothing is left.
func (f *fileStore) save(id string, files []FileData) ([]api.OutputFile, error) {
	if len(files) == 0 {
		return nil, nil
	}
	dir := filepath.Join(f.dir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("output files of %s: %w", id, err)
	}
	out := make([]api.OutputFile, 0, len(files))
	for n, fd := range files {
		if err := writeSynced(f.path(id, n), fd.Data); err != nil {
			f.remove(id)
			return nil, fmt.Errorf("output files of %s: %w", id, err)
		}
		sum := sha256.Sum256(fd.Data)
		out = append(out, api.OutputFile{Path: fd.Path, Size: int64(len(fd.Data)), SHA256: hex.EncodeToString(sum[:])})
	}
	if err := syncDir(dir); err != nil {
		f.remove(id)
		return nil, fmt.Errorf("output files of %s: %w", id, err)
	}
	return out, syncDir(f.dir)
}

func writeSynced(p string, data []byte) error {
	w, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	if err == nil {
		err = w.Sync()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

// open opens the n-th output file of the record with the id.
func (f *fileStore) open(id string, n int) (*os.File, error) {
	return os.Open(f.path(id, n))
}

// remove deletes a record's output files, if it has any.
func (f *fileStore) remove(id string) {
	if err := os.RemoveAll(filepath.Join(f.dir, id)); err != nil {
		f.log.Warn("removing a record's output files", "id", id, "err", err)
	}
}

// removeOrphans removes the output files of records not in keep (records
// whose removal was committed, or whose own commit was not).
func (f *fileStore) removeOrphans(keep map[string]bool) {
	names, err := os.ReadDir(f.dir)
	if err != nil {
		f.log.Warn("listing output files", "err", err)
		return
	}
	for _, n := range names {
		if !keep[n.Name()] {
			f.remove(n.Name())
		}
	}
}

// Close removes a temporary store.
func (f *fileStore) Close() error {
	if !f.temp {
		return nil
	}
	if err := os.RemoveAll(f.dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("output files dir: %w", err)
	}
	return nil
}

// errNoFile: the record lists no such output file, or it is no longer
// kept.
var errNoFile = errors.New("no such output file")

// OpenFile opens the output file of the finished record with the id
// whose path is p, and returns it with its entry. errNoRecord if there is
// no such record, errNoFile if it lists no such file.
func (s *recordStore) OpenFile(id, p string) (*os.File, api.OutputFile, error) {
	e, out, err := s.Open(id)
	if err != nil {
		return nil, api.OutputFile{}, err
	}
	out.Close()
	for n, f := range e.OutputFiles {
		if f.Path != p || s.files == nil {
			continue
		}
		// Opened without the store's lock: a record dropped meanwhile
		// gives errNoFile, an open file stays readable.
		file, err := s.files.open(id, n)
		if err != nil {
			return nil, api.OutputFile{}, fmt.Errorf("%w: %v", errNoFile, err)
		}
		return file, f, nil
	}
	return nil, api.OutputFile{}, errNoFile
}

// SaveFiles keeps the output files of the unfinished record with the id,
// before it finishes with their entries (fileStore.save).
func (s *recordStore) SaveFiles(id string, files []FileData) ([]api.OutputFile, error) {
	if s.files == nil || len(files) == 0 {
		return nil, nil
	}
	return s.files.save(id, files)
}
