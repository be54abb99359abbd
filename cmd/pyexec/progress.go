package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// progress shows "⏳ running 3s (exe_...)" on a terminal's stderr while
// pyexec waits, once the wait has lasted delay, and erases it at the end.
// A nil *progress does nothing.
type progress struct {
	w        io.Writer
	delay    time.Duration
	interval time.Duration
	start    time.Time

	mu     sync.Mutex
	status string
	id     string
	width  int // runes of the line on screen

	stop chan struct{}
	done chan struct{}
}

// startProgress starts the line when stderr is a terminal and -q is off;
// otherwise it returns nil.
func (c *cli) startProgress(status, id string) *progress {
	if c.g.quiet || !isTerminal(c.stderr) {
		return nil
	}
	return newProgress(c.stderr, time.Second, time.Second, status, id)
}

func newProgress(w io.Writer, delay, interval time.Duration, status, id string) *progress {
	p := &progress{w: w, delay: delay, interval: interval, start: time.Now(),
		status: status, id: id, stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// set changes what the line says.
func (p *progress) set(status, id string) {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.status = status
	if id != "" {
		p.id = id
	}
}

// finish stops the line and erases it.
func (p *progress) finish() {
	if p == nil {
		return
	}
	close(p.stop)
	<-p.done
	if p.width > 0 {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", p.width))
	}
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTimer(p.delay)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.draw()
			t.Reset(p.interval)
		}
	}
}

func (p *progress) draw() {
	p.mu.Lock()
	line := fmt.Sprintf("⏳ %s %s", p.status, time.Since(p.start).Truncate(time.Second))
	if p.id != "" {
		line += " (" + p.id + ")"
	}
	p.mu.Unlock()
	// The hourglass takes two cells on most terminals.
	n := utf8.RuneCountInString(line) + 1
	pad := ""
	if p.width > n {
		pad = strings.Repeat(" ", p.width-n)
	}
	fmt.Fprintf(p.w, "\r%s%s", line, pad)
	p.width = max(p.width, n)
}
