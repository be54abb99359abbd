package interpreters

import (
	"context"
	"os"
	"slices"
	"testing"
)

// TestProbe probes the host's interpreters, if it has any.
func TestProbe(t *testing.T) {
	set, err := Discover(context.Background(), Options{System: true, Env: os.Environ()})
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI machines have Pythons: %v", err)
		}
		t.Skipf("no interpreter on this host: %v (under CI=true this fails)", err)
	}
	for _, in := range set.All() {
		if _, ok := slices.BinarySearch(in.Stdlib, "json"); !ok {
			t.Errorf("%s: json not in its standard library (%d modules)", in.Version, len(in.Stdlib))
		}
		if !slices.Contains(in.Installed, "pip") {
			t.Logf("%s: no pip in %v", in.Version, in.Installed)
		}
		if slices.Contains(in.Installed, "json") || !slices.IsSorted(in.Installed) {
			t.Errorf("%s: installed modules %v", in.Version, in.Installed)
		}
	}
}
