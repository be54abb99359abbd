package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/layers"
	"github.com/pyexec/pyexec/server"
)

// TestLayerWithoutInstalls covers the glue's decisions that need no
// install: no layer when nothing is needed, a failure when explicit
// requirements would need one, and detected imports left out with a line
// on stderr, never a failure.
func TestLayerWithoutInstalls(t *testing.T) {
	r := &Runner{log: slog.New(slog.DiscardHandler)} // no cache
	in := interpreters.Interpreter{Version: "3.12.1", Stdlib: []string{"json", "os", "sys"}, Installed: []string{"pip", "requests"}}
	job := func(code, text string, detect bool) server.Job {
		reqs, err := requirements.Parse(text) // as the server does before a job exists
		if err != nil {
			t.Fatal(err)
		}
		return server.Job{ID: "exe_1", Entrypoint: "main.py", Requirements: reqs, DetectImports: detect,
			Files: []server.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}, {Path: "helper.py", Mode: 0o644}}}
	}
	const noInstalls = `pyexec: auto-detected package "numpy" could not be installed (this server installs no packages); skipped` + "\n"
	for _, tt := range []struct {
		name    string
		job     server.Job
		failure string // "" for none
		notes   string // the run's stderr before its own
	}{
		{"nothing", job("print(1)", "", true), "", ""},
		{"stdlib, installed and own imports", job("import json, os.path, requests, helper", "", true), "", ""},
		{"dash", job("import numpy", "-", true), "", ""},
		{"detection off", job("import numpy", "", false), "", ""},
		{"detected", job("try:\n    import numpy\nexcept ImportError:\n    pass\n", "", true), "", noInstalls},
		{"requirements", job("print(1)", "six", false), "this server installs no packages", ""},
		{"requirements and detected", job("import numpy", "six", true), "this server installs no packages", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			layer, out, err := r.layer(context.Background(), tt.job, in)
			if err != nil || layer.paths() != nil {
				t.Fatalf("layer = %+v, %+v, %v", layer, out, err)
			}
			switch {
			case tt.failure == "" && out != nil:
				t.Errorf("failure %q, want none", out.Failure)
			case tt.failure != "" && (out == nil || !strings.Contains(out.Failure, tt.failure)):
				t.Errorf("outcome %+v, want failure %q", out, tt.failure)
			}
			if got := string(layer.stderr([]byte("own"))); got != tt.notes+"own" {
				t.Errorf("stderr %q, want %q", got, tt.notes+"own")
			}
			layer.release()
		})
	}
}

// TestSkipNotes checks the stderr lines about detected imports left out.
func TestSkipNotes(t *testing.T) {
	var skips []layers.Skip
	for i := range 7 {
		skips = append(skips, layers.Skip{Name: fmt.Sprintf("pyx-many%d", i), Kind: layers.SkipTooMany})
	}
	skips = append(skips, layers.Skip{Name: "notonindex", Kind: layers.SkipNotOnIndex},
		layers.Skip{Name: "pyx-broken", Kind: layers.SkipFailed, Reason: "no matching distribution found for pyx-gone"},
		layers.Skip{Name: "pyx-later", Kind: layers.SkipNotTried})
	want := `pyexec: auto-detected package "notonindex" is not on the package index; skipped
pyexec: auto-detected package "pyx-broken" could not be installed (no matching distribution found for pyx-gone); skipped
pyexec: 7 auto-detected packages skipped, more than 256 requirements (pyx-many0, pyx-many1, pyx-many2, pyx-many3, pyx-many4 and 2 more); name them in requirements_txt, or "-" turns detection off
pyexec: 1 auto-detected package skipped, not tried after too many failed installs (pyx-later); name them in requirements_txt, or "-" turns detection off
`
	if got := string(skipNotes(skips)); got != want {
		t.Errorf("notes:\n%s\nwant:\n%s", got, want)
	}
	if got := skipNotes(nil); got != nil {
		t.Errorf("no skips: %q", got)
	}
}

func TestLayersAPIErrors(t *testing.T) {
	for _, tt := range []struct{ from, to error }{
		{layers.ErrNotFound, server.ErrLayerNotFound},
		{layers.ErrInUse, server.ErrLayerInUse},
	} {
		err := layersAPIError(tt.from)
		if !errors.Is(err, tt.to) || !errors.Is(err, tt.from) {
			t.Errorf("%v maps to %v, want %v", tt.from, err, tt.to)
		}
	}
}
