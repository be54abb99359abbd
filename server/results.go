package server

import (
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/pyexec/pyexec/api"
)

// ResultLimits bound what one run sends back besides its output (ours):
// its display items (rich results, figures) and its output files. A zero
// count sends none. pyexecd sets them from the results.* settings.
type ResultLimits struct {
	DisplayItems int
	DisplayBytes int64 // the items' raw data together
	Files        int
	FileBytes    int64
}

// DisplayData is one rich result or figure of a run, raw (api.DisplayItem
// encodes it).
type DisplayData struct {
	Mime string
	Data []byte
}

// FileData is one output file of a run: Path relative to the work dir, as
// the run reported it (checked again before it is kept).
type FileData struct {
	Path string
	Data []byte
}

// maxOutputPatterns bounds a request's output_files.
const maxOutputPatterns = 32

// checkOutputPatterns validates a request's output_files (named field): relative glob
// patterns ("*", "?", "[...]" within a name, "**" as a whole name spans
// directories), without "." or ".." names, empty names or NUL.
func checkOutputPatterns(field string, pats []string) ([]string, error) {
	if len(pats) > maxOutputPatterns {
		return nil, badRequest("%s: more than %d patterns", field, maxOutputPatterns)
	}
	out := make([]string, 0, len(pats))
	for i, p := range pats {
		bad := func(why string) error {
			return badRequest("%s[%d]: pattern %s %s", field, i, quoteName(p), why)
		}
		switch {
		case p == "":
			return nil, bad("is empty")
		case strings.HasPrefix(p, "/"):
			return nil, bad("is absolute: patterns are relative to /work")
		case len(p) > maxPathBytes || strings.ContainsRune(p, 0) || strings.ContainsRune(p, '\n'):
			return nil, bad("is too long or holds NUL or a newline")
		}
		for _, el := range strings.Split(p, "/") {
			switch el {
			case "":
				return nil, bad("has an empty name (\"//\" or a trailing \"/\")")
			case ".", "..":
				return nil, bad("may not name \".\" or \"..\"")
			}
			if el == "**" {
				continue
			}
			if _, err := path.Match(el, ""); err != nil {
				return nil, bad("is not a valid glob")
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// matchOutput reports whether the relative path p matches one of the
// patterns (checkOutputPatterns), as the bootstrap matches them.
func matchOutput(pats []string, p string) bool {
	parts := strings.Split(p, "/")
	for _, pat := range pats {
		if globParts(strings.Split(pat, "/"), parts) {
			return true
		}
	}
	return false
}

func globParts(pat, parts []string) bool {
	for {
		if len(parts) == 0 {
			return len(pat) == 0 || (len(pat) == 1 && pat[0] == "**")
		}
		if len(pat) == 0 {
			return false
		}
		if pat[0] == "**" {
			for i := 0; i <= len(parts); i++ {
				if globParts(pat[1:], parts[i:]) {
					return true
				}
			}
			return false
		}
		if ok, _ := path.Match(pat[0], parts[0]); !ok {
			return false
		}
		pat, parts = pat[1:], parts[1:]
	}
}

// displayMimes are the types a run may offer.
var displayMimes = map[string]bool{
	api.MimePNG: true, api.MimeSVG: true, api.MimeHTML: true, api.MimeMarkdown: true, api.MimeJSON: true,
}

// fillDisplay puts a run's display items into its record within the
// job's bounds (the run's own word is not trusted: it bounds them too),
// with a note on what was left out.
func fillDisplay(e *api.Execution, job Job, o Outcome) {
	l := job.Results
	dropped, used := o.DisplayDropped, int64(0)
	for _, d := range o.Display {
		if !displayMimes[d.Mime] || (d.Mime != api.MimePNG && !utf8.Valid(d.Data) && d.Mime != api.MimeJSON) {
			continue
		}
		if len(e.Display) >= l.DisplayItems || used+int64(len(d.Data)) > l.DisplayBytes {
			dropped++
			continue
		}
		item, err := api.NewDisplayItem(d.Mime, d.Data)
		if err != nil {
			continue
		}
		e.Display = append(e.Display, item)
		used += int64(len(d.Data))
	}
	if dropped > 0 {
		e.DisplayNote = fmt.Sprintf("%d display item(s) left out: a run offers at most %d, of %s together",
			dropped, l.DisplayItems, sizeText(l.DisplayBytes))
	}
}

// keptFiles are the output files of a run that may be kept: the paths
// its patterns match, clean, each once, within the job's bounds, and how
// many were left out.
func keptFiles(job Job, o Outcome) ([]FileData, int) {
	if len(job.OutputFiles) == 0 {
		return nil, 0
	}
	var kept []FileData
	dropped, used := o.FilesDropped, int64(0)
	seen := map[string]bool{}
	for _, f := range o.Files {
		p, err := cleanName(f.Path)
		if err != nil || p != f.Path || seen[p] || !matchOutput(job.OutputFiles, p) {
			continue
		}
		seen[p] = true
		if len(kept) >= job.Results.Files || used+int64(len(f.Data)) > job.Results.FileBytes {
			dropped++
			continue
		}
		kept = append(kept, f)
		used += int64(len(f.Data))
	}
	return kept, dropped
}

// filesNote says what output files were left out.
func filesNote(l ResultLimits, dropped int) string {
	if dropped == 0 {
		return ""
	}
	return fmt.Sprintf("%d matching file(s) not kept: a run keeps at most %d output files, of %s together",
		dropped, l.Files, sizeText(l.FileBytes))
}

func sizeText(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// keepFiles keeps a finished run's output files with its record and
// returns their entries and a note on what was left out. A failure to
// keep them is the server's: logged, and the record says the files were
// not kept.
func (s *Server) keepFiles(job Job, o Outcome) ([]api.OutputFile, string) {
	files, dropped := keptFiles(job, o)
	kept, err := s.store.SaveFiles(job.ID, files)
	if err != nil {
		s.log.Error("keeping output files", "id", job.ID, "err", err)
		return nil, "the output files could not be kept (a server error)"
	}
	return kept, filesNote(job.Results, dropped)
}
