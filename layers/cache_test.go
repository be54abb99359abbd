package layers

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
)

// countingJails is a Jails that runs nothing: it counts the install
// jails asked for and fails them.
type countingJails struct {
	mu   sync.Mutex
	runs int
}

func (j *countingJails) Run(context.Context, jail.Spec) (jail.Result, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs++
	return jail.Result{}, errors.New("countingJails runs nothing")
}

// unitCache is a cache in a temporary directory whose installs never run.
func unitCache(t *testing.T) (*Cache, *countingJails) {
	t.Helper()
	j := &countingJails{}
	c, err := New(Config{Dir: filepath.Join(t.TempDir(), "deps"), OwnerUID: 1000}, j)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, j
}

// TestAcquireStartsNoBuild checks the cases where Acquire must return at
// once without starting an install.
func TestAcquireStartsNoBuild(t *testing.T) {
	in := interpreters.Interpreter{Version: "3.12.1"}
	reqs := parse(t, "pyx-base")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		prepare func(c *Cache) context.Context
		want    error
	}{
		{"ctx already ended", func(*Cache) context.Context { return ended }, context.Canceled},
		{"after Close", func(c *Cache) context.Context {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := c.Close(); err != nil { // twice is harmless
				t.Fatal(err)
			}
			return context.Background()
		}, ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, j := unitCache(t)
			ctx := tt.prepare(c)
			lease, err := c.Acquire(ctx, in, reqs)
			if !errors.Is(err, tt.want) || lease != nil {
				t.Fatalf("Acquire = %v, %v; want %v", lease, err, tt.want)
			}
			c.wg.Wait() // any build started
			c.mu.Lock()
			started, builds := c.started, len(c.builds)
			c.mu.Unlock()
			j.mu.Lock()
			runs := j.runs
			j.mu.Unlock()
			if started != 0 || builds != 0 || runs != 0 {
				t.Errorf("%d builds started, %d in progress, %d install jails; want none", started, builds, runs)
			}
		})
	}
}

func TestAcquireTooMany(t *testing.T) {
	c, j := unitCache(t)
	var reqs requirements.List
	for i := range requirements.MaxRequirements + 1 {
		reqs.Reqs = append(reqs.Reqs, requirements.Requirement{Name: "p" + strconv.Itoa(i)})
	}
	if _, err := c.Acquire(context.Background(), interpreters.Interpreter{Version: "3.12.1"}, reqs); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("Acquire of %d requirements: %v", len(reqs.Reqs), err)
	}
	if j.runs != 0 {
		t.Errorf("%d install jails", j.runs)
	}
}

// TestRemoveFailure checks that a layer whose directory cannot be moved
// aside is reported, and stays listed.
func TestRemoveFailure(t *testing.T) {
	requireJail(t) // mounts
	dir := filepath.Join(t.TempDir(), "deps")
	key := strings.Repeat("b", requirements.KeyLen)
	layerDir := filepath.Join(Config{Dir: dir}.layersDir(), key)
	if err := os.MkdirAll(filepath.Join(layerDir, layerName), 0o755); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := writeMeta(layerDir, Meta{Format: metaFormat, Key: key, Python: "3.12.1", SizeBytes: 4096, CreatedAt: now, LastUsedAt: now}); err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{Dir: dir, OwnerUID: 1000}, &countingJails{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A mount point cannot be renamed (EBUSY).
	if err := unix.Mount(filepath.Join(layerDir, layerName), layerDir, "", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	err = c.Remove(key)
	if uerr := unmount(layerDir); uerr != nil {
		t.Fatal(uerr)
	}
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrInUse) {
		t.Fatalf("Remove of an immovable layer = %v, want its error", err)
	}
	if l := c.List(); len(l) != 1 || l[0].Key != key || c.SizeBytes() != 4096 {
		t.Errorf("after a failed Remove: %+v, %d bytes; want the layer still listed", l, c.SizeBytes())
	}
	if err := c.Remove(key); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if _, err := os.Stat(layerDir); !os.IsNotExist(err) || len(c.List()) != 0 {
		t.Errorf("removed layer: stat %v, listed %+v", err, c.List())
	}
}
