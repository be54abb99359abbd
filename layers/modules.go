package layers

import (
	"bufio"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// provides reports whether the lease's layer makes module (dotted)
// importable.
func (l *Lease) provides(module string) bool {
	return layerProvides(filepath.Join(l.l.dir, layerName), module)
}

// layerProvides reports whether the installed tree dir makes module
// importable, looking at what the packages put there, whatever their
// distributions' names: in dir and in the directories its .pth files add,
// part by part from the top, a module file (x.py, x.pyc, x.so,
// x.<tag>.so) or a regular package (x/__init__.py) provides the module
// and everything below it; a directory without __init__.py (a namespace
// package) is looked into for the next part; anything else does not
// provide it. What pip wrote is the packages' to choose, so it is read
// inside dir only (os.Root: no symlink leads out).
func layerProvides(dir, module string) bool {
	if module == "" {
		return false
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return false
	}
	defer root.Close()
	parts := strings.Split(module, ".")
	for _, base := range append([]string{"."}, pthDirs(root)...) {
		if providesIn(root, base, parts) {
			return true
		}
	}
	return false
}

func providesIn(root *os.Root, dir string, parts []string) bool {
	for _, part := range parts {
		entries, ok := readDir(root, dir)
		if !ok {
			return false
		}
		if moduleFile(entries, part) {
			return true
		}
		sub := path.Join(dir, part)
		if fi, err := root.Stat(sub); err != nil || !fi.IsDir() {
			return false
		}
		if fi, err := root.Stat(path.Join(sub, "__init__.py")); err == nil && fi.Mode().IsRegular() {
			return true
		}
		dir = sub // a namespace package: the next part is in it
	}
	return true // namespace packages all the way: importable
}

func readDir(root *os.Root, dir string) ([]fs.DirEntry, bool) {
	d, err := root.Open(dir)
	if err != nil {
		return nil, false
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	return entries, err == nil
}

// moduleFile reports whether entries hold a module file of name: name.py,
// name.pyc, or an extension module name.so / name.<tag>.so.
func moduleFile(entries []fs.DirEntry, name string) bool {
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, name+".") {
			continue
		}
		if n == name+".py" || n == name+".pyc" || strings.HasSuffix(n, ".so") {
			return true
		}
	}
	return false
}

// maxPth bounds what is read of one .pth file.
const maxPth = 64 << 10

// pthDirs are the directories inside root that its .pth files add to
// sys.path, as site.addpackage reads them: a line is a path relative to
// the file's directory, unless it is blank, a comment or starts with
// "import". Paths that leave root are left out.
func pthDirs(root *os.Root) []string {
	entries, _ := readDir(root, ".")
	var out []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".pth") || !e.Type().IsRegular() {
			continue
		}
		f, err := root.OpenFile(e.Name(), os.O_RDONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(io.LimitReader(f, maxPth))
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), " \t\r")
			if line == "" || line[0] == '#' || strings.HasPrefix(line, "import ") || strings.HasPrefix(line, "import\t") {
				continue
			}
			p := path.Clean(line)
			if path.IsAbs(p) || p == ".." || strings.HasPrefix(p, "../") {
				continue
			}
			if fi, err := root.Stat(p); err == nil && fi.IsDir() {
				out = append(out, p)
			}
		}
		f.Close()
	}
	return out
}
