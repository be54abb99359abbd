package interpreters

import (
	"slices"
	"testing"
)

func TestStdlibFor(t *testing.T) {
	probed := []string{"_abc", "sys", "zz_builtin"}
	if got := stdlibFor(version{3, 12, 1}, probed); !slices.Equal(got, probed) {
		t.Errorf("3.12: got %v, want the probed list as is", got)
	}
	got := stdlibFor(version{3, 9, 18}, probed)
	for _, m := range []string{"zz_builtin", "json", "asyncio", "formatter", "parser"} {
		if _, ok := slices.BinarySearch(got, m); !ok {
			t.Errorf("3.9: %s missing from %d modules", m, len(got))
		}
	}
	if !slices.IsSorted(got) {
		t.Error("3.9: list not sorted")
	}
	if slices.Contains(got, "numpy") {
		t.Error("3.9: numpy listed as stdlib")
	}
}
