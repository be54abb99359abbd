package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// exitCode maps a finished record to the CLI's exit code: 124 for a
// timeout, 137 for a kill, the script's exit code when it ran, 1 when it
// failed without one.
func exitCode(rec *api.Execution) int {
	switch {
	case rec.TimedOut:
		return exitTimeout
	case rec.Status == api.StatusKilled:
		return exitKilled
	case rec.Status == api.StatusFailed:
		if timeoutInWords(rec) {
			return exitTimeout
		}
		if rec.ExitCode != nil && *rec.ExitCode != 0 {
			return processCode(*rec.ExitCode)
		}
		if rec.OOMKilled {
			return exitKilled
		}
		return exitFailed
	case rec.Status == api.StatusCompleted:
		if rec.ExitCode != nil {
			return processCode(*rec.ExitCode)
		}
		return exitOK
	}
	return exitFailed // not finished: should not happen
}

// processCode turns a reported exit code into one a process can return: a
// negative code (a signal) becomes 128+signal, and codes past 255 are
// clamped so they never wrap to success.
func processCode(code int) int {
	switch {
	case code < 0:
		return min(128-code, 255)
	case code > 255:
		return 255
	}
	return code
}

// timeoutInWords reports a timeout that a failed record tells only in its
// error, as python-executor does. A pyexec record (python_version or usage
// set) says it in timed_out, so its error is not read: a failing
// pre_command "timeout 5 make" or pip's "Read timed out" are not timeouts
// of the run.
func timeoutInWords(rec *api.Execution) bool {
	if rec.PythonVersion != "" || rec.Usage != nil {
		return false
	}
	m := strings.ToLower(rec.Error)
	return strings.Contains(m, "timeout") || strings.Contains(m, "timed out")
}

// failureLine says why a record did not complete, or "" when it did.
func failureLine(rec *api.Execution) string {
	switch {
	case rec.Error != "":
		return rec.Error
	case rec.TimedOut:
		return "execution timed out"
	case rec.Status == api.StatusKilled:
		return "execution was killed"
	case rec.Status == api.StatusFailed:
		return "execution failed"
	case !rec.Finished():
		return fmt.Sprintf("execution is still %s", rec.Status)
	}
	return ""
}

// report prints a finished record the way python-executor's CLI did and
// returns the exit code. With result set (eval), the repr of the last
// expression follows stdout on its own line. Quiet mode prints only stdout
// (for eval: the result, else stdout), and only on success.
func (c *cli) report(rec *api.Execution, result bool) int {
	code := exitCode(rec)
	defer c.saveDisplay(rec)
	repr, hasRepr := "", false
	if result {
		repr, hasRepr = rec.ResultString()
	}
	if c.g.quiet {
		if code == exitOK {
			if hasRepr && repr != "" {
				fmt.Fprintln(c.stdout, repr)
			} else {
				io.WriteString(c.stdout, rec.Stdout)
			}
		}
		return code
	}
	if c.g.verbose {
		c.details(rec, code)
	}
	io.WriteString(c.stdout, rec.Stdout)
	if hasRepr {
		fmt.Fprintln(c.stdout, repr)
	}
	io.WriteString(c.stderr, rec.Stderr)
	if msg := failureLine(rec); msg != "" {
		fmt.Fprintf(c.stderr, "pyexec: %s\n", oneLine(msg))
	}
	return code
}

// details prints what -v shows, on stderr, before the output.
func (c *cli) details(rec *api.Execution, code int) {
	w := c.stderr
	fmt.Fprintf(w, "Execution ID: %s\n", rec.ExecutionID)
	fmt.Fprintf(w, "Status: %s\n", rec.Status)
	if rec.ExitCode != nil {
		fmt.Fprintf(w, "Exit code: %d\n", *rec.ExitCode)
	}
	if rec.DurationMS > 0 {
		fmt.Fprintf(w, "Duration: %dms\n", rec.DurationMS)
	}
	if rec.QueuedMS > 0 {
		fmt.Fprintf(w, "Queued: %dms\n", rec.QueuedMS)
	}
	if rec.PythonVersion != "" {
		fmt.Fprintf(w, "Python: %s\n", rec.PythonVersion)
	}
	if u := rec.Usage; u != nil {
		fmt.Fprintf(w, "CPU: %dms, peak memory: %.1f MiB\n", u.CPUMS, float64(u.MemoryPeakBytes)/(1<<20))
	}
	for _, f := range []struct {
		set  bool
		what string
	}{{rec.TimedOut, "timed out"}, {rec.OOMKilled, "out of memory"}, {rec.StdoutTruncated, "stdout truncated"}, {rec.StderrTruncated, "stderr truncated"}} {
		if f.set {
			fmt.Fprintf(w, "Note: %s\n", f.what)
		}
	}
	if code != exitOK {
		fmt.Fprintf(w, "pyexec exit code: %d\n", code)
	}
	fmt.Fprintln(w, "---")
}
