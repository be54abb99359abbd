package client

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// ErrNoEntrypoint is returned by DetectEntrypoint when no file fits.
var ErrNoEntrypoint = errors.New("no Python file to run (give an entrypoint)")

// DetectEntrypoint picks the file to run among the regular files named
// (slash-separated paths relative to the archive root): a main.py, else a
// __main__.py, else the first .py file. Among files that fit the same rule,
// shallower paths win, then sorted order: a root main.py beats pkg/main.py,
// src/main.py beats a root setup.py, and a root z.py beats a/b.py.
func DetectEntrypoint(names []string) (string, error) {
	cands := make([]string, 0, len(names))
	for _, n := range names {
		n = path.Clean(strings.TrimPrefix(n, "./"))
		if strings.HasSuffix(n, ".py") {
			cands = append(cands, n)
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		di, dj := strings.Count(cands[i], "/"), strings.Count(cands[j], "/")
		if di != dj {
			return di < dj
		}
		return cands[i] < cands[j]
	})
	for _, want := range []string{"main.py", "__main__.py"} {
		for _, n := range cands {
			if path.Base(n) == want {
				return n, nil
			}
		}
	}
	if len(cands) > 0 {
		return cands[0], nil
	}
	return "", ErrNoEntrypoint
}

// TarNames lists the regular files of a tar archive, uncompressed or
// gzip-compressed (told by its magic bytes).
func TarNames(r io.Reader) ([]string, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("client: read tar: %w", err)
		}
		defer zr.Close()
		r = zr
	} else {
		r = br
	}
	tr := tar.NewReader(r)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("client: read tar: %w", err)
		}
		if hdr.Typeflag == tar.TypeReg {
			names = append(names, hdr.Name)
		}
	}
}
