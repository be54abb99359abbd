package server

import (
	"sync"
	"sync/atomic"
)

// Feed pushes a running job's output as the code writes it. The server
// declares it; a Runner hands one to Job.Stream (pyexecd's wraps
// jail.Jail.Subscribe).
type Feed interface {
	// Subscribe calls fn with each chunk of stdout or stderr kept from now
	// on and returns the output kept before: together they are what the
	// Outcome will hold. fn may be called from two goroutines at once (one
	// per stream), in order within a stream; it must not block and must
	// not keep Chunk.Data after it returns. After cancel returned, fn is
	// not called again. Subscribe is safe from any goroutine, during Run
	// and after it returned.
	Subscribe(fn func(Chunk)) (before Output, cancel func())
}

// Chunk is one piece of a job's output.
type Chunk struct {
	Stderr bool // false: stdout
	Data   []byte
}

// maxReadersPerTask bounds the event streams that follow one execution at
// once (429 past it): each holds a buffer of up to readerBufferBytes.
const maxReadersPerTask = 16

// liveFeed is a task's Feed, once its Runner gave one (Job.Stream).
type liveFeed struct {
	once    sync.Once
	ready   chan struct{} // closed once feed is set
	feed    Feed          // written once, before ready is closed
	readers atomic.Int32  // event streams following the task
}

func newLiveFeed() *liveFeed { return &liveFeed{ready: make(chan struct{})} }

// set is the task's Job.Stream: the first Feed wins.
func (l *liveFeed) set(f Feed) {
	if f == nil {
		return
	}
	l.once.Do(func() {
		l.feed = f
		close(l.ready)
	})
}

// join counts one more reader; false when there are too many.
func (l *liveFeed) join() bool {
	if l.readers.Add(1) > maxReadersPerTask {
		l.readers.Add(-1)
		return false
	}
	return true
}

func (l *liveFeed) leave() { l.readers.Add(-1) }
