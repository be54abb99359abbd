package layers

import (
	"slices"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// TestInstallSpec checks the install jail's pip options and network for
// each kind of index: network only when pip must reach one, wheels only
// unless source builds are allowed.
func TestInstallSpec(t *testing.T) {
	tests := []struct {
		name    string
		ix      requirements.Index
		network bool
		args    string // pip's index options, space-joined
	}{
		{"pip's default index", requirements.Index{}, true, "--only-binary=:all:"},
		{"index url", requirements.Index{URL: "http://127.0.0.1:1/simple/"}, true,
			"--only-binary=:all: --index-url http://127.0.0.1:1/simple/"},
		{"local find-links only", requirements.Index{FindLinks: []string{"/srv/wheels"}}, false,
			"--only-binary=:all: --no-index --find-links /.pyexec/wheels/0"},
		{"file: find-links only", requirements.Index{FindLinks: []string{"file:///srv/wheels", "/srv/more"}}, false,
			"--only-binary=:all: --no-index --find-links /.pyexec/wheels/0 --find-links /.pyexec/wheels/1"},
		{"remote find-links", requirements.Index{FindLinks: []string{"/srv/wheels", "https://w.example/"}}, true,
			"--only-binary=:all: --no-index --find-links /.pyexec/wheels/0 --find-links https://w.example/"},
		{"local find-links and an extra index", requirements.Index{ExtraURLs: []string{"https://x.example/simple"}, FindLinks: []string{"/srv/wheels"}}, true,
			"--only-binary=:all: --extra-index-url https://x.example/simple --find-links /.pyexec/wheels/0"},
		{"local find-links and an index", requirements.Index{URL: "https://x.example/simple", FindLinks: []string{"/srv/wheels"}}, true,
			"--only-binary=:all: --index-url https://x.example/simple --find-links /.pyexec/wheels/0"},
		{"source builds allowed", requirements.Index{URL: "https://x.example/simple", SourceBuilds: true}, true,
			"--index-url https://x.example/simple"},
	}
	in := interpreters.Interpreter{Version: "3.12.1", Executable: "/usr/bin/python3.12"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{Dir: "/var/lib/pyexec/deps", OwnerUID: 1000, Index: tt.ix}.withDefaults()
			c := &Cache{cfg: cfg}
			spec := c.installSpec(in, parse(t, "pyx-base"), "/tmp/out")
			// An install with an index keeps the host's network (the
			// operator's index may be on the host's loopback).
			if spec.HostNetwork != tt.network || spec.Network {
				t.Errorf("HostNetwork = %v, Network = %v; want %v, false", spec.HostNetwork, spec.Network, tt.network)
			}
			args := strings.Join(spec.Args, " ")
			if want := " " + tt.args + " -r "; !strings.Contains(args, want) {
				t.Errorf("pip args %q\nwant %q before the requirements file", args, tt.args)
			}
			if strings.Contains(tt.args, "--only-binary") != slices.Contains(spec.Args, "--only-binary=:all:") {
				t.Errorf("pip args %q: --only-binary not as expected", args)
			}
			// Both tmpfs (the layer, /tmp) are charged to the jail's memory.
			if want := cfg.InstallMemoryBytes + 2*cfg.InstallDiskBytes; spec.Limits.MemoryBytes != want {
				t.Errorf("memory limit %d, want %d", spec.Limits.MemoryBytes, want)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	base := Config{Dir: "/var/lib/pyexec/deps", OwnerUID: 1000}
	tests := []struct {
		name string
		ix   requirements.Index
		bad  string // "" for valid
	}{
		{"http index", requirements.Index{URL: "https://x.example/simple"}, ""},
		{"file index", requirements.Index{URL: "file:///srv/simple"}, "index"},
		{"file extra index", requirements.Index{ExtraURLs: []string{"file:///srv/simple"}}, "index"},
		{"absolute find-links", requirements.Index{FindLinks: []string{"/srv/wheels", "file:///srv/w"}}, ""},
		{"relative file find-links", requirements.Index{FindLinks: []string{"file:wheels"}}, "find-links"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base
			cfg.Index = tt.ix
			err := cfg.validate()
			if tt.bad == "" && err != nil || tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)) {
				t.Errorf("validate = %v, want %q", err, tt.bad)
			}
		})
	}
}
