package runner

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/layers"
	"github.com/pyexec/pyexec/server"
)

// jobLayer is what a job gets from the dependency cache: the lease on its
// layer (nil: none) and the lines its stderr starts with, about detected
// imports left out. A nil *jobLayer is no layer and no lines.
type jobLayer struct {
	lease *layers.Lease
	notes []byte
}

// release ends the hold on the layer.
func (l *jobLayer) release() {
	if l != nil && l.lease != nil {
		l.lease.Release()
	}
}

// paths are the layers to add to the run (interpreters.Run.Layers).
func (l *jobLayer) paths() []string {
	if l == nil || l.lease == nil {
		return nil
	}
	return []string{l.lease.Path()}
}

// stderr is the run's stderr with the notes before it.
func (l *jobLayer) stderr(out []byte) []byte {
	if l == nil || len(l.notes) == 0 {
		return out
	}
	return append(append([]byte(nil), l.notes...), out...)
}

// layer returns the dependency layer that job needs: its requirements,
// installed as asked, plus for /eval jobs the third-party imports detected
// in its files, best-effort (those the requirements' layer does not
// provide, and that install; the others are left out with a line on the
// run's stderr). An explicit requirement that fails to install, or a wait
// that ctx ended, comes back as the job's Outcome; the error is the
// server's own trouble.
func (r *Runner) layer(ctx context.Context, job server.Job, in interpreters.Interpreter) (*jobLayer, *server.Outcome, error) {
	reqs := job.Requirements // parsed and checked by the server
	var detected []requirements.Import
	if job.DetectImports && !reqs.NoDetect {
		detected = reqs.Unsatisfied(requirements.Detect(sourceFiles(job.Files), job.Entrypoint, in.Stdlib, in.Installed))
	}
	if reqs.Empty() && len(detected) == 0 {
		return nil, nil, nil
	}
	if r.deps == nil {
		if !reqs.Empty() {
			return nil, &server.Outcome{PythonVersion: in.Version,
				Failure: "this server installs no packages: requirements_txt is not supported"}, nil
		}
		var skips []layers.Skip
		for _, imp := range detected {
			skips = append(skips, layers.Skip{Name: imp.Dist, Kind: layers.SkipFailed, Reason: "this server installs no packages"})
		}
		return &jobLayer{notes: skipNotes(skips)}, nil, nil
	}
	lease, skips, err := r.deps.AcquireDetected(ctx, in, reqs, detected)
	var ie *layers.InstallError
	switch {
	case err == nil:
		return &jobLayer{lease: lease, notes: skipNotes(skips)}, nil, nil
	case errors.As(err, &ie):
		return nil, &server.Outcome{PythonVersion: in.Version, Failure: "installing requirements failed: " + ie.Reason,
			Stderr: ie.Output, ExitCode: ie.ExitCode}, nil
	case ctx.Err() != nil:
		return nil, &server.Outcome{PythonVersion: in.Version, Killed: true, ExitCode: -1}, nil
	}
	return nil, nil, fmt.Errorf("dependency layer: %w", err)
}

// skipNotes are the stderr lines about detected imports left out: one per
// distribution that pip could not install, one for those that found no
// room under the cap, one for those not tried.
func skipNotes(skips []layers.Skip) []byte {
	var b strings.Builder
	var tooMany, notTried []string
	for _, s := range skips {
		switch s.Kind {
		case layers.SkipNotOnIndex:
			fmt.Fprintf(&b, "pyexec: auto-detected package %q is not on the package index; skipped\n", s.Name)
		case layers.SkipTooMany:
			tooMany = append(tooMany, s.Name)
		case layers.SkipNotTried:
			notTried = append(notTried, s.Name)
		default:
			fmt.Fprintf(&b, "pyexec: auto-detected package %q could not be installed (%s); skipped\n", s.Name, s.Reason)
		}
	}
	group := func(names []string, why string) {
		if len(names) == 0 {
			return
		}
		const shown = 5
		list := strings.Join(names[:min(len(names), shown)], ", ")
		if len(names) > shown {
			list += fmt.Sprintf(" and %d more", len(names)-shown)
		}
		noun := "packages"
		if len(names) == 1 {
			noun = "package"
		}
		fmt.Fprintf(&b, "pyexec: %d auto-detected %s skipped, %s (%s); name them in requirements_txt, or \"-\" turns detection off\n",
			len(names), noun, why, list)
	}
	group(tooMany, fmt.Sprintf("more than %d requirements", requirements.MaxRequirements))
	group(notTried, "not tried after too many failed installs")
	if b.Len() == 0 {
		return nil
	}
	return []byte(b.String())
}

// sourceFiles are the job's Python files, for import detection.
func sourceFiles(files []server.File) []requirements.File {
	var out []requirements.File
	for _, f := range files {
		if f.Mode&fs.ModeType == 0 && strings.HasSuffix(f.Path, ".py") {
			out = append(out, requirements.File{Path: f.Path, Data: f.Data})
		}
	}
	return out
}

// LayersAPI serves c to the server's /api/v1/deps endpoints, with the
// cache's errors given the server's meaning.
func LayersAPI(c *layers.Cache) server.Layers { return layersAPI{c} }

// layersAPI is a layer cache as the server's Layers.
type layersAPI struct{ c *layers.Cache }

func (a layersAPI) List() []api.Layer { return a.c.List() }

func (a layersAPI) Remove(key string) error { return layersAPIError(a.c.Remove(key)) }

// layersAPIError gives the cache's errors the server's meaning.
func layersAPIError(err error) error {
	switch {
	case errors.Is(err, layers.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrLayerNotFound, err)
	case errors.Is(err, layers.ErrInUse):
		return fmt.Errorf("%w: %w", server.ErrLayerInUse, err)
	}
	return err
}
