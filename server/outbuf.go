package server

import "sync"

// readerBufferBytes bounds what one event stream holds of output its
// client has not taken yet; past it, output is dropped for that stream
// and counted, and the run goes on at its own pace.
const readerBufferBytes = 256 << 10

// outputBuffer is one event stream's queue of output chunks, filled by the
// Feed's callback (push never blocks) and emptied by the handler (take).
type outputBuffer struct {
	max  int
	wake chan struct{} // one pending wake-up at most

	mu      sync.Mutex
	chunks  []Chunk // own copies; consecutive chunks of one stream merged
	size    int
	dropped [2]int64 // stdout, stderr
}

func newOutputBuffer(max int) *outputBuffer {
	return &outputBuffer{max: max, wake: make(chan struct{}, 1)}
}

// push copies what fits of c and counts the rest as dropped, then wakes
// the reader. It is safe from several goroutines.
func (b *outputBuffer) push(c Chunk) {
	if len(c.Data) == 0 {
		return
	}
	b.mu.Lock()
	keep := min(len(c.Data), max(b.max-b.size, 0))
	if keep > 0 {
		if n := len(b.chunks); n > 0 && b.chunks[n-1].Stderr == c.Stderr {
			b.chunks[n-1].Data = append(b.chunks[n-1].Data, c.Data[:keep]...)
		} else {
			b.chunks = append(b.chunks, Chunk{Stderr: c.Stderr, Data: append([]byte(nil), c.Data[:keep]...)})
		}
		b.size += keep
	}
	if lost := len(c.Data) - keep; lost > 0 {
		b.dropped[streamIndex(c.Stderr)] += int64(lost)
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns the queued chunks, emptying the queue, and the bytes
// dropped so far per stream (stdout, stderr).
func (b *outputBuffer) take() ([]Chunk, [2]int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.chunks
	b.chunks, b.size = nil, 0
	return c, b.dropped
}

func streamIndex(stderr bool) int {
	if stderr {
		return 1
	}
	return 0
}
