package jail

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// floodMargin is how far past its cap a stream may go before the run is
// stopped: output beyond the cap is drained and counted, but a program that
// writes without end would otherwise burn CPU until its timeout.
const floodMargin = 16 << 20

// capture reads r to its end, keeping at most max bytes and counting the
// rest, so a flood costs the server no more memory than max. Past
// max+floodMargin it calls onFlood once. snapshot shows what it kept
// while it reads.
type capture struct {
	max     atomic.Int64 // set again by Activate before a warm jail writes
	mu      sync.Mutex   // guards buf and total while read runs
	buf     []byte
	total   int64
	done    chan struct{}
	onFlood func()
	subs    subscribers // guarded by mu; see stream.go
}

func newCapture(r *os.File, max int64, onFlood func()) *capture {
	c := &capture{done: make(chan struct{}), onFlood: onFlood}
	c.max.Store(max)
	go c.read(r)
	return c
}

func (c *capture) read(r *os.File) {
	defer close(c.done)
	defer r.Close()
	chunk := make([]byte, 32<<10)
	for {
		n, err := r.Read(chunk)
		if n > 0 {
			limit := c.max.Load()
			c.mu.Lock()
			before := c.total
			c.total += int64(n)
			if room := limit - int64(len(c.buf)); room > 0 {
				kept := chunk[:min(int64(n), room)]
				c.buf = append(c.buf, kept...)
				c.subs.send(kept)
			}
			total := c.total
			c.mu.Unlock()
			if c.onFlood != nil && before <= limit+floodMargin && total > limit+floodMargin {
				c.onFlood()
			}
		}
		if err != nil {
			if err != io.EOF {
				c.mu.Lock()
				c.total = max(c.total, int64(len(c.buf)))
				c.mu.Unlock()
			}
			return
		}
	}
}

// peek returns what was kept so far, for error messages, without waiting.
// Only call it once the writer is known to be gone or quiet.
func (c *capture) peek() ([]byte, int64, bool) {
	select {
	case <-c.done:
		return c.wait()
	case <-time.After(100 * time.Millisecond):
		return nil, 0, false
	}
}

// snapshot returns a copy of what was kept so far and whether bytes were
// dropped, without waiting: at most max bytes, one copy per call. It is
// safe from any goroutine, while read runs and after.
func (c *capture) snapshot() (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf), c.total > int64(len(c.buf))
}

// wait returns what was kept, the total size, and whether bytes were dropped.
func (c *capture) wait() ([]byte, int64, bool) {
	<-c.done
	return c.buf, c.total, c.total > int64(len(c.buf))
}
