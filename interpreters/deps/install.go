package deps

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/jail"
)

// tmpPrefix starts the names of builds and removals in progress.
const tmpPrefix = ".tmp-"

// pipMain runs pip with its stdout sent to stderr, so that the output
// keeps its order.
const pipMain = `import os, runpy, sys; os.dup2(2, 1); sys.argv[0] = "pip"; runpy.run_module("pip", run_name="__main__", alter_sys=True)`

// installPids caps the install jail's tasks (pip, build backends).
const installPids = 512

// installOutput caps each of pip's output streams.
const installOutput = 1 << 20

func tempName(tag string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return tmpPrefix + tag + "-" + hex.EncodeToString(b)
}

// install builds the layer key in a new temporary directory of the cache
// and returns it, complete with its layer.json, for the caller to rename
// into place. Every error path removes what it made.
func (c *Cache) install(ctx context.Context, key string, in interpreters.Interpreter, reqs requirements.List) (_ string, m Meta, retErr error) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	case <-ctx.Done():
		return "", Meta{}, context.Cause(ctx)
	}
	tmp := filepath.Join(c.cfg.Dir, tempName(key[:8]))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", Meta{}, fmt.Errorf("make build dir: %w", err)
	}
	defer func() {
		if retErr != nil {
			if err := removeTemp(tmp); err != nil {
				c.log.Warn("remove failed build", "dir", tmp, "err", err)
			}
		}
	}()
	out := filepath.Join(tmp, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		return "", Meta{}, fmt.Errorf("make build dir: %w", err)
	}
	// The packages land on a tmpfs of the install's disk size, owned by
	// the jail's sandbox user: the only place the install jail may write.
	uid := c.cfg.OwnerUID
	opts := fmt.Sprintf("size=%d,mode=0755,uid=%d,gid=%d", c.cfg.InstallDiskBytes, uid, uid)
	if err := unix.Mount("tmpfs", out, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", Meta{}, fmt.Errorf("mount build tmpfs: %w", err)
	}
	defer func() {
		if err := unmount(out); err != nil {
			c.log.Warn("unmount build tmpfs", "dir", out, "err", err)
		}
	}()

	started := time.Now()
	res, err := c.jails.Run(ctx, c.installSpec(in, reqs, out))
	if err != nil {
		return "", Meta{}, fmt.Errorf("run pip: %w", err)
	}
	if res.Killed {
		return "", Meta{}, fmt.Errorf("install of %s stopped: %w", key, context.Cause(ctx))
	}
	if res.ExitCode != 0 || res.TimedOut || res.OOMKilled {
		output := append(append([]byte(nil), res.Stdout...), res.Stderr...)
		return "", Meta{}, &InstallError{Reason: failureReason(res, c.cfg), Output: output, ExitCode: res.ExitCode}
	}
	c.log.Debug("pip install done", "key", key, "took", time.Since(started), "output", string(res.Stderr))

	layer := filepath.Join(tmp, layerName)
	size, err := copyTree(out, layer)
	if err != nil {
		return "", Meta{}, fmt.Errorf("copy layer: %w", err)
	}
	now := time.Now().UTC()
	m = Meta{
		Format: metaFormat, Key: key, Python: in.Version,
		Requirements: reqs.Lines(), Packages: installedPackages(layer),
		SizeBytes: size, CreatedAt: now, LastUsedAt: now,
	}
	if err := writeMeta(tmp, m); err != nil {
		return "", Meta{}, fmt.Errorf("write %s: %w", metaName, err)
	}
	if err := syncDir(tmp); err != nil {
		return "", Meta{}, fmt.Errorf("sync layer: %w", err)
	}
	return tmp, m, nil
}

// installSpec is the install jail: the interpreter's pip, network on,
// writing only to out (mounted at outDir).
func (c *Cache) installSpec(in interpreters.Interpreter, reqs requirements.List, out string) jail.Spec {
	args := []string{
		in.Executable, "-I", "-u", "-c", pipMain, "install",
		"--target", outDir, "--no-cache-dir", "--disable-pip-version-check", "--no-input",
		"--no-warn-script-location", "--progress-bar", "off", "--no-color",
	}
	args = append(args, indexArgs(c.cfg.Index)...)
	args = append(args, "-r", filepath.Join(interpreters.WorkDir, requirementsFile))
	return jail.Spec{
		Args: args,
		Env: []string{
			"PATH=" + in.Path(), "HOME=/tmp", "LANG=C.UTF-8", "TMPDIR=/tmp",
			"PIP_CONFIG_FILE=/dev/null", // no pip.conf of the host or the jail
		},
		Mounts: in.Mounts,
		Binds:  append([]jail.Bind{{Source: out, Target: outDir, Writable: true}}, wheelBinds(c.cfg.Index)...),
		Files:  []jail.File{{Path: requirementsFile, Mode: 0o644, Data: []byte(reqs.Text())}},
		Limits: jail.Limits{
			Limits:         cgroup.Limits{MemoryBytes: c.cfg.InstallMemoryBytes, Pids: installPids},
			DiskBytes:      c.cfg.InstallDiskBytes,
			Timeout:        c.cfg.InstallTimeout,
			MaxOutputBytes: installOutput,
		},
		Network: true,
	}
}

// syncDir flushes the file system holding dir, so that a layer renamed
// into place survives a power loss whole.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}

func unmount(dir string) error {
	err := unix.Unmount(dir, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return err
	}
	return nil
}

// removeTemp removes a build or removal directory, unmounting the build
// tmpfs a crash may have left mounted.
func removeTemp(dir string) error {
	if err := unmount(filepath.Join(dir, "out")); err != nil {
		return fmt.Errorf("unmount %s: %w", dir, err)
	}
	return os.RemoveAll(dir)
}

func isTemp(name string) bool { return strings.HasPrefix(name, tmpPrefix) }
