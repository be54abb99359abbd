package client

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// TarFromMap returns an uncompressed tar archive holding one regular file
// (mode 0644) per entry of files, keyed by slash-separated relative path.
// Entries come in sorted order, each preceded by the directories it needs,
// with a fixed modification time, so the same map gives the same bytes.
// Absolute paths and paths with ".." are errors.
func TarFromMap(files map[string]string) ([]byte, error) {
	names := make([]string, 0, len(files))
	clean := make(map[string]string, len(files))
	for name, content := range files {
		n, err := archiveName(name)
		if err != nil {
			return nil, err
		}
		if _, dup := clean[n]; dup {
			return nil, fmt.Errorf("client: tar: duplicate entry %q", n)
		}
		clean[n] = content
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0)
	for _, n := range names {
		if err := writeParents(tw, n, dirs, epoch); err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(clean[n])), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("client: tar %s: %w", n, err)
		}
		if _, err := io.WriteString(tw, clean[n]); err != nil {
			return nil, fmt.Errorf("client: tar %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("client: tar: %w", err)
	}
	return buf.Bytes(), nil
}

// TarFromFile returns an uncompressed tar archive holding the file at p
// at the archive root under its base name. A symlink named by p is followed.
func TarFromFile(p string) ([]byte, error) {
	return TarFromFiles(p)
}

// TarFromFiles returns an uncompressed tar archive holding each file at the
// archive root under its base name, in sorted order. Two files with the
// same base name, or a path that is not a regular file, are errors.
func TarFromFiles(paths ...string) ([]byte, error) {
	if len(paths) == 0 {
		return nil, errors.New("client: tar: no files")
	}
	byName := make(map[string]string, len(paths))
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		n := filepath.Base(p)
		if prev, dup := byName[n]; dup {
			return nil, fmt.Errorf("client: tar: %s and %s have the same name %q", prev, p, n)
		}
		byName[n] = p
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		if err := addFile(tw, byName[n], n); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("client: tar: %w", err)
	}
	return buf.Bytes(), nil
}

// TarFromDir returns an uncompressed tar archive of the tree under dir,
// with paths relative to dir, in lexical order. It holds directories and
// regular files; __pycache__ and .git directories are left out, and so are
// other file types. A symlink is stored as a copy of its target when the
// target is a regular file inside dir; other symlinks are left out.
func TarFromDir(dir string) ([]byte, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("client: tar: %w", err)
	}
	if fi, err := os.Stat(root); err != nil {
		return nil, fmt.Errorf("client: tar: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("client: tar: %s is not a directory", dir)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := filepath.ToSlash(rel)
		switch {
		case d.IsDir():
			if skipDir(d.Name()) {
				return filepath.SkipDir
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name + "/",
				Mode: int64(fi.Mode().Perm()), ModTime: fi.ModTime()})
		case d.Type().IsRegular():
			return addFile(tw, p, name)
		case d.Type()&fs.ModeSymlink != 0:
			if target, ok := insideFile(root, p); ok {
				return addFile(tw, target, name)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("client: tar %s: %w", dir, err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("client: tar: %w", err)
	}
	return buf.Bytes(), nil
}

// insideFile resolves the symlink p and reports whether it names a regular
// file under root (root itself already resolved).
func insideFile(root, p string) (string, bool) {
	target, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(root, target)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	fi, err := os.Stat(target)
	if err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	return target, true
}

// addFile writes the regular file at p (symlinks followed) as entry name.
func addFile(tw *tar.Writer, p, name string) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("client: tar: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("client: tar: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("client: tar: %s is not a regular file", p)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: int64(fi.Mode().Perm()),
		Size: fi.Size(), ModTime: fi.ModTime()}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("client: tar %s: %w", name, err)
	}
	if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
		return fmt.Errorf("client: tar %s: %w", name, err)
	}
	return nil
}

// writeParents writes the directory entries name needs that are not in
// done yet.
func writeParents(tw *tar.Writer, name string, done map[string]bool, mtime time.Time) error {
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		d := strings.Join(parts[:i], "/")
		if done[d] {
			continue
		}
		done[d] = true
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("client: tar %s: %w", d, err)
		}
	}
	return nil
}

// archiveName cleans a slash-separated relative path and refuses the ones
// that would leave the archive root.
func archiveName(name string) (string, error) {
	n := path.Clean(strings.TrimPrefix(name, "./"))
	if name == "" || n == "." || path.IsAbs(n) || n == ".." || strings.HasPrefix(n, "../") {
		return "", fmt.Errorf("client: tar: bad entry name %q", name)
	}
	return n, nil
}

// skipDir reports whether TarFromDir leaves out a directory of that name.
func skipDir(name string) bool {
	return name == "__pycache__" || name == ".git"
}
