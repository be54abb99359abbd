package server

import (
	"archive/tar"
	"bufio"
	"bytes"
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
		f, err := archiveEntry(tr, hdr, t, lim.maxBytes-total)
		if err != nil {
			return nil, err
		}
		total += int64(len(f.Data))
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
// room is how many data bytes the archive may still hold.
func archiveEntry(tr *tar.Reader, hdr *tar.Header, t *tree, room int64) (File, error) {
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
		var data []byte
		ok := err == nil
		if ok {
			data, ok = t.regular(target)
		}
		if !ok {
			return File{}, badRequest("archive entry %s: a hard link must point to a regular file earlier in the archive", quoteName(hdr.Name))
		}
		if int64(len(data)) > room {
			return File{}, tooLargeArchive()
		}
		return File{Path: name, Mode: perm | 0o600, Data: bytes.Clone(data)}, nil
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
