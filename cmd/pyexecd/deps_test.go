package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/deps"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/server"
)

// TestLayerWithoutInstalls covers the glue's decisions that need no
// install: no layer when nothing is needed, failures when a layer would be.
func TestLayerWithoutInstalls(t *testing.T) {
	r := &jailRunner{log: slog.New(slog.DiscardHandler)} // no cache
	in := interpreters.Interpreter{Version: "3.12.1", Stdlib: []string{"json", "os", "sys"}, Installed: []string{"pip", "requests"}}
	job := func(code, text string, detect bool) server.Job {
		reqs, err := requirements.Parse(text) // as the server does before a job exists
		if err != nil {
			t.Fatal(err)
		}
		return server.Job{ID: "exe_1", Entrypoint: "main.py", Requirements: reqs, DetectImports: detect,
			Files: []server.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}, {Path: "helper.py", Mode: 0o644}}}
	}
	for _, tt := range []struct {
		name    string
		job     server.Job
		failure string // "" for no layer and no failure
	}{
		{"nothing", job("print(1)", "", true), ""},
		{"stdlib, installed and own imports", job("import json, os.path, requests, helper", "", true), ""},
		{"dash", job("import numpy", "-", true), ""},
		{"detection off", job("import numpy", "", false), ""},
		{"detected", job("import numpy", "", true), "this server installs no packages"},
		{"requirements", job("print(1)", "six", false), "this server installs no packages"},
		{"too many detected", job(manyImports(requirements.MaxRequirements+1), "", true),
			fmt.Sprintf("too many requirements (%d > %d), %d of them detected", requirements.MaxRequirements+1, requirements.MaxRequirements, requirements.MaxRequirements+1)},
		{"too many with detection", job(manyImports(requirements.MaxRequirements), "six", true),
			fmt.Sprintf("too many requirements (%d > %d)", requirements.MaxRequirements+1, requirements.MaxRequirements)},
		{"at the cap", job(manyImports(requirements.MaxRequirements-1), "six", true), "this server installs no packages"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lease, out, err := r.layer(context.Background(), tt.job, in)
			if err != nil || lease != nil {
				t.Fatalf("layer = %v, %+v, %v", lease, out, err)
			}
			switch {
			case tt.failure == "" && out != nil:
				t.Errorf("failure %q, want none", out.Failure)
			case tt.failure != "" && (out == nil || !strings.Contains(out.Failure, tt.failure)):
				t.Errorf("outcome %+v, want failure %q", out, tt.failure)
			}
		})
	}
}

// manyImports is code importing n distinct third-party modules.
func manyImports(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "import pyx_mod%d\n", i)
	}
	return b.String()
}

func TestLayersAPIErrors(t *testing.T) {
	for _, tt := range []struct{ from, to error }{
		{deps.ErrNotFound, server.ErrLayerNotFound},
		{deps.ErrInUse, server.ErrLayerInUse},
	} {
		err := layersAPIError(tt.from)
		if !errors.Is(err, tt.to) || !errors.Is(err, tt.from) {
			t.Errorf("%v maps to %v, want %v", tt.from, err, tt.to)
		}
	}
}
