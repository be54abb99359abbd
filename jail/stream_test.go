package jail

import (
	"os"
	"sync"
	"testing"
	"time"
)

// TestCaptureSubscribe: a subscriber gets what was kept before it came and
// then every kept chunk, in order, none twice, nothing past the cap; after
// cancel, nothing. No jail is started.
func TestCaptureSubscribe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	c := newCapture(r, 10, nil)
	write := func(s string) {
		t.Helper()
		if _, err := w.WriteString(s); err != nil {
			t.Fatal(err)
		}
	}
	kept := func(n int) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for s, _ := c.snapshot(); len(s) < n; s, _ = c.snapshot() {
			if time.Now().After(deadline) {
				t.Fatalf("capture kept %q, want %d bytes", s, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	write("abc")
	kept(3)
	var mu sync.Mutex
	var got []byte
	calls := 0
	before, dropped, cancel := c.subscribe(func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, b...)
		calls++
	})
	if before != "abc" || dropped {
		t.Fatalf("before %q dropped %v", before, dropped)
	}
	write("defgh")
	kept(8)
	write("ijklmn") // past the cap of 10: "ij" kept
	kept(10)
	cancel()
	write("more")
	w.Close()
	buf, total, truncated := c.wait()
	mu.Lock()
	defer mu.Unlock()
	if before+string(got) != string(buf) || string(buf) != "abcdefghij" || total != 18 || !truncated {
		t.Fatalf("before %q + pushed %q, kept %q (total %d, truncated %v)", before, got, buf, total, truncated)
	}
	if calls < 2 {
		t.Fatalf("%d calls", calls)
	}
	// A subscriber after the end gets everything at once and no calls.
	before, _, cancel = c.subscribe(func([]byte) { t.Error("called after the end") })
	defer cancel()
	if before != "abcdefghij" {
		t.Fatalf("late subscriber: %q", before)
	}
}
