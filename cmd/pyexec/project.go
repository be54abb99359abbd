package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// project is what run and submit upload.
type project struct {
	tar        io.Reader
	closer     io.Closer // the tar file given on the command line, if any
	entrypoint string
	fromStdin  bool // the code was read from our standard input
}

// Close releases the tar file, if one was opened.
func (p *project) Close() error {
	if p.closer == nil {
		return nil
	}
	return p.closer.Close()
}

// isTarName reports whether path names a tar archive sent as is.
func isTarName(path string) bool {
	l := strings.ToLower(path)
	return strings.HasSuffix(l, ".tar") || strings.HasSuffix(l, ".tar.gz") || strings.HasSuffix(l, ".tgz")
}

// loadProject builds the project from the path argument (pos, at most
// one), the --file flags, or standard input, and picks its entrypoint:
// --entrypoint, else the single .py file named, else DetectEntrypoint.
func (c *cli) loadProject(pos []string) (*project, error) {
	if len(pos) > 1 {
		return nil, usageErrorf("give one file, directory or tar archive (script arguments go after --), not %d", len(pos))
	}
	path := ""
	if len(pos) == 1 && pos[0] != "-" {
		path = pos[0]
	}
	var p *project
	var err error
	switch {
	case len(c.p.files) > 0:
		p, err = c.filesProject(path)
	case path == "":
		p, err = c.stdinProject(len(pos) == 1)
	case isTarName(path):
		p, err = tarProject(path)
	default:
		p, err = pathProject(path)
	}
	if err != nil {
		return nil, err
	}
	if c.p.entrypoint != "" {
		p.entrypoint = c.p.entrypoint
	}
	return p, nil
}

// filesProject tars the --file files, plus path when it names a file.
func (c *cli) filesProject(path string) (*project, error) {
	files := c.p.files
	entry := ""
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		if fi.IsDir() || isTarName(path) {
			return nil, usageErrorf("--file cannot be combined with a directory or tar archive")
		}
		files = append(append([]string{}, files...), path)
		entry = filepath.Base(path)
	}
	b, err := client.TarFromFiles(files...)
	if err != nil {
		return nil, err
	}
	if entry == "" && c.p.entrypoint == "" {
		names := make([]string, len(files))
		for i, f := range files {
			names[i] = filepath.Base(f)
		}
		if entry, err = client.DetectEntrypoint(names); err != nil {
			return nil, err
		}
	}
	return &project{tar: bytes.NewReader(b), entrypoint: entry}, nil
}

// stdinProject makes main.py from our standard input. Unless "-" was given
// explicitly, a terminal on stdin means no code was given.
func (c *cli) stdinProject(explicit bool) (*project, error) {
	if !explicit && isTerminal(c.stdin) {
		return nil, usageErrorf("no code given: name a .py file, a directory or a tar archive, or pipe code on stdin")
	}
	code, err := readAll(c.stdin)
	if err != nil {
		return nil, err
	}
	if len(code) == 0 {
		return nil, usageErrorf("no code given: standard input is empty")
	}
	b, err := client.TarFromMap(map[string]string{"main.py": string(code)})
	if err != nil {
		return nil, err
	}
	return &project{tar: bytes.NewReader(b), entrypoint: "main.py", fromStdin: true}, nil
}

// tarProject sends the archive at path as is, streamed from the file.
func tarProject(path string) (*project, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	names, err := client.TarNames(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	p := &project{tar: f, closer: f}
	p.entrypoint, _ = client.DetectEntrypoint(names) // checked once --entrypoint is known
	return p, nil
}

// pathProject tars a directory, or a single file that becomes the
// entrypoint whatever its name.
func pathProject(path string) (*project, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		b, err := client.TarFromFile(path)
		if err != nil {
			return nil, err
		}
		return &project{tar: bytes.NewReader(b), entrypoint: filepath.Base(path)}, nil
	}
	b, err := client.TarFromDir(path)
	if err != nil {
		return nil, err
	}
	names, err := client.TarNames(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	p := &project{tar: bytes.NewReader(b)}
	p.entrypoint, _ = client.DetectEntrypoint(names)
	return p, nil
}

// metadata builds the metadata part for p from the flags; rest are the
// script's arguments.
func (c *cli) metadata(p *project, rest []string) (api.Metadata, error) {
	if p.entrypoint == "" {
		return api.Metadata{}, usageErrorf("no .py file in the project: give --entrypoint")
	}
	env, err := resolveEnv(c.p.env, c.environ)
	if err != nil {
		return api.Metadata{}, err
	}
	md := api.Metadata{
		Entrypoint:    p.entrypoint,
		DockerImage:   c.g.image,
		PythonVersion: c.p.python,
		EnvVars:       env,
		ScriptArgs:    rest,
		Config:        c.g.config(),
	}
	if c.p.requirements != "" {
		b, err := os.ReadFile(c.p.requirements)
		if err != nil {
			return api.Metadata{}, err
		}
		md.RequirementsTxt = string(b)
	}
	if c.p.stdinFile != "" {
		if c.p.stdinFile == "-" && p.fromStdin {
			return api.Metadata{}, usageErrorf("--stdin-file - cannot be used when the code comes from stdin")
		}
		if md.Stdin, err = c.readFileArg(c.p.stdinFile); err != nil {
			return api.Metadata{}, err
		}
	}
	return md, nil
}
