package jail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// mountWork mounts a tmpfs of size bytes at dir, owned by uid:gid.
func mountWork(dir string, size int64, uid, gid int) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("make work dir: %w", err)
	}
	// 0700: other host users cannot read a running jail's files.
	opts := fmt.Sprintf("size=%d,mode=0700,uid=%d,gid=%d", size, uid, gid)
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		_ = os.Remove(dir)
		return fmt.Errorf("mount work tmpfs: %w", err)
	}
	return nil
}

// unmountWork undoes mountWork; a dir that is not there is fine.
func unmountWork(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount work dir: %w", err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove work dir: %w", err)
	}
	return nil
}

// checkRelative reports a path that is not a clean relative path inside
// the tree.
func checkRelative(p string) error {
	if p == "" || path.IsAbs(p) || strings.HasPrefix(p, "../") || p == ".." || path.Clean(p) != p {
		return fmt.Errorf("path %q: not a clean relative path", p)
	}
	return nil
}

// writeFiles places files under dir through an os.Root, so that no entry
// (or link planted by an earlier entry) can reach outside dir, and gives
// each to uid:gid.
func writeFiles(dir string, files []File, uid, gid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open work dir: %w", err)
	}
	defer root.Close()
	made := map[string]bool{} // directories already there: each is made once
	for _, f := range files {
		if err := writeFile(root, made, f, uid, gid); err != nil {
			return fmt.Errorf("write %q: %w", f.Path, err)
		}
	}
	return nil
}

func writeFile(root *os.Root, made map[string]bool, f File, uid, gid int) error {
	if err := checkRelative(f.Path); err != nil {
		return err
	}
	if d := path.Dir(f.Path); d != "." {
		if err := mkdirAll(root, made, d, uid, gid); err != nil {
			return err
		}
	}
	perm := f.Mode.Perm()
	switch {
	case f.Mode&fs.ModeDir != 0:
		return mkdirAll(root, made, f.Path, uid, gid)
	case f.Mode&fs.ModeSymlink != 0:
		if path.IsAbs(f.Linkname) {
			return fmt.Errorf("symlink to absolute path %q", f.Linkname)
		}
		if err := root.Symlink(f.Linkname, f.Path); err != nil {
			return err
		}
		return root.Lchown(f.Path, uid, gid)
	case f.Mode.IsRegular():
		if perm == 0 {
			perm = 0o644
		}
		fh, err := root.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
		if err != nil {
			return err
		}
		_, werr := fh.Write(f.Data)
		cerr := fh.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return err
		}
		if err := root.Chmod(f.Path, perm); err != nil {
			return err
		}
		return root.Chown(f.Path, uid, gid)
	}
	return fmt.Errorf("unsupported file mode %v", f.Mode)
}

// mkdirAll makes dir and its missing parents, each once per made set: a
// deep tree costs one mkdir per directory, not one per prefix per file.
func mkdirAll(root *os.Root, made map[string]bool, dir string, uid, gid int) error {
	if made[dir] {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		p := strings.Join(parts[:i+1], "/")
		if made[p] {
			continue
		}
		made[p] = true
		err := root.Mkdir(p, 0o755)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := root.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}
