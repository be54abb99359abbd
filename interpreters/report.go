package interpreters

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Report is what the bootstrap tells about a run, on its own descriptor.
type Report struct {
	// Finished is true when a report was received at all: the code ran to
	// its end or raised. A run killed by a limit has none.
	Finished bool `json:"-"`
	// Result is the repr of the trailing expression for eval_last_expr
	// runs; nil when there was none or it was None.
	Result    *string
	ErrorType string
	ErrorLine int
	// PreCommandFailed is the pre_command that failed, if one did.
	PreCommandFailed string
	// Display are the rich results and figures the run offered, in order
	// (Run.Display); DisplayDropped counts those past its bounds.
	Display        []DisplayItem
	DisplayDropped int
	// Files are the output files the run sent back (Run.OutputFiles);
	// FilesDropped counts the matching ones past their bounds.
	Files        []OutputFile
	FilesDropped int
}

// DisplayItem is one rich form of a result or a figure: raw data of a
// MIME type (PNG bytes, SVG or HTML text, JSON text).
type DisplayItem struct {
	Mime string
	Data []byte
}

// OutputFile is one file of the run's /work: Path is relative to WorkDir
// as the run reported it (not checked here).
type OutputFile struct {
	Path string
	Data []byte
}

// ParseReport decodes the bootstrap's report: fields "<name> <len>\n<bytes>"
// (a name ending in "!" is None), closed by "end 0\n". Empty input is a run
// that reported nothing (killed, or the code ended the process itself).
// Only the last complete report counts: the bootstrap writes after the
// user's code has ended.
func ParseReport(b []byte) (Report, error) {
	var r Report
	for len(b) > 0 {
		one, rest, err := parseOne(b)
		if err != nil {
			return r, err
		}
		r, b = one, rest
	}
	return r, nil
}

func parseOne(b []byte) (Report, []byte, error) {
	r := Report{Finished: true}
	for {
		nl := bytes.IndexByte(b, '\n')
		if nl < 0 {
			return Report{}, nil, fmt.Errorf("bootstrap report: truncated header %q", b)
		}
		name, size, ok := bytes.Cut(b[:nl], []byte(" "))
		n, err := strconv.Atoi(string(size))
		if !ok || err != nil || n < 0 || n > len(b)-nl-1 {
			return Report{}, nil, fmt.Errorf("bootstrap report: bad header %q", b[:nl])
		}
		val := string(b[nl+1 : nl+1+n])
		b = b[nl+1+n:]
		switch string(name) {
		case "end":
			return r, b, nil
		case "result":
			r.Result = &val
		case "result!":
			r.Result = nil
		case "error_type":
			r.ErrorType = val
		case "error_line":
			r.ErrorLine, _ = strconv.Atoi(val)
		case "pre_command_failed":
			r.PreCommandFailed = val
		case "display":
			if mime, data, ok := strings.Cut(val, "\n"); ok {
				r.Display = append(r.Display, DisplayItem{Mime: mime, Data: []byte(data)})
			}
		case "file":
			if p, data, ok := strings.Cut(val, "\x00"); ok {
				r.Files = append(r.Files, OutputFile{Path: p, Data: []byte(data)})
			}
		case "display_dropped":
			r.DisplayDropped, _ = strconv.Atoi(val)
		case "files_dropped":
			r.FilesDropped, _ = strconv.Atoi(val)
		}
	}
}
