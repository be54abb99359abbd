package server

import "github.com/pyexec/pyexec/api"

// watch is the task's Job.Watch: it keeps the Runner's function that
// returns the output so far. No goroutine polls it; a GET calls it.
func (t *task) watch(output func() Output) {
	if output != nil {
		t.output.Store(&output)
	}
}

// showOutput fills the stdout and stderr of e, a running record of t, with
// what the code has written so far. It leaves e alone when the Runner gave
// no way to see it yet.
func (t *task) showOutput(e *api.Execution) {
	if e.Status != api.StatusRunning {
		return
	}
	f := t.output.Load()
	if f == nil {
		return
	}
	o := (*f)()
	e.Stdout, e.Stderr = o.Stdout, o.Stderr
	e.StdoutTruncated, e.StderrTruncated = o.StdoutTruncated, o.StderrTruncated
}
