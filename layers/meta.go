package layers

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"
)

// metaFormat is the version of layer.json.
const metaFormat = 1

// Meta describes one layer; it is the content of <key>/layer.json.
type Meta struct {
	Format int    `json:"format"`
	Key    string `json:"key"`
	// Python is the interpreter's full version.
	Python string `json:"python_version"`
	// Requirements are the normalised requirement lines.
	Requirements []string `json:"requirements"`
	// Packages are the installed distributions, "name==version".
	Packages  []string  `json:"packages"`
	SizeBytes int64     `json:"size_bytes"`
	CreatedAt time.Time `json:"created_at"`
	// LastUsedAt is when the layer was built; the file's mtime is its
	// last use (touched at most once a minute).
	LastUsedAt time.Time `json:"last_used_at"`
}

const (
	metaName  = "layer.json"
	layerName = "layer"
)

func writeMeta(dir string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, metaName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// readMeta reads and checks the layer in dir, named key. Its LastUsedAt
// is the later of the recorded one and the file's mtime.
func readMeta(dir, key string) (Meta, error) {
	p := filepath.Join(dir, metaName)
	b, err := os.ReadFile(p)
	if err != nil {
		return Meta{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("%s: %w", metaName, err)
	}
	switch {
	case m.Format != metaFormat:
		return Meta{}, fmt.Errorf("%s: format %d, want %d", metaName, m.Format, metaFormat)
	case m.Key != key:
		return Meta{}, fmt.Errorf("%s: key %q does not match the directory", metaName, m.Key)
	}
	if fi, err := os.Stat(filepath.Join(dir, layerName)); err != nil || !fi.IsDir() {
		return Meta{}, fmt.Errorf("%s: missing", layerName)
	}
	if fi, err := os.Stat(p); err == nil && fi.ModTime().After(m.LastUsedAt) {
		m.LastUsedAt = fi.ModTime()
	}
	return m, nil
}

// installedPackages lists the distributions pip put in dir as
// "name==version", from their .dist-info (or .egg-info) metadata. What
// pip wrote is the packages' to choose, so the files are opened inside
// dir only (a symlink out of it is not followed) and only when regular (a
// fifo would block); a name or version that cannot be read comes from
// the directory's name.
func installedPackages(dir string) []string {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return nil
	}
	entries, _ := d.ReadDir(-1)
	d.Close()
	var out []string
	for _, e := range entries {
		var file string
		switch {
		case strings.HasSuffix(e.Name(), ".dist-info"):
			file = "METADATA"
		case strings.HasSuffix(e.Name(), ".egg-info"):
			file = "PKG-INFO"
		default:
			continue
		}
		name, version := metadataNameVersion(root, path.Join(e.Name(), file))
		if name == "" {
			base := strings.TrimSuffix(strings.TrimSuffix(e.Name(), ".dist-info"), ".egg-info")
			name, version, _ = strings.Cut(base, "-")
		}
		out = append(out, name+"=="+version)
	}
	slices.Sort(out)
	return out
}

// metadataNameVersion reads the Name and Version headers of the core
// metadata file rel of root, a regular file.
func metadataNameVersion(root *os.Root, rel string) (name, version string) {
	f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", ""
	}
	sc := bufio.NewScanner(io.LimitReader(f, 64<<10))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // end of the headers
		}
		if v, ok := strings.CutPrefix(line, "Name:"); ok {
			name = strings.TrimSpace(v)
		} else if v, ok := strings.CutPrefix(line, "Version:"); ok {
			version = strings.TrimSpace(v)
		}
	}
	return name, version
}
