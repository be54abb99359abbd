package server

import (
	"archive/tar"
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
)

// archiveLimits bound what an uploaded archive may expand to.
type archiveLimits struct {
	// maxBytes bounds the files' data plus the entries' names and link
	// targets.
	maxBytes int64
	// maxEntries bounds the archive's headers and the tree's entries,
	// counting the parent directories the tree adds itself.
	maxEntries int
}

// parseArchive reads a tar archive, gzip-compressed or not (told by its
// magic bytes), into a work tree held in memory. Every entry is checked:
// paths stay relative and inside the tree, symlinks resolve inside it,
// hard links only point at a regular file earlier in the archive (its data
// is copied), and devices, fifos and other special entries are refused.
// pax global headers (the commit id `git archive` writes) are skipped.
//
// Errors the client caused are *requestError; any other error is a read
// or format error of the stream, wrapped.
func parseArchive(r io.Reader, lim archiveLimits) (*tree, error) {
	return readArchive(r, lim, nil)
}

// scanArchive checks an archive as parseArchive does, with the same
// errors, but keeps the data of no file except the project's top-level
// requirements.txt (when it is small enough to be read): a regular
// file's File.Data is nil and its size is File.dataSize. A queued upload
// is scanned when it arrives and parsed when its job starts.
func scanArchive(r io.ReadSeeker, lim archiveLimits) (*tree, error) {
	keep := func(name string) bool { return name == projectRequirements }
	t, err := readArchive(r, lim, keep)
	if err != nil {
		return nil, err
	}
	// A requirements.txt that is a hard link has the data of an earlier
	// file, which was not kept: read the archive again for it.
	if f, ok := t.file(projectRequirements); ok && f.Data == nil && f.origin != "" && f.size <= maxRequirementsFileBytes {
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("rewinding archive: %w", err)
		}
		origin := f.origin
		return readArchive(r, lim, func(name string) bool { return name == projectRequirements || name == origin })
	}
	return t, nil
}

// readArchive is parseArchive, keeping the data of the regular files
// whose path keep accepts (all when keep is nil). The others are read and
// counted.
func readArchive(r io.Reader, lim archiveLimits, keep func(string) bool) (*tree, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading archive: %w", err)
	}
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		defer zr.Close()
		src = zr
	}

	t := newTree()
	tr := tar.NewReader(src)
	var total int64
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		if entries >= lim.maxEntries {
			return nil, tooManyEntries(lim.maxEntries)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if isRoot(hdr.Name) && hdr.Typeflag == tar.TypeDir {
			continue // "./": the work dir itself
		}
		if total += int64(len(hdr.Name) + len(hdr.Linkname)); total > lim.maxBytes {
			return nil, tooLargeArchive()
		}
		f, err := archiveEntry(tr, hdr, t, lim.maxBytes-total, keep)
		if err != nil {
			return nil, err
		}
		total += f.dataSize()
		if err := t.add(f); err != nil {
			return nil, badRequest("archive entry %s: %v", quoteName(hdr.Name), err)
		}
		if len(t.files) > lim.maxEntries {
			return nil, tooManyEntries(lim.maxEntries)
		}
	}
	switch p, err := t.escapingLink(); {
	case errors.Is(err, errLinkSteps):
		return nil, badRequest("archive entry %s: %v (more than %d path components)", quoteName(p), err, maxLinkSteps)
	case err != nil:
		f := t.files[t.index[p]]
		return nil, badRequest("archive entry %s: symlink target %s leaves the archive", quoteName(p), quoteName(f.Linkname))
	}
	return t, nil
}

func tooManyEntries(n int) error {
	return badRequest("the archive has more than %d entries (counting the directories its paths imply)", n)
}

func tooLargeArchive() error {
	return tooLarge("the archive expands to more than the limit of the request size")
}

// archiveEntry turns one header (and the data after it) into a File.
// room is how many data bytes the archive may still hold; keep is
// readArchive's.
func archiveEntry(tr *tar.Reader, hdr *tar.Header, t *tree, room int64, keep func(string) bool) (File, error) {
	name, err := cleanName(hdr.Name)
	if err != nil {
		return File{}, badRequest("archive entry %s: the path %v", quoteName(hdr.Name), err)
	}
	if len(hdr.Linkname) > maxPathBytes {
		return File{}, badRequest("archive entry %s: the link target %v", quoteName(hdr.Name), errPathTooLong)
	}
	perm := fs.FileMode(hdr.Mode) & fs.ModePerm
	switch hdr.Typeflag {
	case tar.TypeReg:
		if hdr.Size > room {
			return File{}, tooLargeArchive()
		}
		if keep != nil && !(keep(name) && hdr.Size <= maxRequirementsFileBytes) {
			n, err := io.Copy(io.Discard, io.LimitReader(tr, hdr.Size))
			if err == nil && n != hdr.Size {
				err = io.ErrUnexpectedEOF
			}
			if err != nil {
				return File{}, fmt.Errorf("reading archive entry: %w", err)
			}
			return File{Path: name, Mode: perm | 0o600, size: n}, nil
		}
		// Read what arrives rather than allocate what the header claims.
		data, err := io.ReadAll(io.LimitReader(tr, hdr.Size))
		if err == nil && int64(len(data)) != hdr.Size {
			err = io.ErrUnexpectedEOF
		}
		if err != nil {
			return File{}, fmt.Errorf("reading archive entry: %w", err)
		}
		return File{Path: name, Mode: perm | 0o600, Data: data}, nil
	case tar.TypeDir:
		return File{Path: name, Mode: fs.ModeDir | perm | 0o700}, nil
	case tar.TypeSymlink:
		if hdr.Linkname == "" || path.IsAbs(hdr.Linkname) || strings.ContainsRune(hdr.Linkname, 0) {
			return File{}, badRequest("archive entry %s: symlink target %s leaves the archive", quoteName(hdr.Name), quoteName(hdr.Linkname))
		}
		return File{Path: name, Mode: fs.ModeSymlink | 0o777, Linkname: hdr.Linkname}, nil
	case tar.TypeLink:
		target, err := cleanName(hdr.Linkname)
		var src File
		ok := err == nil
		if ok {
			src, ok = t.file(target)
			ok = ok && src.Mode.IsRegular()
		}
		if !ok {
			return File{}, badRequest("archive entry %s: a hard link must point to a regular file earlier in the archive", quoteName(hdr.Name))
		}
		if src.dataSize() > room {
			return File{}, tooLargeArchive()
		}
		f := File{Path: name, Mode: perm | 0o600, Data: bytes.Clone(src.Data)}
		if keep != nil { // where the data is, for scanArchive
			f.size, f.origin = src.dataSize(), cmp.Or(src.origin, src.Path)
		}
		return f, nil
	case tar.TypeChar, tar.TypeBlock:
		return File{}, badRequest("archive entry %s: device files are not allowed", quoteName(hdr.Name))
	case tar.TypeFifo:
		return File{}, badRequest("archive entry %s: fifos are not allowed", quoteName(hdr.Name))
	default:
		return File{}, badRequest("archive entry %s: unsupported entry type %q", quoteName(hdr.Name), string(hdr.Typeflag))
	}
}

// isRoot reports whether a relative archive name names the archive's root.
func isRoot(name string) bool {
	return name != "" && !strings.HasPrefix(name, "/") && path.Clean(name) == "."
}
