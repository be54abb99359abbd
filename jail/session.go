package jail

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// A Session is a run forked from a zygote whose code does not end after
// one program: it runs cells, one at a time, in one interpreter (the
// bootstrap's session mode), so that variables, imports and the files of
// its /work persist from one cell to the next. It is as isolated as any
// zygote run (its own namespaces, uid, cgroup, seccomp); its cgroup's
// memory and pids limits hold for the session as a whole.
//
// The server talks to the code's process over a SOCK_SEQPACKET pair: one
// request a message, its descriptors (a cell's code, stdin, stdout, stderr
// and report pipes; a file's pipe) passed with it, one answer each. A cell
// past its timeout gets SIGINT (KeyboardInterrupt in the code); one that
// has not answered grace later ends the session.
type Session struct {
	j     *Jail
	z     *Zygote
	sock  *os.File // our end, non-blocking
	rc    syscall.RawConn
	grace time.Duration
	out   int64 // per stream and cell, as Limits.MaxOutputBytes

	turn chan struct{} // held by the request in progress
	msgs chan smsg     // the code's answers; closed at the socket's end
	done chan struct{} // closed once the session ended and end is set
	seq  int64         // of the last request; guarded by turn

	mu     sync.Mutex
	pidfd  int        // the code's process; -1 once closed
	cell   *cellState // the cell running, nil between cells
	why    string     // why the server ended it, first reason only
	peak   int64      // the session's memory peak before its cgroup's last reset (markPeak)
	end    SessionEnd
	closed bool
}

// SessionEnd is how a session ended.
type SessionEnd struct {
	// Result is the run's: the code's exit code or signal (SystemExit in
	// a cell, a crash), OOMKilled, Killed (by the server), its usage.
	Result Result
	// Reason is why the server ended it (Kill's reason), "" when the code
	// ended by itself or the kernel killed it.
	Reason string
	// Err is the run's own failure (it could not start its code).
	Err error
}

// CellResult is what one cell did. Stdout, Stderr and Report are the
// cell's alone.
type CellResult struct {
	// ExitCode is 0 when the cell ran to its end, 1 when it raised, 130 on
	// KeyboardInterrupt; when the session ended during the cell, the
	// session's exit code (128+signal when a signal ended it).
	ExitCode                 int
	Stdout, Stderr           []byte
	StdoutBytes, StderrBytes int64
	StdoutTruncated          bool
	StderrTruncated          bool
	Report                   []byte
	TimedOut, Interrupted    bool // SIGINT at its timeout; because its context ended
	OutputLimit              bool // SIGINT: a stream went 16 MiB past its cap
	OOMKilled                bool // the kernel killed one of the session's tasks meanwhile
	CPU                      time.Duration
	// MemoryPeak is the session's highest memory use during the cell
	// (what earlier cells keep counts) when its cgroup can restart its
	// peak (v1; v2 from kernel 6.12: OwnPeak), else the session's so far.
	MemoryPeak int64
	OwnPeak    bool
	Duration   time.Duration
	Ended      bool // the session ended during the cell: see End
}

type cellState struct {
	why   string // "timeout", "cancel" or "output": the first reason
	grace *time.Timer
}

type smsg struct {
	data []byte
	pid  int32 // the sender's, as the kernel tells it (SO_PASSCRED)
}

// Session errors. A SessionError is the code's own refusal of a file
// operation (no such file, a link in the way), to be shown to the client.
var (
	ErrSessionEnded = errors.New("session: it has ended")
	ErrFileTooLarge = errors.New("session: the file is larger than allowed")
)

// SessionError is a file operation the session's code refused.
type SessionError struct{ Msg string }

func (e *SessionError) Error() string { return e.Msg }

// sessionStart bounds a session's start: its files placed, its layers
// added, its code waiting for cells.
const sessionStart = 30 * time.Second

// StartSession forks a session from the zygote: a run of a.Control
// (interpreters.EncodeRequest; its entry is not run) with a.Files in its
// /work, within a.Limits; a.Limits.Timeout bounds the session's whole
// life. grace is how long an interrupted cell may take to stop (zero: 2 s).
func (z *Zygote) StartSession(a Activation, grace time.Duration) (*Session, error) {
	if grace <= 0 {
		grace = 2 * time.Second
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("session socket: %w", err)
	}
	theirs := os.NewFile(uintptr(pair[1]), "session-child")
	if err := unix.SetsockoptInt(pair[0], unix.SOL_SOCKET, unix.SO_PASSCRED, 1); err != nil {
		unix.Close(pair[0])
		theirs.Close()
		return nil, fmt.Errorf("session socket: %w", err)
	}
	if err := unix.SetNonblock(pair[0], true); err != nil {
		unix.Close(pair[0])
		theirs.Close()
		return nil, fmt.Errorf("session socket: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "session")
	rc, err := ours.SyscallConn()
	if err != nil {
		ours.Close()
		theirs.Close()
		return nil, fmt.Errorf("session socket: %w", err)
	}
	j, err := z.start(a, theirs) // closes theirs
	if err != nil {
		ours.Close()
		return nil, err
	}
	z.sessions.Add(1)
	s := &Session{j: j, z: z, sock: ours, rc: rc, grace: grace, out: j.limits.MaxOutputBytes,
		turn: make(chan struct{}, 1), msgs: make(chan smsg, 16), done: make(chan struct{}), pidfd: -1}
	go s.read()
	go s.watch()
	fail := func(err error) (*Session, error) {
		s.Kill("it did not start")
		<-s.done
		return nil, err
	}
	select {
	case m, ok := <-s.msgs:
		if !ok || string(m.data) != "ready" || m.pid <= 0 {
			<-s.done
			return fail(fmt.Errorf("session %s did not start: %s", j.id, s.End().describe()))
		}
		fd, err := unix.PidfdOpen(int(m.pid), 0)
		if err != nil {
			return fail(fmt.Errorf("session %s: pidfd: %w", j.id, err))
		}
		s.mu.Lock()
		s.pidfd = fd
		s.mu.Unlock()
	case <-s.done:
		return nil, fmt.Errorf("session %s did not start: %s", j.id, s.End().describe())
	case <-time.After(sessionStart):
		return fail(fmt.Errorf("session %s did not start within %s", j.id, sessionStart))
	}
	return s, nil
}

func (e SessionEnd) describe() string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Reason != "":
		return e.Reason
	}
	return fmt.Sprintf("exit code %d", e.Result.ExitCode)
}

// ID is the session's jail name (its cgroup's).
func (s *Session) ID() string { return s.j.id }

// Done is closed once the session has ended; End then tells how.
func (s *Session) Done() <-chan struct{} { return s.done }

// End is how the session ended; the zero SessionEnd while it lives.
func (s *Session) End() SessionEnd {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.end
}

// Ended reports whether the session has ended.
func (s *Session) Ended() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Usage is what the session's cgroup measured so far (zero once ended:
// see End).
func (s *Session) Usage() (cpu time.Duration, memoryPeak int64, oomKills int64, err error) {
	if s.Ended() {
		e := s.End()
		return e.Result.Usage.CPU, e.Result.Usage.MemoryPeak, e.Result.Usage.OOMKills, nil
	}
	u, err := s.j.run.Usage()
	s.mu.Lock()
	peak := max(u.MemoryPeak, s.peak)
	s.mu.Unlock()
	return u.CPU, peak, u.OOMKills, err
}

// Kill ends the session at once (every task of its cgroup), recording
// why (the first reason given). It returns at once; Done tells the end.
func (s *Session) Kill(reason string) {
	s.mu.Lock()
	if s.why == "" && !s.closed {
		s.why = reason
	}
	s.mu.Unlock()
	s.j.Kill()
}

// Close kills the session (reason "closed" unless another came first)
// and waits for its end.
func (s *Session) Close() SessionEnd {
	s.Kill("closed")
	<-s.done
	return s.End()
}

// watch waits for the run's end and releases the session's descriptors.
func (s *Session) watch() {
	res, err := s.j.Wait()
	s.mu.Lock()
	res.Usage.MemoryPeak = max(res.Usage.MemoryPeak, s.peak)
	s.end = SessionEnd{Result: res, Reason: s.why, Err: err}
	s.closed = true
	if s.pidfd >= 0 {
		unix.Close(s.pidfd)
		s.pidfd = -1
	}
	s.mu.Unlock()
	s.sock.Close() // ends read
	s.z.sessions.Add(-1)
	close(s.done)
}

// read passes the code's messages on until the socket ends. Descriptors
// the code sends are closed; what it sends out of turn is dropped by the
// request that finds it (see await).
func (s *Session) read() {
	defer close(s.msgs)
	buf := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred)+unix.CmsgSpace(16*4))
	for {
		var n, oobn int
		var rerr error
		err := s.rc.Read(func(fd uintptr) bool {
			n, oobn, _, _, rerr = unix.Recvmsg(int(fd), buf, oob, unix.MSG_CMSG_CLOEXEC)
			return rerr != unix.EAGAIN
		})
		if err != nil || rerr != nil || n == 0 {
			return
		}
		m := smsg{data: append([]byte(nil), buf[:n]...)}
		if cms, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
			for i := range cms {
				if cred, err := unix.ParseUnixCredentials(&cms[i]); err == nil {
					m.pid = cred.Pid
				} else if fds, err := unix.ParseUnixRights(&cms[i]); err == nil {
					for _, fd := range fds {
						unix.Close(fd)
					}
				}
			}
		}
		select {
		case s.msgs <- m:
		default: // nobody asked for it (the code's own sends): dropped
		}
	}
}

// acquire takes the session's turn: requests run one at a time, the next
// waiting for the one in progress (or for ctx).
func (s *Session) acquire(ctx context.Context) error {
	select {
	case s.turn <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.done:
		return ErrSessionEnded
	}
	if s.Ended() {
		<-s.turn
		return ErrSessionEnded
	}
	return nil
}

func (s *Session) release() { <-s.turn }

// send writes one request (fields "<name> <len>\n<value>", a "seq" field
// first) with fds.
func (s *Session) send(fields [][2]string, fds []int) (int64, error) {
	s.seq++
	var b []byte
	add := func(name, value string) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, '\n')
		b = append(b, value...)
	}
	add("seq", strconv.FormatInt(s.seq, 10))
	for _, f := range fields {
		add(f[0], f[1])
	}
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		serr = unix.Sendmsg(int(fd), b, unix.UnixRights(fds...), nil, 0)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return 0, fmt.Errorf("session %s: send: %w", s.j.id, err)
	}
	return s.seq, nil
}

// sendFailed is what a failed send means: the session ending (its code
// gone: ErrSessionEnded once the end is known) or err.
func (s *Session) sendFailed(err error) error {
	select {
	case <-s.done:
		return ErrSessionEnded
	case <-time.After(5 * time.Second):
		return err
	}
}

// drain drops answers left over from an earlier request.
func (s *Session) drain() {
	for {
		select {
		case _, ok := <-s.msgs:
			if !ok {
				return
			}
		default:
			return
		}
	}
}

// await returns the answer to request seq (without its seq), or false
// when the session ended first; ctx and limit (when not 0) end the wait
// with an error.
func (s *Session) await(ctx context.Context, seq int64, limit time.Duration) (string, bool, error) {
	var expire <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expire = t.C
	}
	prefix := strconv.FormatInt(seq, 10) + " "
	for {
		select {
		case m, ok := <-s.msgs:
			if !ok {
				<-s.done
				return "", false, nil
			}
			if d := string(m.data); len(d) > len(prefix) && d[:len(prefix)] == prefix {
				return d[len(prefix):], true, nil
			}
		case <-s.done:
			return "", false, nil
		case <-ctx.Done():
			return "", true, ctx.Err()
		case <-expire:
			return "", true, fmt.Errorf("session %s: no answer within %s", s.j.id, limit)
		}
	}
}

// pipes makes n pipes, returning their [read, write] ends; on error none
// is left open.
func pipes(n int) ([][2]*os.File, error) {
	out := make([][2]*os.File, 0, n)
	for range n {
		r, w, err := os.Pipe()
		if err != nil {
			for _, p := range out {
				p[0].Close()
				p[1].Close()
			}
			return nil, fmt.Errorf("make pipes: %w", err)
		}
		out = append(out, [2]*os.File{r, w})
	}
	return out, nil
}

func fdsOf(fs ...*os.File) []int {
	out := make([]int, len(fs))
	for i, f := range fs {
		out[i] = int(f.Fd())
	}
	return out
}
