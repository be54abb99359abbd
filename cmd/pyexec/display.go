package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pyexec/pyexec/api"
)

// displayExt is the file extension of each display type.
var displayExt = map[string]string{
	api.MimePNG: ".png", api.MimeSVG: ".svg", api.MimeHTML: ".html",
	api.MimeMarkdown: ".md", api.MimeJSON: ".json",
}

// saveDisplay writes a record's display items (figures, rich results)
// into --display-dir, as display-1.png, display-2.html, ... in their
// order, and names each on stderr (unless quiet). Without --display-dir it
// does nothing. A file that cannot be written is reported and the rest
// are still written; it returns false then.
func (c *cli) saveDisplay(rec *api.Execution) bool {
	dir := c.d.dir
	if dir == "" || len(rec.Display) == 0 {
		return true
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(c.stderr, "pyexec: --display-dir: %v\n", err)
		return false
	}
	ok := true
	for i, d := range rec.Display {
		ext, known := displayExt[d.Mime]
		if !known {
			ext = ".bin"
		}
		b, err := d.Bytes()
		p := filepath.Join(dir, "display-"+strconv.Itoa(i+1)+ext)
		if err == nil {
			err = os.WriteFile(p, b, 0o644)
		}
		if err != nil {
			fmt.Fprintf(c.stderr, "pyexec: display item %d (%s): %v\n", i+1, d.Mime, err)
			ok = false
			continue
		}
		if !c.g.quiet {
			fmt.Fprintf(c.stderr, "pyexec: wrote %s (%s, %d bytes)\n", p, d.Mime, len(b))
		}
	}
	if rec.DisplayNote != "" && !c.g.quiet {
		fmt.Fprintf(c.stderr, "pyexec: %s\n", rec.DisplayNote)
	}
	return ok
}
