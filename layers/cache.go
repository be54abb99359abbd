package layers

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
)

// touchEvery is how often a layer's last use is written to disk.
const touchEvery = time.Minute

// Cache is the set of layers on disk. It is safe for concurrent use.
type Cache struct {
	cfg   Config
	log   *slog.Logger
	jails Jails
	lock  *os.File
	slots chan struct{}  // one per install running
	wg    sync.WaitGroup // builds running

	mu      sync.Mutex
	closed  bool // set by Close: no build starts after it
	layers  map[string]*layer
	builds  map[string]*build
	total   int64 // bytes of the layers
	started int   // builds started, for tests
	built   int   // installs completed, for tests

	memo *memo // outcomes of detected imports (detected.go)
}

type layer struct {
	meta    Meta
	dir     string // <Dir>/<key>
	refs    int    // runs holding it
	used    time.Time
	touched time.Time // last time used was written to disk
}

// build is one install in progress, shared by every Acquire of its key.
type build struct {
	done    chan struct{} // closed when layer or err is set
	cancel  context.CancelFunc
	waiters int
	layer   *layer // on success; holds one reference per waiter
	err     error
}

// New opens the cache in cfg.Dir (made if missing), taking it for this
// process, removing what a crash left (builds in progress, layers without
// a valid layer.json) and evicting down to the cap. Installs run in
// jails, which must have BindTargets(cfg.Index) among their bind targets.
func New(cfg Config, jails Jails) (*Cache, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	c := &Cache{
		cfg: cfg, log: cfg.Logger, jails: jails,
		slots:  make(chan struct{}, cfg.MaxInstalls),
		layers: map[string]*layer{},
		builds: map[string]*build{},
		memo:   newMemo(memoTTL, memoMax),
	}
	// Traversable, not listable: jails reach a layer only by its key.
	for _, dir := range []string{cfg.Dir, cfg.layersDir()} {
		if err := os.MkdirAll(dir, 0o711); err != nil {
			return nil, fmt.Errorf("make deps cache dir: %w", err)
		}
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, fmt.Errorf("deps cache dir: %w", err)
		}
	}
	f, err := os.OpenFile(filepath.Join(cfg.Dir, ".lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open deps cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("deps cache %s is in use by another process: %w", cfg.Dir, err)
	}
	c.lock = f
	if err := c.scan(); err != nil {
		c.Close()
		return nil, err
	}
	c.mu.Lock()
	trash := c.evictLocked(nil)
	c.mu.Unlock()
	c.removeAll(trash)
	return c, nil
}

// closeWait bounds how long Close waits for stopped builds to clean up.
const closeWait = 10 * time.Second

// Close stops the builds in progress (their waiters get an error), waits
// a short while for them to remove their temporary files, and releases
// the cache dir. Acquire fails with ErrClosed afterwards; leases still
// held may be released. Later calls do nothing.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true // under mu: no startLocked, so no wg.Add, after this
	for _, b := range c.builds {
		b.cancel()
	}
	c.mu.Unlock()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(closeWait):
		c.log.Warn("deps cache closed with builds still cleaning up")
	}
	if c.lock == nil {
		return nil
	}
	err := c.lock.Close()
	c.lock = nil
	return err
}

// scan loads the layers on disk and removes what is not one.
func (c *Cache) scan() error {
	entries, err := os.ReadDir(c.cfg.Dir)
	if err != nil {
		return fmt.Errorf("read deps cache: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(c.cfg.Dir, name)
		switch {
		case name == ".lock" || name == layersName:
		case isTemp(name):
			if err := removeTemp(p); err != nil {
				return fmt.Errorf("remove leftover %s: %w", name, err)
			}
			c.log.Info("removed an unfinished build or removal", "dir", name)
		case e.IsDir() && requirements.ValidKey(name): // the layout before layers/
			if err := os.Rename(p, filepath.Join(c.cfg.layersDir(), name)); err != nil {
				if err := os.RemoveAll(p); err != nil {
					return fmt.Errorf("remove old layer %s: %w", name, err)
				}
				c.log.Warn("removed a layer of the old layout; it is rebuilt when next needed", "key", name, "err", err)
				continue
			}
			c.log.Info("moved a layer of the old layout into layers/", "key", name)
		default:
			c.log.Warn("unknown entry in the deps cache, left alone", "entry", name)
		}
	}
	if entries, err = os.ReadDir(c.cfg.layersDir()); err != nil {
		return fmt.Errorf("read deps cache: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(c.cfg.layersDir(), name)
		if !e.IsDir() || !requirements.ValidKey(name) {
			c.log.Warn("unknown entry in the deps cache, left alone", "entry", path.Join(layersName, name))
			continue
		}
		m, err := readMeta(p, name)
		if err != nil {
			if err := os.RemoveAll(p); err != nil {
				return fmt.Errorf("remove broken layer %s: %w", name, err)
			}
			c.log.Warn("removed a broken layer; it is rebuilt when next needed", "key", name, "err", err)
			continue
		}
		c.layers[name] = &layer{meta: m, dir: p, used: m.LastUsedAt, touched: m.LastUsedAt}
		c.total += m.SizeBytes
	}
	return nil
}

// Lease is a run's hold on a layer: the layer is not evicted or removed
// until Release.
type Lease struct {
	c    *Cache
	l    *layer
	once sync.Once
}

// Key is the layer's key.
func (l *Lease) Key() string { return l.l.meta.Key }

// Path is where a jail with Cache.Bind sees the layer; pass it as
// interpreters.Run.Layers.
func (l *Lease) Path() string { return path.Join(LayersMount, l.l.meta.Key, layerName) }

// Bind mounts the cache's layers read-only at LayersMount. Every run's
// jail gets it, with or without requirements, so that runs with
// requirements can use pooled jails too. Builds in progress are not under
// it: the mounts of their tmpfs would make the bind fail (a jail's user
// namespace may not bind a tree whose submounts it cannot see).
func (c *Cache) Bind() jail.Bind { return jail.Bind{Source: c.cfg.layersDir(), Target: LayersMount} }

// Release ends the hold; later calls do nothing.
func (l *Lease) Release() { l.once.Do(func() { l.c.release(l.l) }) }

// Acquire returns a lease on the layer of reqs for interpreter in,
// building it first if needed. Concurrent calls for one layer share one
// build. A failed install is an *InstallError (and is not cached). When
// ctx ends first, Acquire stops waiting and returns its error; the build
// goes on as long as someone else waits for it; a ctx already ended
// starts none. reqs must not be empty nor hold more than
// requirements.MaxRequirements. After Close: ErrClosed.
func (c *Cache) Acquire(ctx context.Context, in interpreters.Interpreter, reqs requirements.List) (*Lease, error) {
	switch {
	case reqs.Empty():
		return nil, errors.New("deps: no requirements to install")
	case len(reqs.Reqs) > requirements.MaxRequirements:
		return nil, fmt.Errorf("deps: %d requirements, more than %d", len(reqs.Reqs), requirements.MaxRequirements)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("wait for the install: %w", err)
	}
	key := requirements.Key(in.Version, reqs, c.cfg.Index)
	now := time.Now()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if l := c.layers[key]; l != nil {
		if fi, err := os.Stat(filepath.Join(l.dir, layerName)); err == nil && fi.IsDir() {
			l.refs++
			l.used = now
			touch := now.Sub(l.touched) > touchEvery
			if touch {
				l.touched = now
			}
			c.mu.Unlock()
			if touch {
				_ = os.Chtimes(filepath.Join(l.dir, metaName), now, now)
			}
			return &Lease{c: c, l: l}, nil
		}
		c.log.Warn("layer vanished from disk; rebuilding it", "key", key)
		delete(c.layers, key)
		c.total -= l.meta.SizeBytes
	}
	b := c.builds[key]
	if b == nil {
		b = c.startLocked(key, in, reqs)
	}
	b.waiters++
	c.mu.Unlock()

	select {
	case <-b.done:
		if b.err != nil {
			return nil, b.err
		}
		return &Lease{c: c, l: b.layer}, nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	select {
	case <-b.done: // it finished as we gave up: hand back our reference
		c.mu.Unlock()
		if b.err == nil {
			c.release(b.layer)
		}
	default:
		b.waiters--
		if b.waiters == 0 { // nobody waits: stop it, and let a new request start afresh
			b.cancel()
			if c.builds[key] == b {
				delete(c.builds, key)
			}
		}
		c.mu.Unlock()
	}
	return nil, fmt.Errorf("wait for the install: %w", context.Cause(ctx))
}

// startLocked starts building key.
func (c *Cache) startLocked(key string, in interpreters.Interpreter, reqs requirements.List) *build {
	ctx, cancel := context.WithCancel(context.Background())
	b := &build{done: make(chan struct{}), cancel: cancel}
	c.builds[key] = b
	c.started++
	c.wg.Add(1)
	go c.run(ctx, b, key, in, reqs)
	return b
}

// run builds key and publishes the result to b's waiters.
func (c *Cache) run(ctx context.Context, b *build, key string, in interpreters.Interpreter, reqs requirements.List) {
	defer c.wg.Done()
	defer b.cancel()
	started := time.Now()
	c.log.Info("installing requirements", "key", key, "python", in.Version, "requirements", len(reqs.Reqs))
	tmp, m, err := c.install(ctx, key, in, reqs)

	var trash []string
	c.mu.Lock()
	if c.builds[key] == b {
		delete(c.builds, key)
	}
	if err == nil {
		var l *layer
		l, trash, err = c.publishLocked(tmp, m)
		if err == nil {
			l.refs += b.waiters
			l.used = time.Now()
			b.layer = l
			c.built++
			trash = append(trash, c.evictLocked(l)...)
		} else {
			trash = append(trash, tmp)
		}
	}
	b.err = err
	close(b.done)
	c.mu.Unlock()
	c.removeAll(trash)

	var ie *InstallError
	switch {
	case err == nil:
		c.log.Info("layer ready", "key", key, "python", in.Version, "packages", m.Packages,
			"size_bytes", m.SizeBytes, "took", time.Since(started).Round(time.Millisecond))
	case errors.As(err, &ie):
		c.log.Info("install failed", "key", key, "python", in.Version, "reason", ie.Reason, "exit_code", ie.ExitCode)
	case ctx.Err() != nil:
		c.log.Info("install stopped: nobody waits for it", "key", key, "python", in.Version)
	default:
		c.log.Warn("install failed", "key", key, "python", in.Version, "err", err)
	}
}

// publishLocked renames the finished build tmp into place as layer m.Key,
// or keeps the layer another build published first. It returns what to
// remove once the lock is released.
func (c *Cache) publishLocked(tmp string, m Meta) (*layer, []string, error) {
	if l := c.layers[m.Key]; l != nil {
		return l, []string{tmp}, nil
	}
	dir := filepath.Join(c.cfg.layersDir(), m.Key)
	var trash []string
	if _, err := os.Lstat(dir); err == nil { // a broken leftover that vanished from memory
		stale := filepath.Join(c.cfg.Dir, tempName("stale"))
		if err := os.Rename(dir, stale); err != nil {
			return nil, nil, fmt.Errorf("move stale layer aside: %w", err)
		}
		trash = append(trash, stale)
	}
	if err := os.Chmod(tmp, 0o711); err != nil { // built 0700: reachable only once complete
		return nil, trash, fmt.Errorf("publish layer: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, trash, fmt.Errorf("publish layer: %w", err)
	}
	l := &layer{meta: m, dir: dir, used: m.LastUsedAt, touched: m.LastUsedAt}
	c.layers[m.Key] = l
	c.total += m.SizeBytes
	return l, trash, nil
}

func (c *Cache) release(l *layer) {
	c.mu.Lock()
	l.refs--
	var trash []string
	if l.refs == 0 {
		trash = c.evictLocked(nil)
	}
	c.mu.Unlock()
	c.removeAll(trash)
}

// evictLocked drops least recently used layers that no run holds, other
// than keep, until the cache fits its cap, and returns their directories
// (already renamed out of the way) for removal.
func (c *Cache) evictLocked(keep *layer) []string {
	if c.cfg.MaxBytes <= 0 || c.total <= c.cfg.MaxBytes {
		return nil
	}
	var idle []*layer
	for _, l := range c.layers {
		if l.refs == 0 && l != keep {
			idle = append(idle, l)
		}
	}
	slices.SortFunc(idle, func(a, b *layer) int { return a.used.Compare(b.used) })
	var trash []string
	for _, l := range idle {
		if c.total <= c.cfg.MaxBytes {
			break
		}
		t, err := c.dropLocked(l)
		if err != nil {
			c.log.Warn("evict layer", "key", l.meta.Key, "err", err)
			continue
		}
		if t != "" {
			trash = append(trash, t)
		}
		c.log.Info("evicted layer", "key", l.meta.Key, "size_bytes", l.meta.SizeBytes, "last_used", l.used.UTC())
	}
	if c.total > c.cfg.MaxBytes {
		c.log.Warn("deps cache over its cap: the rest is in use or just built",
			"total_bytes", c.total, "max_bytes", c.cfg.MaxBytes)
	}
	return trash
}

// dropLocked renames l's directory to a temporary name, returned for
// removal, and forgets l. When the rename fails l stays, on disk and
// listed; a directory already gone is forgotten ("" to remove).
func (c *Cache) dropLocked(l *layer) (string, error) {
	trash := filepath.Join(c.cfg.Dir, tempName("del"))
	err := os.Rename(l.dir, trash)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		trash = ""
	case err != nil:
		return "", fmt.Errorf("move layer %s aside: %w", l.meta.Key, err)
	}
	delete(c.layers, l.meta.Key)
	c.total -= l.meta.SizeBytes
	return trash, nil
}

func (c *Cache) removeAll(dirs []string) {
	for _, d := range dirs {
		if err := removeTemp(d); err != nil {
			c.log.Warn("remove layer dir", "dir", d, "err", err)
		}
	}
}

// Remove deletes the layer key: ErrNotFound if there is none, ErrInUse
// while a run holds it or it is being built.
func (c *Cache) Remove(key string) error {
	c.mu.Lock()
	l := c.layers[key]
	switch {
	case l == nil && c.builds[key] != nil:
		c.mu.Unlock()
		return ErrInUse
	case l == nil:
		c.mu.Unlock()
		return ErrNotFound
	case l.refs > 0:
		c.mu.Unlock()
		return ErrInUse
	}
	trash, err := c.dropLocked(l)
	c.mu.Unlock()
	if err != nil {
		return err
	}
	if trash != "" {
		c.removeAll([]string{trash})
	}
	c.log.Info("removed layer", "key", key)
	return nil
}

// List describes the layers, most recently used first.
func (c *Cache) List() []api.Layer {
	c.mu.Lock()
	out := make([]api.Layer, 0, len(c.layers))
	for _, l := range c.layers {
		m := l.meta
		out = append(out, api.Layer{
			Key: m.Key, PythonVersion: m.Python,
			Requirements: append([]string{}, m.Requirements...),
			Packages:     append([]string{}, m.Packages...),
			SizeBytes:    m.SizeBytes, CreatedAt: m.CreatedAt.UTC(), LastUsedAt: l.used.UTC(),
			InUse: l.refs > 0,
		})
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b api.Layer) int { return b.LastUsedAt.Compare(a.LastUsedAt) })
	return out
}

// SizeBytes is the disk use of the layers.
func (c *Cache) SizeBytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Warm builds the layer of each requirements text for interpreter in, one
// after the other, logging each; it stops early when ctx ends.
func (c *Cache) Warm(ctx context.Context, in interpreters.Interpreter, texts []string) {
	for i, text := range texts {
		reqs, err := requirements.Parse(text)
		if err == nil && reqs.Empty() {
			err = errors.New("no requirements")
		}
		if err != nil {
			c.log.Warn("warm-up entry skipped", "index", i, "err", err)
			continue
		}
		started := time.Now()
		lease, err := c.Acquire(ctx, in, reqs)
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return
		}
		if err != nil {
			c.log.Warn("warm-up layer failed", "index", i, "python", in.Version, "requirements", reqs.Lines(), "err", err)
			continue
		}
		lease.Release()
		c.log.Info("warm-up layer ready", "index", i, "key", lease.Key(), "python", in.Version,
			"requirements", reqs.Lines(), "took", time.Since(started).Round(time.Millisecond))
	}
}
