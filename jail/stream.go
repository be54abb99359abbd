package jail

// Live output: a capture pushes each chunk it keeps to its subscribers as
// it reads it, so a server can stream a run's output instead of polling
// Output.

// subscribers are the functions a capture calls with each chunk it keeps.
// The capture's mutex guards them.
type subscribers struct {
	next int
	fns  map[int]func([]byte)
}

// send calls every subscriber with chunk. The capture holds its mutex, so
// a subscriber sees the chunks in order and none twice.
func (s *subscribers) send(chunk []byte) {
	for _, fn := range s.fns {
		fn(chunk)
	}
}

// subscribe adds fn to c's subscribers and returns what c kept before,
// whether bytes were dropped, and the function that removes fn again.
func (c *capture) subscribe(fn func([]byte)) (string, bool, func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.subs.fns == nil {
		c.subs.fns = make(map[int]func([]byte))
	}
	id := c.subs.next
	c.subs.next++
	c.subs.fns[id] = fn
	cancel := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.subs.fns, id)
	}
	return string(c.buf), c.total > int64(len(c.buf)), cancel
}

// Subscribe calls fn with each chunk of stdout (stderr false) and stderr
// (stderr true) that the jail keeps from now on, as it is read, and
// returns the output kept before: together they are exactly what the
// Result will hold (within MaxOutputBytes per stream; bytes past the cap
// are neither kept nor sent). fn is called from the goroutines that read
// the two streams, so concurrently for stdout and stderr but in order
// within each; it must not block and must not keep chunk after it
// returns. cancel stops the calls: once it returned, fn is not called
// again. Subscribe is safe from any goroutine, during the run and after
// (then fn is never called).
func (j *Jail) Subscribe(fn func(stderr bool, chunk []byte)) (before Output, cancel func()) {
	var outCancel, errCancel func()
	before.Stdout, before.StdoutTruncated, outCancel = j.stdout.subscribe(func(b []byte) { fn(false, b) })
	before.Stderr, before.StderrTruncated, errCancel = j.stderr.subscribe(func(b []byte) { fn(true, b) })
	return before, func() { outCancel(); errCancel() }
}
