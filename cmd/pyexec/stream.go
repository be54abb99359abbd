package main

import (
	"fmt"
	"io"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// streaming reports whether run and eval print the output as the code
// writes it: with --stream, never with --no-stream, else when stdout is a
// terminal and -q is off.
func (c *cli) streaming() bool {
	switch {
	case c.s.off:
		return false
	case c.s.on:
		return true
	}
	return !c.g.quiet && isTerminal(c.stdout)
}

// streamOut is what a streamed run told besides its output.
type streamOut struct {
	dropped api.DroppedEvent // bytes the stream missed, per stream
}

// printEvent returns the EventFunc that prints a stream's output as it
// comes: stdout to stdout, stderr to stderr (not with -q).
func (c *cli) printEvent(out *streamOut) client.EventFunc {
	return func(ev client.Event) error {
		switch ev.Name {
		case api.EventStdout:
			_, err := io.WriteString(c.stdout, ev.Text)
			return err
		case api.EventStderr:
			if !c.g.quiet {
				_, err := io.WriteString(c.stderr, ev.Text)
				return err
			}
		case api.EventDropped:
			out.dropped = *ev.Dropped
		}
		return nil
	}
}

// reportStreamed ends a streamed run like report, its output already
// printed: the repr of the last expression (eval), the failure line, and
// with -v the details, after the output since they are known only now.
func (c *cli) reportStreamed(rec *api.Execution, result bool, out streamOut) int {
	code := exitCode(rec)
	defer c.saveDisplay(rec)
	repr, hasRepr := "", false
	if result {
		repr, hasRepr = rec.ResultString()
	}
	if c.g.quiet {
		if code == exitOK && hasRepr && repr != "" {
			fmt.Fprintln(c.stdout, repr)
		}
		return code
	}
	if hasRepr {
		fmt.Fprintln(c.stdout, repr)
	}
	if d := out.dropped; d.StdoutBytes > 0 || d.StderrBytes > 0 {
		fmt.Fprintf(c.stderr, "pyexec: the live output missed %d bytes of stdout and %d of stderr (the terminal read slower than the code wrote); 'pyexec --no-stream' prints it whole\n",
			d.StdoutBytes, d.StderrBytes)
	}
	if msg := failureLine(rec); msg != "" {
		fmt.Fprintf(c.stderr, "pyexec: %s\n", oneLine(msg))
	}
	if c.g.verbose {
		c.details(rec, code)
	}
	return code
}
