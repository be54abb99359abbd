package jail

import (
	"errors"
	"fmt"
	"io"
	"time"
)

// Activation is what a warm jail needs to run a request: the parts of a
// Spec that are not fixed when its process starts.
type Activation struct {
	// Files are placed in /work before the code is told to run.
	Files []File
	Stdin []byte
	// Limits replace the pooled jail's cgroup limits, timeout and output
	// caps. DiskBytes must be zero or the size the jail was started with.
	Limits Limits
	// Control is written to the jail's control pipe (descriptor 4) and the
	// pipe closed: the request the waiting process reads.
	Control []byte
}

// ErrDiskSize is returned by Activate for a disk size the warm jail was not
// started with.
var ErrDiskSize = errors.New("warm jail: disk size differs from the pooled one")

// StartWarm starts spec's process ahead of a request: it runs with its
// control pipe open on descriptor 4 and its report pipe on 3, no clock
// running and nothing on stdin, until Activate. StartWarm returns once the
// process has written ready to its report pipe (within spec's timeout):
// what it does before that is start-up, off the request's clock. Kill or
// Wait the jail like any other.
func (m *Manager) StartWarm(spec Spec, ready string) (*Jail, error) {
	j, err := m.start(spec, true, nil)
	if err != nil {
		return nil, err
	}
	if err := j.awaitReady(ready, j.limits.Timeout); err != nil {
		j.report = newCapture(j.reportR, j.m.reportMax(), nil)
		discard(j)
		return nil, err
	}
	j.report = newCapture(j.reportR, j.m.reportMax(), nil)
	return j, nil
}

func (j *Jail) awaitReady(ready string, timeout time.Duration) error {
	if err := j.reportR.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		return fmt.Errorf("warm jail: %w", err)
	}
	buf := make([]byte, len(ready))
	_, err := io.ReadFull(j.reportR, buf)
	if rerr := j.reportR.SetReadDeadline(time.Time{}); err == nil {
		err = rerr
	}
	if err != nil {
		stderr, _, _ := j.stderr.peek()
		return fmt.Errorf("warm jail did not get ready: %w (stderr: %q)", err, stderr)
	}
	if string(buf) != ready {
		return fmt.Errorf("warm jail: unexpected readiness message %q", buf)
	}
	return nil
}

// Activate hands a warm jail its request and starts its clock. On error
// the jail is unusable: Kill and Wait it.
func (j *Jail) Activate(a Activation) error {
	if !j.warm || j.control == nil {
		return errors.New("activate: not a waiting warm jail")
	}
	l := a.Limits
	if l.DiskBytes != 0 && l.DiskBytes != j.limits.DiskBytes {
		return ErrDiskSize
	}
	l.DiskBytes = j.limits.DiskBytes
	l = l.withDefaults()
	uid := j.slot.sandboxID
	placed := time.Now()
	if err := writeFiles(j.work, a.Files, uid, uid); err != nil {
		return fmt.Errorf("place files: %w", err)
	}
	// Pooled jails start with the limits most requests ask for; only a
	// request that differs pays for rewriting the cgroup (~0.4 ms).
	if l.Limits != j.limits.Limits {
		if err := j.group.Update(l.Limits); err != nil {
			return err
		}
	}
	// The request's cpu_ms counts from here, not from the jail's start-up.
	if u, err := j.group.Usage(); err == nil {
		j.baseCPU = u.CPU
	}
	j.stdout.max.Store(l.MaxOutputBytes)
	j.stderr.max.Store(l.MaxOutputBytes)
	j.mu.Lock()
	j.limits, j.stdin, j.started, j.placing = l, a.Stdin, time.Now(), time.Since(placed)
	j.mu.Unlock()
	j.begin()
	_, err := j.control.Write(a.Control)
	cerr := j.control.Close()
	j.control = nil
	if err = errors.Join(err, cerr); err != nil {
		return fmt.Errorf("send request: %w", err)
	}
	return nil
}

// Age is how long ago the jail was started.
func (j *Jail) Age() time.Duration {
	j.mu.Lock()
	defer j.mu.Unlock()
	return time.Since(j.started)
}
