package server

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// spoolDirName is the directory under Options.RecordsDir where uploads
// wait for their job to start.
const spoolDirName = "spool"

// spooled is an upload kept as it arrived (compressed archives stay
// compressed) in a file that has no name: it goes away when it is closed,
// or with the process, whatever way that ends. A queued /exec job holds
// its archive this way instead of the expanded tree; the tree is read
// from it when the job starts (Job.loadFiles).
type spooled struct {
	f    *os.File
	size int64
}

// newSpooled creates an empty spool file in dir.
func newSpooled(dir string) (*spooled, error) {
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlinking spool file: %w", err)
	}
	return &spooled{f: f}, nil
}

func (s *spooled) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	s.size += int64(n)
	return n, err
}

// reader returns the spooled bytes from the start.
func (s *spooled) reader() io.ReadSeeker {
	return io.NewSectionReader(s.f, 0, s.size)
}

// Close frees the file. It is safe to call on nil and more than once.
func (s *spooled) Close() {
	if s != nil && s.f != nil {
		s.f.Close()
		s.f = nil
	}
}

// spoolDir returns the directory uploads are spooled in under the records
// dir, made if needed and emptied of what a killed process may have left
// (a file between its creation and its unlinking), or the system's
// temporary directory when records are kept in memory.
func spoolDir(recordsDir string) (string, error) {
	if recordsDir == "" {
		return os.TempDir(), nil
	}
	dir := filepath.Join(recordsDir, spoolDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("spool dir: %w", err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "upload-*"))
	for _, p := range left {
		_ = os.Remove(p)
	}
	return dir, nil
}

// loadFiles reads the work tree of a job whose upload was spooled into
// job.Files, with the limits it was checked against when it arrived, and
// frees the spool file. A job without one is left alone.
func (d *decoder) loadFiles(job *Job) error {
	if job.archive == nil {
		return nil
	}
	defer func() {
		job.archive.Close()
		job.archive = nil
	}()
	t, err := parseArchive(job.archive.reader(), d.archive)
	if err != nil {
		return fmt.Errorf("reading the spooled upload: %w", err)
	}
	job.Files = t.files
	return nil
}

// queuedBytes is what a job holds while it waits in the queue, counted
// against Options.MaxQueuedBytes: its spooled upload, its files' data
// and names, stdin, and the strings of its command line.
func (j *Job) queuedBytes() int64 {
	var n int64
	if j.archive != nil {
		n += j.archive.size
	}
	for _, f := range j.Files {
		n += int64(len(f.Path) + len(f.Data) + len(f.Linkname))
	}
	n += int64(len(j.Stdin) + len(j.Entrypoint))
	for _, list := range [][]string{j.Args, j.Env, j.PreCommands} {
		for _, s := range list {
			n += int64(len(s))
		}
	}
	return n
}
