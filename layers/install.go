package layers

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
	tmp, out, err := c.startBuild(key[:8])
	if err != nil {
		return "", Meta{}, err
	}
	defer func() {
		if retErr != nil {
			if err := removeTemp(tmp); err != nil {
				c.log.Warn("remove failed build", "dir", tmp, "err", err)
			}
		}
	}()
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
	size, err := copyTree(out, layer, c.cfg.InstallDiskBytes)
	if errors.Is(err, errTooBig) {
		return "", Meta{}, &InstallError{Reason: fmt.Sprintf("the packages do not fit the install disk limit of %d MB", c.cfg.InstallDiskBytes>>20),
			Output: res.Stderr, ExitCode: res.ExitCode}
	}
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

// startBuild makes a build directory, <Dir>/.tmp-<tag>-*: root's alone,
// outside the layers that jails see, with the build tmpfs mounted at its
// out/. The packages land on that tmpfs, of the install's disk size and
// owned by the jail's sandbox user: the only place the install jail may
// write. On error nothing is left.
func (c *Cache) startBuild(tag string) (tmp, out string, err error) {
	tmp = filepath.Join(c.cfg.Dir, tempName(tag))
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", "", fmt.Errorf("make build dir: %w", err)
	}
	out = filepath.Join(tmp, "out")
	err = os.Mkdir(out, 0o755)
	if err == nil {
		err = unix.Mount("tmpfs", out, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, c.buildTmpfsOptions())
	}
	if err != nil {
		return "", "", errors.Join(fmt.Errorf("mount build tmpfs: %w", err), removeTemp(tmp))
	}
	return tmp, out, nil
}

// buildTmpfsOptions are the mount options of a build's tmpfs: the install
// disk size, one inode per 4 KiB of it (as many files as could hold a
// block each; the copy into the cache charges a block per entry),
// writable by every uid: each jail's sandbox user has host ids of its own
// (jail: one user namespace per slot), unknown before the jail starts.
// Only the install jail sees the tmpfs (its build directory is root's
// alone, 0700), and what it wrote is copied as the server's own.
func (c *Cache) buildTmpfsOptions() string {
	size, uid := c.cfg.InstallDiskBytes, c.cfg.OwnerUID
	return fmt.Sprintf("size=%d,nr_inodes=%d,mode=0777,uid=%d,gid=%d", size, max(size/4096, 1024), uid, uid)
}

// installSpec is the install jail: the interpreter's pip, writing only to
// out (mounted at outDir), with the host's network only when the index
// needs it (not for find-links directories alone).
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
			// The layer's tmpfs and /tmp are charged to the jail's memory.
			Limits:         cgroup.Limits{MemoryBytes: c.cfg.InstallMemoryBytes + 2*c.cfg.InstallDiskBytes, Pids: installPids},
			DiskBytes:      c.cfg.InstallDiskBytes,
			Timeout:        c.cfg.InstallTimeout,
			MaxOutputBytes: installOutput,
		},
		// The operator's index, wherever it is (the host's loopback too):
		// the host's network, as before runs had a NAT of their own.
		HostNetwork: !offline(c.cfg.Index),
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
