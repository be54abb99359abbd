package layers

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestInstalledPackagesHostile checks that what a package put in its
// layer cannot make the server read a host file or hang: links out of the
// layer are not followed, fifos are not opened for reading.
func TestInstalledPackagesHostile(t *testing.T) {
	host := t.TempDir() // stands for the host outside the layer
	write(t, filepath.Join(host, "secret"), "Name: host-secret\nVersion: 9\n")
	write(t, filepath.Join(host, "dir", "METADATA"), "Name: host-dir\nVersion: 9\n")

	layer := t.TempDir()
	write(t, filepath.Join(layer, "good-1.0.dist-info", "METADATA"), "Metadata-Version: 2.1\nName: Good\nVersion: 1.0\n\nbody")
	write(t, filepath.Join(layer, "old-2.0.egg-info", "PKG-INFO"), "Name: old\nVersion: 2.0\n")
	link := func(target, name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(layer, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(layer, name)); err != nil {
			t.Fatal(err)
		}
	}
	link(filepath.Join(host, "secret"), "abs-3.0.dist-info/METADATA")
	link("../../../../../../../.."+filepath.Join(host, "secret"), "rel-4.0.dist-info/METADATA")
	link(filepath.Join(host, "dir"), "dirlink-5.0.dist-info")
	if err := os.Mkdir(filepath.Join(layer, "fifo-6.0.dist-info"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(filepath.Join(layer, "fifo-6.0.dist-info", "METADATA"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(layer, "dir-7.0.dist-info"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(layer, "dir-7.0.dist-info", "METADATA"), 0o755); err != nil {
		t.Fatal(err)
	}

	done := make(chan []string, 1)
	go func() { done <- installedPackages(layer) }()
	var got []string
	select {
	case got = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("installedPackages blocked (on the fifo?)")
	}
	// The hostile entries are named after their directories: nothing was
	// read through them.
	want := []string{"Good==1.0", "abs==3.0", "dir==7.0", "dirlink==5.0", "fifo==6.0", "old==2.0", "rel==4.0"}
	if !slices.Equal(got, want) {
		t.Errorf("installedPackages = %q\nwant %q", got, want)
	}
}
