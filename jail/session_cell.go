package jail

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/cgroup"
)

// cellDrain is how long a cell's output may go on arriving after its code
// answered (a background process holding the cell's stdout is cut off).
const cellDrain = 250 * time.Millisecond

// CellRequest is one cell of a session (Session.Cell).
type CellRequest struct {
	Code []byte
	// EvalLast reports the value of a trailing expression, as a one-shot
	// eval_last_expr run does.
	EvalLast bool
	Stdin    []byte // the cell's standard input
	// Timeout interrupts the cell: past it the code gets SIGINT.
	Timeout time.Duration
	// OutputFiles are glob patterns of /work's files the code sends back
	// in the cell's report when the cell ends (the bootstrap's "file"
	// fields), at most MaxFiles of MaxFileBytes together.
	OutputFiles  []string
	MaxFiles     int
	MaxFileBytes int64
	// Output, when set, is called with each chunk of stdout (stderr false)
	// and stderr the cell's result keeps, as it is read: as Jail.Subscribe's
	// fn, from two goroutines, in order within a stream; it must not block
	// and must not keep chunk. It is not called once Cell returned.
	Output func(stderr bool, chunk []byte)
	// Started, when set, is called once the cell has the session (an
	// earlier cell ended) and before its code is sent; never when Cell
	// returns without running it.
	Started func()
}

// Cell runs req's code in the session and returns what it did. Cells run
// one at a time: a second one waits for the first (or for its own ctx).
// Past req.Timeout the code gets SIGINT (KeyboardInterrupt; its state is
// kept); if it has not answered grace later, the session is killed and the
// result has Ended set. Ending ctx interrupts the cell the same way.
//
// An error means the cell could not be run (the session had ended:
// ErrSessionEnded, or its socket failed).
func (s *Session) Cell(ctx context.Context, req CellRequest) (CellResult, error) {
	if err := s.acquire(ctx); err != nil {
		return CellResult{}, err
	}
	defer s.release()
	s.drain()
	ps, err := pipes(5) // code, stdin (the server writes); stdout, stderr, report
	if err != nil {
		return CellResult{}, err
	}
	theirs := []*os.File{ps[0][0], ps[1][0], ps[2][1], ps[3][1], ps[4][1]}
	fields := [][2]string{{"op", "cell"}}
	if req.EvalLast {
		fields = append(fields, [2]string{"eval", "1"})
	}
	if len(req.OutputFiles) > 0 {
		for _, p := range req.OutputFiles {
			fields = append(fields, [2]string{"out", p})
		}
		fields = append(fields, [2]string{"outmax", strconv.Itoa(req.MaxFiles) + ":" + strconv.FormatInt(req.MaxFileBytes, 10)})
	}
	cpu0, peak0, ooms0, uerr := s.Usage()
	mark := s.markPeak(peak0, uerr)
	if mark != nil {
		defer mark.Close()
	}
	c := &cellState{}
	s.mu.Lock()
	s.cell = c
	s.mu.Unlock()
	// The captures start before the code has the pipes: a subscriber sees
	// every byte the result keeps.
	outR, errR, repR := ps[2][0], ps[3][0], ps[4][0]
	flood := func() { s.interrupt(c, "output") }
	stdout := newCapture(outR, s.out, flood)
	stderr := newCapture(errR, s.out, flood)
	report := newCapture(repR, s.j.m.reportMax(), nil)
	unsubscribe := func() {}
	if fn := req.Output; fn != nil {
		_, _, outCancel := stdout.subscribe(func(b []byte) { fn(false, b) })
		_, _, errCancel := stderr.subscribe(func(b []byte) { fn(true, b) })
		unsubscribe = func() { outCancel(); errCancel() }
	}
	defer unsubscribe()
	if req.Started != nil {
		req.Started()
	}
	started := time.Now()
	seq, err := s.send(fields, fdsOf(theirs...))
	for _, f := range theirs {
		f.Close()
	}
	if err != nil {
		s.mu.Lock()
		s.cell = nil
		s.mu.Unlock()
		// The captures end at EOF (the write ends are closed) and close
		// their read ends.
		ps[0][1].Close()
		ps[1][1].Close()
		return CellResult{}, s.sendFailed(err)
	}
	write := func(w *os.File, b []byte) {
		_, _ = w.Write(b) // EPIPE when the code does not read it all
		w.Close()
	}
	go write(ps[0][1], req.Code)
	go write(ps[1][1], req.Stdin)
	timer := time.AfterFunc(req.Timeout, func() { s.interrupt(c, "timeout") })
	stop := context.AfterFunc(ctx, func() { s.interrupt(c, "cancel") })

	answer, alive, _ := s.await(context.Background(), seq, 0)
	res := CellResult{Duration: time.Since(started)}
	timer.Stop()
	stop()
	s.mu.Lock()
	s.cell = nil
	if c.grace != nil {
		c.grace.Stop()
	}
	why := c.why
	s.mu.Unlock()
	res.TimedOut, res.Interrupted, res.OutputLimit = why == "timeout", why == "cancel", why == "output"

	// The code put /dev/null in place of the cell's stdio before it
	// answered: the pipes end now, unless a process it left holds them.
	cut := time.Now().Add(cellDrain)
	for _, r := range []*os.File{outR, errR, repR} {
		_ = r.SetReadDeadline(cut)
	}
	res.Stdout, res.StdoutBytes, res.StdoutTruncated = stdout.wait()
	res.Stderr, res.StderrBytes, res.StderrTruncated = stderr.wait()
	res.Report, _, _ = report.wait()

	if !alive || !strings.HasPrefix(answer, "done ") {
		if alive { // an answer that is not one: the code broke its own loop
			s.Kill(fmt.Sprintf("the session's code gave no answer to the cell (it said %.200q)", answer))
		}
		<-s.done
		e := s.End()
		res.Ended = true
		res.ExitCode = e.Result.ExitCode
		res.OOMKilled = e.Result.OOMKilled && e.Result.Usage.OOMKills > ooms0
		res.CPU = max(0, e.Result.Usage.CPU-cpu0)
		res.MemoryPeak = e.Result.Usage.MemoryPeak
		cellPeak(&res, mark) // when its group is still there to read
		return res, nil
	}
	res.ExitCode, err = strconv.Atoi(strings.TrimPrefix(answer, "done "))
	if err != nil {
		res.ExitCode = 1
	}
	cpu, peak, ooms, uerr := s.Usage()
	if uerr != nil {
		s.j.m.log.Warn("session usage unreadable: reported as zero", "jail", s.j.id, "err", uerr)
	}
	res.CPU, res.MemoryPeak, res.OOMKilled = max(0, cpu-cpu0), peak, ooms > ooms0
	cellPeak(&res, mark)
	return res, nil
}

// markPeak restarts the session's memory peak for a cell, keeping its
// peak so far (before, as Usage read it) in s.peak. nil when the cgroup
// cannot restart it (v2 before kernel 6.12): the cell then reports the
// session's peak.
func (s *Session) markPeak(before int64, err error) *cgroup.PeakMark {
	if err != nil {
		return nil
	}
	s.mu.Lock()
	s.peak = max(s.peak, before)
	s.mu.Unlock()
	m, err := s.j.run.ResetPeak()
	if err != nil {
		s.j.m.log.Debug("a cell reports its session's memory peak", "jail", s.j.id, "err", err)
		return nil
	}
	return m
}

// cellPeak sets res's memory peak to the cell's own, from mark.
func cellPeak(res *CellResult, mark *cgroup.PeakMark) {
	if mark == nil {
		return
	}
	if p, err := mark.Peak(); err == nil {
		res.MemoryPeak, res.OwnPeak = p, true
	}
}

// interrupt sends SIGINT to the code of cell c (when it still runs) for
// why, and ends the session if the cell has not answered grace later.
func (s *Session) interrupt(c *cellState, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cell != c || c.why != "" || s.pidfd < 0 {
		return
	}
	c.why = why
	if err := unix.PidfdSendSignal(s.pidfd, unix.SIGINT, nil, 0); err != nil {
		s.j.m.log.Warn("session interrupt failed", "jail", s.j.id, "err", err)
	}
	grace := s.grace
	c.grace = time.AfterFunc(grace, func() {
		s.mu.Lock()
		running := s.cell == c
		s.mu.Unlock()
		if running {
			s.Kill(fmt.Sprintf("the cell did not stop within %s of its interrupt (KeyboardInterrupt)", grace))
		}
	})
}
