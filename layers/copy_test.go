package layers

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

// TestCopyTreeBudget checks that copyTree counts what the copy will take,
// not what the source takes: a sparse file is written whole and every
// entry takes a block, so either can pass the install disk limit on the
// cache's disk although the build tmpfs held it.
func TestCopyTreeBudget(t *testing.T) {
	tests := []struct {
		name  string
		plant func(t *testing.T, src string)
		limit int64
		big   bool // errTooBig expected
	}{
		{"small tree fits", func(t *testing.T, src string) {
			write(t, filepath.Join(src, "pkg", "__init__.py"), "X = 1\n")
			write(t, filepath.Join(src, "pkg-1.0.dist-info", "METADATA"), "Name: pkg\n")
		}, 1 << 20, false},
		{"sparse file", func(t *testing.T, src string) {
			f, err := os.Create(filepath.Join(src, "sparse.bin"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(8 << 30); err != nil { // 8 GiB apparent, no block used
				t.Fatal(err)
			}
		}, 64 << 20, true},
		{"many empty files", func(t *testing.T, src string) {
			dir := filepath.Join(src, "many")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 600 { // 600 x 4 KiB charged > 2 MiB
				write(t, filepath.Join(dir, strconv.Itoa(i)), "")
			}
		}, 2 << 20, true},
		{"many directories", func(t *testing.T, src string) {
			for i := range 600 {
				if err := os.Mkdir(filepath.Join(src, "d"+strconv.Itoa(i)), 0o755); err != nil {
					t.Fatal(err)
				}
			}
		}, 2 << 20, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := t.TempDir(), filepath.Join(t.TempDir(), "layer")
			tt.plant(t, src)
			size, err := copyTree(src, dst, tt.limit)
			if !tt.big {
				if err != nil || size <= 0 {
					t.Fatalf("copyTree = %d, %v; want a copy", size, err)
				}
				return
			}
			if !errors.Is(err, errTooBig) {
				t.Fatalf("copyTree = %d, %v; want errTooBig", size, err)
			}
			if du := diskUsage(t, dst); du > tt.limit {
				t.Errorf("copyTree wrote %d bytes before it stopped, limit %d", du, tt.limit)
			}
		})
	}
}

// TestInstallTmpfsInodes checks that the build tmpfs caps its file count,
// not only its bytes.
func TestInstallTmpfsInodes(t *testing.T) {
	requireJail(t) // mounts
	dir := t.TempDir()
	c := &Cache{cfg: Config{InstallDiskBytes: 64 << 20, OwnerUID: 1000}.withDefaults()}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, c.buildTmpfsOptions()); err != nil {
		t.Fatal(err)
	}
	defer unmount(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if want := uint64(64 << 20 / 4096); st.Files != want {
		t.Errorf("build tmpfs has %d inodes, want %d (one per 4 KiB)", st.Files, want)
	}
}

func write(t *testing.T, p, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// diskUsage is the bytes of the blocks under dir.
func diskUsage(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		n += st.Blocks * 512
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
