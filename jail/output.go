package jail

import (
	"io"
	"os"
)

// capture reads r to its end, keeping at most max bytes and counting the
// rest, so a flood costs the server no more memory than max.
type capture struct {
	max   int64
	buf   []byte
	total int64
	done  chan struct{}
}

func newCapture(r *os.File, max int64) *capture {
	c := &capture{max: max, done: make(chan struct{})}
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
			c.total += int64(n)
			if room := c.max - int64(len(c.buf)); room > 0 {
				c.buf = append(c.buf, chunk[:min(int64(n), room)]...)
			}
		}
		if err != nil {
			if err != io.EOF {
				c.total = max(c.total, int64(len(c.buf)))
			}
			return
		}
	}
}

// wait returns what was kept, the total size, and whether bytes were dropped.
func (c *capture) wait() ([]byte, int64, bool) {
	<-c.done
	return c.buf, c.total, c.total > int64(len(c.buf))
}
