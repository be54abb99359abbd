package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

func TestSaveDisplay(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "figs")
	item := func(mime, data string) api.DisplayItem {
		d, err := api.NewDisplayItem(mime, []byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	var stderr bytes.Buffer
	c := &cli{stderr: &stderr}
	c.d.dir = dir
	rec := &api.Execution{Display: []api.DisplayItem{item(api.MimePNG, "\x89PNG"), item(api.MimeHTML, "<b>x</b>"), item(api.MimeJSON, `{"a":1}`)},
		DisplayNote: "1 display item(s) left out"}
	if !c.saveDisplay(rec) {
		t.Fatalf("saveDisplay failed: %s", stderr.String())
	}
	for name, want := range map[string]string{"display-1.png": "\x89PNG", "display-2.html": "<b>x</b>", "display-3.json": `{"a":1}`} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q %v, want %q", name, b, err, want)
		}
	}
	if out := stderr.String(); !strings.Contains(out, "display-1.png (image/png, 4 bytes)") || !strings.Contains(out, "left out") {
		t.Errorf("stderr %q", out)
	}
	stderr.Reset()
	c.g.quiet = true
	c.d.dir = ""
	if !c.saveDisplay(rec) || stderr.Len() != 0 {
		t.Errorf("without --display-dir: wrote %q", stderr.String())
	}
}
