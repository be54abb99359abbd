package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"

	"github.com/pyexec/pyexec/client/api"
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/deps"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/server"
)

// depsIndex is the package index of the configuration.
func depsIndex(d configs.DepsConfig) requirements.Index {
	return requirements.Index{
		URL: d.IndexURL, ExtraURLs: d.ExtraIndexURLs, FindLinks: d.FindLinks, TrustedHosts: d.TrustedHosts,
		SourceBuilds: d.AllowSourceBuilds,
	}
}

// depsConfig is the dependency cache of the configuration.
func depsConfig(cfg configs.Config, log *slog.Logger) deps.Config {
	d := cfg.Deps
	return deps.Config{
		Dir:                d.CacheDir,
		MaxBytes:           int64(d.CacheMaxMB) << 20,
		Index:              depsIndex(d),
		InstallTimeout:     d.InstallTimeout,
		InstallMemoryBytes: int64(d.InstallMemoryMB) << 20,
		InstallDiskBytes:   int64(d.InstallDiskMB) << 20,
		OwnerUID:           cfg.Jail.HostIDBase + cfg.Jail.SandboxUID,
		Logger:             log,
	}
}

// layer returns a lease on the dependency layer that job needs: its
// requirements, plus for /eval jobs the third-party imports detected in
// its files; nil when it needs none. An install that failed, or a wait
// that ctx ended, comes back as the job's Outcome; the error is the
// server's own trouble.
func (r *jailRunner) layer(ctx context.Context, job server.Job, in interpreters.Interpreter) (*deps.Lease, *server.Outcome, error) {
	reqs := job.Requirements // parsed and checked by the server
	var detected []string
	if job.DetectImports && !reqs.NoDetect {
		imports := requirements.Detect(sourceFiles(job.Files), job.Entrypoint, in.Stdlib, in.Installed)
		all := reqs.With(imports)
		for _, imp := range imports {
			if !reqs.Has(imp.Dist) && all.Has(imp.Dist) {
				detected = append(detected, requirements.Canonical(imp.Dist))
			}
		}
		reqs = all
	}
	if reqs.Empty() {
		return nil, nil, nil
	}
	if n := len(reqs.Reqs); n > requirements.MaxRequirements { // Parse bounds the text, not what detection adds
		msg := fmt.Sprintf("too many requirements (%d > %d)", n, requirements.MaxRequirements)
		if len(detected) > 0 {
			msg += fmt.Sprintf(", %d of them detected from the code's imports; requirements_txt \"-\" turns detection off", len(detected))
		}
		return nil, &server.Outcome{PythonVersion: in.Version, Failure: msg}, nil
	}
	if r.deps == nil {
		return nil, &server.Outcome{PythonVersion: in.Version,
			Failure: "this server installs no packages: requirements_txt is not supported"}, nil
	}
	lease, err := r.deps.Acquire(ctx, in, reqs)
	var ie *deps.InstallError
	switch {
	case err == nil:
		return lease, nil, nil
	case errors.As(err, &ie):
		msg := "installing requirements failed: " + ie.Reason
		if len(detected) > 0 {
			msg += fmt.Sprintf(" (detected from the code's imports: %s; requirements_txt \"-\" turns detection off)",
				strings.Join(detected, ", "))
		}
		return nil, &server.Outcome{PythonVersion: in.Version, Failure: msg, Stderr: ie.Output, ExitCode: ie.ExitCode}, nil
	case ctx.Err() != nil:
		return nil, &server.Outcome{PythonVersion: in.Version, Killed: true, ExitCode: -1}, nil
	}
	return nil, nil, fmt.Errorf("dependency layer: %w", err)
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

// layersAPI serves the cache to the server's /api/v1/deps endpoints.
type layersAPI struct{ c *deps.Cache }

var _ server.Layers = layersAPI{}

func (a layersAPI) List() []api.Layer { return a.c.List() }

func (a layersAPI) Remove(key string) error { return layersAPIError(a.c.Remove(key)) }

// layersAPIError gives the cache's errors the server's meaning.
func layersAPIError(err error) error {
	switch {
	case errors.Is(err, deps.ErrNotFound):
		return fmt.Errorf("%w: %w", server.ErrLayerNotFound, err)
	case errors.Is(err, deps.ErrInUse):
		return fmt.Errorf("%w: %w", server.ErrLayerInUse, err)
	}
	return err
}
