package jail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// buildRootfs makes the shared, read-only root skeleton: every mountpoint
// pre-created (concurrent jails would race on mkdir otherwise), a minimal
// /etc with the sandbox user and no secrets, and Config.Files.
func (m *Manager) buildRootfs() error {
	if err := os.RemoveAll(m.rootfs); err != nil {
		return err
	}
	dirs := []string{"etc", "work", "tmp", "proc", "dev"}
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(m.rootfs, d), 0o755); err != nil {
			return err
		}
	}
	for _, p := range m.cfg.BaseMounts {
		fi, err := os.Lstat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		dst := filepath.Join(m.rootfs, p)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, dst); err != nil {
				return err
			}
			continue
		}
		if !fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		m.binds = append(m.binds, p)
	}
	for _, p := range append(append([]string(nil), m.cfg.Mounts...), m.cfg.BindTargets...) {
		if err := os.MkdirAll(filepath.Join(m.rootfs, p), 0o755); err != nil {
			return err
		}
	}
	if err := m.writeEtc(); err != nil {
		return err
	}
	names := make([]string, 0, len(m.cfg.Files))
	for name := range m.cfg.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		dst := filepath.Join(m.rootfs, filepath.Clean("/"+name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, m.cfg.Files[name], 0o644); err != nil {
			return err
		}
	}
	// Parents of deep mountpoints (/root/.pyenv/...) are plain 0755 dirs of
	// the skeleton, not the host's private ones.
	return filepath.Walk(m.rootfs, func(p string, fi os.FileInfo, err error) error {
		if err != nil || !fi.IsDir() {
			return err
		}
		return os.Chmod(p, 0o755)
	})
}

func (m *Manager) writeEtc() error {
	uid := m.cfg.SandboxUID
	files := map[string]string{
		"passwd":        fmt.Sprintf("root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:%d:%d:sandbox:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n", uid, uid),
		"group":         fmt.Sprintf("root:x:0:\nsandbox:x:%d:\nnogroup:x:65534:\n", uid),
		"hosts":         "127.0.0.1\tlocalhost pyexec\n::1\tlocalhost ip6-localhost ip6-loopback\n",
		"hostname":      "pyexec\n",
		"nsswitch.conf": "passwd: files\ngroup: files\nhosts: files dns\n",
		// Runs with network resolve through their NAT (jail/net.go).
		"resolv.conf": m.resolvConf(),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(m.rootfs, "etc", name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	// Copied from the host: the dynamic linker's cache (multiarch library
	// paths live there), time zone.
	for _, name := range []string{"ld.so.cache", "localtime", "mime.types"} {
		if err := copyEtc(filepath.Join("/etc", name), filepath.Join(m.rootfs, "etc", name)); err != nil {
			return err
		}
	}
	return nil
}

func copyEtc(src, dst string) error {
	fi, err := os.Lstat(src)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
