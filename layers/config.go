package layers

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
)

// Paths inside jails.
const (
	// LayersMount is where every run's jail sees the cache's layers
	// directory, read-only (Cache.Bind): pooled jails are started before
	// their request names its layer. That directory and the layers' own
	// are traversable but not listable (0711), so a run reaches only the
	// layer whose path it is given (Lease.Path); the build directories are
	// root's alone (0700), outside it.
	LayersMount = "/.pyexec/layers"
	// outDir is where the install jail sees the layer being built.
	outDir = "/.pyexec/out"
	// wheelsDir/<n> is where the install jail sees the n-th find-links
	// entry when that is a local directory.
	wheelsDir = "/.pyexec/wheels"
	// requirementsFile is the install jail's requirements.txt.
	requirementsFile = "requirements.txt"
)

// Config is the cache and installer setup.
type Config struct {
	// Dir holds the layers, absolute. Required; made if missing.
	Dir string
	// MaxBytes caps the disk use of the layers; past it the least
	// recently used layers not in use are removed. Zero: no cap (pyexecd
	// always sets one: configs requires deps.cache_max_mb >= 1 and >=
	// deps.install_disk_mb). It should be at least InstallDiskBytes: a
	// layer bigger than the cap is evicted as soon as it is released, so
	// it is rebuilt for every run.
	MaxBytes int64
	// Index is where pip looks for packages.
	Index requirements.Index
	// InstallTimeout bounds one pip run. Zero: 10 minutes.
	InstallTimeout time.Duration
	// InstallMemoryBytes is the memory pip may use. Zero: 1 GiB. The
	// install jail's memory cgroup is also charged the pages of its
	// tmpfs, so its limit is InstallMemoryBytes plus InstallDiskBytes for
	// each of the layer being built and /tmp: an install that fills
	// either gets "no space left" (the disk limit), not an OOM kill.
	InstallMemoryBytes int64
	// InstallDiskBytes bounds the installed packages (the layer is built
	// on a tmpfs of this size, with one inode per 4 KiB of it, and its
	// copy into the cache is refused past this size, sparse files and
	// file counts included) and sizes the install jail's /tmp. Zero:
	// 2 GiB.
	InstallDiskBytes int64
	// MaxInstalls is how many installs run at once. Zero: 2.
	MaxInstalls int
	// OwnerUID is the host uid of the jails' sandbox user (the jail
	// Config's HostIDBase+SandboxUID), which must own the build dir.
	// Required.
	OwnerUID int
	// Logger receives one line per build, eviction and removal. Nil:
	// discard.
	Logger *slog.Logger
}

// layersName is the directory of Config.Dir that holds the layers.
const layersName = "layers"

// layersDir holds the layers: <Dir>/layers/<key>.
func (c Config) layersDir() string { return filepath.Join(c.Dir, layersName) }

func (c Config) withDefaults() Config {
	if c.InstallTimeout <= 0 {
		c.InstallTimeout = 10 * time.Minute
	}
	if c.InstallMemoryBytes <= 0 {
		c.InstallMemoryBytes = 1 << 30
	}
	if c.InstallDiskBytes <= 0 {
		c.InstallDiskBytes = 2 << 30
	}
	if c.MaxInstalls <= 0 {
		c.MaxInstalls = 2
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Dir == "" || !filepath.IsAbs(c.Dir):
		return fmt.Errorf("deps cache dir %q: must be an absolute path", c.Dir)
	case c.OwnerUID <= 0:
		return fmt.Errorf("deps owner uid %d: must be the jails' sandbox host uid, > 0", c.OwnerUID)
	case c.MaxBytes < 0:
		return fmt.Errorf("deps cache cap %d: must not be negative", c.MaxBytes)
	}
	for _, u := range append([]string{c.Index.URL}, c.Index.ExtraURLs...) {
		if strings.HasPrefix(u, "file:") {
			return fmt.Errorf("deps index %q: must be an http(s) URL; a local directory is a find-links entry", u)
		}
	}
	for _, fl := range c.Index.FindLinks {
		if p, ok := localDir(fl); ok && !filepath.IsAbs(p) {
			return fmt.Errorf("deps find-links %q: a directory must be absolute", fl)
		}
	}
	return nil
}

// Jails runs jails; *jail.Manager is one.
type Jails interface {
	Run(ctx context.Context, spec jail.Spec) (jail.Result, error)
}

// BindTargets are the jail bind targets that runs and installs with ix
// use; give them to the jail Manager (jail.Config.BindTargets).
func BindTargets(ix requirements.Index) []string {
	out := []string{LayersMount, outDir}
	for i, fl := range ix.FindLinks {
		if _, ok := localDir(fl); ok {
			out = append(out, wheelDir(i))
		}
	}
	return out
}

func wheelDir(i int) string { return path.Join(wheelsDir, strconv.Itoa(i)) }

// localDir returns the host directory of a find-links entry that is one
// (an absolute path or a file: URL).
func localDir(fl string) (string, bool) {
	if strings.HasPrefix(fl, "file:") {
		u, err := url.Parse(fl)
		if err != nil {
			return "", false
		}
		return u.Path, true
	}
	return fl, filepath.IsAbs(fl)
}

// offline reports whether pip needs no network for ix: no index (not even
// pip's default), only find-links directories of the host (an offline
// box).
func offline(ix requirements.Index) bool {
	if ix.URL != "" || len(ix.ExtraURLs) > 0 || len(ix.FindLinks) == 0 {
		return false
	}
	for _, fl := range ix.FindLinks {
		if _, ok := localDir(fl); !ok {
			return false
		}
	}
	return true
}

// indexArgs are pip's options for ix. With find-links and no index at
// all, pip is told not to look for one (an offline box). Unless ix allows
// source builds, pip installs wheels only.
func indexArgs(ix requirements.Index) []string {
	var args []string
	if !ix.SourceBuilds {
		args = append(args, "--only-binary=:all:")
	}
	switch {
	case ix.URL != "":
		args = append(args, "--index-url", ix.URL)
	case len(ix.FindLinks) > 0 && len(ix.ExtraURLs) == 0:
		args = append(args, "--no-index")
	}
	for _, u := range ix.ExtraURLs {
		args = append(args, "--extra-index-url", u)
	}
	for i, fl := range ix.FindLinks {
		if _, ok := localDir(fl); ok {
			fl = wheelDir(i)
		}
		args = append(args, "--find-links", fl)
	}
	for _, h := range ix.TrustedHosts {
		args = append(args, "--trusted-host", h)
	}
	return args
}

// wheelBinds are the read-only binds of local find-links directories.
func wheelBinds(ix requirements.Index) []jail.Bind {
	var out []jail.Bind
	for i, fl := range ix.FindLinks {
		if p, ok := localDir(fl); ok {
			out = append(out, jail.Bind{Source: p, Target: wheelDir(i)})
		}
	}
	return out
}
