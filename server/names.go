package server

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Bounds of the paths a client names, those of Linux: PATH_MAX (4096,
// counting the terminating NUL) for a whole path or symlink target, and
// NAME_MAX for one component. A longer name could not be created in the
// jail.
//
// maxPathDepth bounds how many components a path has: placing a file
// costs work per directory above it, and no project needs more.
const (
	maxPathBytes = 4095
	maxNameBytes = 255
	maxPathDepth = 64
)

// Why cleanName refuses a path. The texts follow "the path".
var (
	errBadPath     = errors.New(`must be relative, without ".."`)
	errPathTooLong = fmt.Errorf("is longer than %d bytes", maxPathBytes)
	errNameTooLong = fmt.Errorf("has a component longer than %d bytes", maxNameBytes)
	errPathTooDeep = fmt.Errorf("is more than %d directories deep", maxPathDepth)
)

// cleanName checks a client-supplied slash-separated path and returns its
// clean form. It refuses empty and absolute paths, ".." components, NUL
// bytes, names that clean to the root itself (errBadPath), clean paths
// longer than maxPathBytes (errPathTooLong) and components longer than
// maxNameBytes (errNameTooLong), and paths of more than maxPathDepth
// components (errPathTooDeep).
func cleanName(name string) (string, error) {
	if name == "" || strings.HasPrefix(name, "/") || strings.ContainsRune(name, 0) {
		return "", errBadPath
	}
	long := false
	for rest := name; rest != ""; {
		el, after, _ := strings.Cut(rest, "/")
		if el == ".." {
			return "", errBadPath
		}
		long = long || len(el) > maxNameBytes
		rest = after
	}
	c := path.Clean(name)
	switch {
	case c == "." || !fs.ValidPath(c):
		return "", errBadPath
	case len(c) > maxPathBytes:
		return "", errPathTooLong
	case long:
		return "", errNameTooLong
	case strings.Count(c, "/") >= maxPathDepth:
		return "", errPathTooDeep
	}
	return c, nil
}

// maxQuoted is how much of a client-supplied name a message repeats.
const maxQuoted = 100

// quoteName quotes a client-supplied string for a message, cut to its
// first maxQuoted bytes (and the length it had) when it is longer.
func quoteName(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s... (%d bytes)", strconv.Quote(s[:cut]), len(s))
}
