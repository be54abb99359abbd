package server

import (
	"io/fs"
)

// Bounds of what the kernel takes in execve: MAX_ARG_STRLEN (32 pages,
// counting the terminating NUL) for one argument or environment string,
// and a total kept well below ARG_MAX (a quarter of the default 8 MiB
// stack) so the runner's own arguments and variables still fit.
const (
	maxArgBytes      = 128<<10 - 1
	maxArgTotalBytes = 1 << 20
)

// Sizes in a tmpfs work dir: data takes whole pages, and a symlink target
// of shortSymlink bytes or more takes a page too.
const (
	diskPage     = 4096
	shortSymlink = 128
)

// diskUsage is how much of the tmpfs work dir files take.
func diskUsage(files []File) int64 {
	var n int64
	for _, f := range files {
		switch {
		case f.Mode.IsRegular():
			n += (f.dataSize() + diskPage - 1) / diskPage * diskPage
		case f.Mode&fs.ModeSymlink != 0 && len(f.Linkname) >= shortSymlink:
			n += diskPage
		}
	}
	return n
}

// checkDisk refuses files that would not fit in the work dir of the
// resolved limits (a 413 rather than the jail's "no space left").
func checkDisk(files []File, l Limits) error {
	if n := diskUsage(files); n > l.DiskBytes {
		return tooLarge("the files take %d bytes on disk (each file rounded up to %d bytes); config.disk_mb allows %d MB",
			n, diskPage, l.DiskBytes>>20)
	}
	return nil
}

// argList is a list of strings that ends up in an execve.
type argList struct {
	field string // e.g. "metadata.env_vars"
	items []string
}

// checkArgs refuses a string longer than maxArgBytes and lists whose
// strings add up to more than maxArgTotalBytes.
func checkArgs(lists ...argList) error {
	total := 0
	for _, l := range lists {
		for i, s := range l.items {
			if len(s) > maxArgBytes {
				return badRequest("%s[%d] is %d bytes; the limit is %d bytes", l.field, i, len(s), maxArgBytes)
			}
			if total += len(s) + 1; total > maxArgTotalBytes {
				return badRequest("%s: the strings of %s add up to more than %d bytes", l.field, argFields(lists), maxArgTotalBytes)
			}
		}
	}
	return nil
}

// argFields names the fields of lists, for a message.
func argFields(lists []argList) string {
	s := ""
	for i, l := range lists {
		switch {
		case i == 0:
		case i == len(lists)-1:
			s += " and "
		default:
			s += ", "
		}
		s += l.field
	}
	return s
}
