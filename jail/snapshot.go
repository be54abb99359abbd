package jail

import "context"

// Output is what a jail's code has written so far, kept within the jail's
// MaxOutputBytes per stream like a Result's.
type Output struct {
	Stdout, Stderr                   string
	StdoutTruncated, StderrTruncated bool
}

// Output returns what the code has written to stdout and stderr so far. It
// does not wait and costs one copy of what was kept; it is safe from any
// goroutine at any time, and after Wait it returns the final output.
func (j *Jail) Output() Output {
	var o Output
	o.Stdout, o.StdoutTruncated = j.stdout.snapshot()
	o.Stderr, o.StderrTruncated = j.stderr.snapshot()
	return o
}

// RunWatched is Run that calls started (when not nil) with the jail once
// its process runs, before waiting for it: the caller may read the jail's
// Output (or Kill it) while it runs.
func (m *Manager) RunWatched(ctx context.Context, spec Spec, started func(*Jail)) (Result, error) {
	j, err := m.Start(spec)
	if err != nil {
		return Result{}, err
	}
	if started != nil {
		started(j)
	}
	stopWatch := context.AfterFunc(ctx, j.Kill)
	defer stopWatch()
	return j.Wait()
}
