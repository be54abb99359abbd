package layers

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// errTooBig is a tree that copyTree refuses: past its byte limit.
var errTooBig = errors.New("layer too big")

// entryCharge is what copyTree counts for an entry besides its size: a
// block of the destination file system.
const entryCharge = 4096

// copyTree copies what pip wrote in src (the install jail's tmpfs, its
// jail gone) to dst, a new directory, as the server's own read-only tree:
// owned by the server, directories 0555, files 0444 or 0555, no special
// bits, symlinks kept as links and never followed, devices, fifos and
// sockets left out. File mtimes are kept, so the .pyc files pip compiled
// stay valid. It returns the disk usage of dst in bytes.
//
// The copy may take more room than src: a sparse file is written whole,
// and every entry takes a block. So each entry is charged its apparent
// size plus entryCharge, before it is copied; past limit bytes in all,
// copyTree stops with errTooBig (dst is left for the caller to remove).
func copyTree(src, dst string, limit int64) (int64, error) {
	type dir struct {
		path  string
		mtime time.Time
	}
	var (
		dirs   []dir
		size   int64
		budget int64
	)
	usage := func(p string) {
		var st unix.Stat_t
		if unix.Lstat(p, &st) == nil {
			size += st.Blocks * 512
		}
	}
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().IsRegular() || info.IsDir() || info.Mode()&fs.ModeSymlink != 0 {
			if budget += max(info.Size(), 0) + entryCharge; budget > limit {
				return fmt.Errorf("%w: more than %d bytes (at %s)", errTooBig, limit, rel)
			}
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
			dirs = append(dirs, dir{target, info.ModTime()})
		case info.Mode().IsRegular():
			if err := copyFile(p, target, info); err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
			}
		case info.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(link, target); err != nil {
				return err
			}
		default:
			return nil // device, fifo, socket: not a package's file
		}
		usage(target)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for i := len(dirs) - 1; i >= 0; i-- { // children first
		if err := os.Chmod(dirs[i].path, 0o555); err != nil {
			return 0, err
		}
		if err := os.Chtimes(dirs[i].path, dirs[i].mtime, dirs[i].mtime); err != nil {
			return 0, err
		}
	}
	return size, nil
}

func copyFile(src, dst string, info fs.FileInfo) (err error) {
	in, err := os.OpenFile(src, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	mode := os.FileMode(0o444)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o555
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	if err := errors.Join(cerr, out.Close()); err != nil {
		return err
	}
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	return os.Chtimes(dst, info.ModTime(), info.ModTime())
}
