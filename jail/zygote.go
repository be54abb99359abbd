package jail

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/cgroup"
)

// A Zygote is a template jail whose init, the bootstrap in zygote mode,
// started once and did everything every run needs (imports, compiler
// warm-up); each run is a fork of it with namespaces, a cgroup, a uid, a
// /work and a /tmp of its own (see the bootstrap's zygote mode for the
// steps inside). What runs share is the zygote's copy-on-write memory
// image, nothing else; nothing flows back into the zygote.
type Zygote struct {
	m        *Manager
	tmpl     *Jail
	ctl      *os.File // the control socket (SOCK_SEQPACKET)
	ctlMu    sync.Mutex
	uids     chan int // free run offsets: uid SandboxUID+k
	born     time.Time
	served   atomic.Int64
	sessions atomic.Int64 // live sessions: the zygote is not retired under them
	inFlight sync.WaitGroup
	dead     chan struct{} // closed when the template jail ended
	exit     error         // how it ended; read after dead is closed

	prepMu     sync.Mutex
	preps      []*prepped // runs forked ahead, oldest first (zygote_prep.go)
	filling    int        // being prepared
	prepClosed bool       // no more: the zygote ends
}

// ErrZygoteBusy is returned by Zygote.Start when every run uid of the
// zygote is in use, and ErrZygoteDead when its template jail ended.
var (
	ErrZygoteBusy = errors.New("zygote: every run slot is in use")
	ErrZygoteDead = errors.New("zygote: its template jail has ended")
)

// StartZygote starts spec's process as a zygote: spec.Args must be the
// bootstrap in zygote mode reading requests from descriptor 4 and the
// seccomp program from 5, which writes ready to its report pipe (3) once it
// waits. spec.Limits bound its start; the zygote itself has no memory
// limit of its own beyond what its runs are given.
func (m *Manager) StartZygote(spec Spec, ready string) (*Zygote, error) {
	return m.startZygote(spec, ready, Limits{})
}

// startZygote is StartZygote, whose first prepared runs are made for
// runs with the limits in runs (their disk size and cgroup limits).
func (m *Manager) startZygote(spec Spec, ready string, runs Limits) (_ *Zygote, retErr error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("zygote socket: %w", err)
	}
	ours := os.NewFile(uintptr(pair[0]), "zygote-ctl")
	theirs := os.NewFile(uintptr(pair[1]), "zygote-ctl-child")
	defer theirs.Close()
	prog, err := memfdWith("pyexec-seccomp", m.bpf)
	if err != nil {
		ours.Close()
		return nil, err
	}
	defer prog.Close()
	spec.Limits.Limits = cgroup.Limits{}
	j, err := m.start(spec, true, []*os.File{theirs, prog})
	if err != nil {
		ours.Close()
		return nil, err
	}
	if err := j.awaitReady(ready, j.limits.Timeout); err != nil {
		j.report = newCapture(j.reportR, m.reportMax(), nil)
		ours.Close()
		discard(j)
		return nil, err
	}
	j.report = newCapture(j.reportR, m.reportMax(), nil)
	z := &Zygote{m: m, tmpl: j, ctl: ours, uids: make(chan int, m.cfg.ZygoteRuns), born: time.Now(),
		dead: make(chan struct{})}
	for k := 0; k < m.cfg.ZygoteRuns; k++ {
		z.uids <- k
	}
	// No clock: a zygote lives until Close (its spec's timeout bounded
	// only its start).
	go func() {
		_, err := j.Wait()
		z.exit = err
		close(z.dead)
		z.dropPrepared()
	}()
	runs = runs.withDefaults()
	z.refill(runs.DiskBytes, runs.Limits)
	return z, nil
}

// memfdWith returns a sealed-size memory file holding b, at offset 0.
func memfdWith(name string, b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), name)
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("memfd: %w", err)
	}
	return f, nil
}

// Age is how long ago the zygote started.
func (z *Zygote) Age() time.Duration { return time.Since(z.born) }

// Served counts the runs started from the zygote.
func (z *Zygote) Served() int64 { return z.served.Load() }

// Alive reports whether the template jail still runs.
func (z *Zygote) Alive() bool {
	select {
	case <-z.dead:
		return false
	default:
		return true
	}
}

// Close waits for the runs in flight (at most grace), then ends the
// template jail. Runs started after Close fail.
func (z *Zygote) Close(grace time.Duration) {
	z.dropPrepared()
	done := make(chan struct{})
	go func() { z.inFlight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
	}
	z.ctlMu.Lock()
	z.ctl.Close()
	z.ctlMu.Unlock()
	z.tmpl.Kill()
	<-z.dead
}

// Start forks a run from the zygote: a (cold-equivalent) jail that runs
// a.Control (interpreters.EncodeRequest) with a.Files in its /work and
// a.Stdin, within a.Limits (any disk size). Wait or Kill it like any jail.
//
// A run the zygote prepared ahead (see prepared) serves the request when
// its /work and /tmp have the request's size: it only needs the request,
// the cgroup limits set again when they differ, and its files.
func (z *Zygote) Start(a Activation) (*Jail, error) {
	l := a.Limits.withDefaults()
	if p := z.takePrepared(l.DiskBytes); p != nil {
		defer z.refill(l.DiskBytes, l.Limits)
		j, err := z.launch(p, a)
		if err == nil {
			return j, nil
		}
		z.m.log.Warn("prepared zygote run failed to launch; forking another", "jail", p.j.id, "err", err)
	}
	p, err := z.prepare(l, nil)
	if err != nil {
		return nil, err
	}
	defer z.refill(l.DiskBytes, l.Limits)
	return z.launch(p, a)
}

// start is Start for a session: session is its end of the session's
// socket (see StartSession). The run gets it after the cgroup files, and
// the request says so. start closes it either way.
func (z *Zygote) start(a Activation, session *os.File) (*Jail, error) {
	p, err := z.prepare(a.Limits.withDefaults(), session)
	if err != nil {
		return nil, err
	}
	return z.launch(p, a)
}

// A prepped run is forked and waits for its request on its go pipe: its
// pid 1 has joined the run's cgroup and made its namespaces and mounts
// (/work and /tmp of disk bytes), its code process is the run's uid
// without privileges, under the strict seccomp filter. Its cgroup has
// the limits cg, but the CPU weight preparedShares; its output captures
// already read.
type prepped struct {
	j      *Jail
	goW    *os.File // the request goes here, then it is closed
	filesW *os.File // the file stream
	disk   int64
	cg     cgroup.Limits
}

// prepare forks a run up to the point where it waits for its request
// (see prepped), within l's disk and cgroup limits. session, when not
// nil, is passed on (and closed either way).
func (z *Zygote) prepare(l Limits, session *os.File) (_ *prepped, retErr error) {
	if session != nil {
		defer session.Close()
	}
	if !z.Alive() {
		return nil, ErrZygoteDead
	}
	var k int
	select {
	case k = <-z.uids:
	default:
		return nil, ErrZygoteBusy
	}
	j := &Jail{id: newID(), m: z.m, zyg: z, zuid: k, limits: l, stop: make(chan struct{})}
	var cleanups []func() error
	defer func() {
		if retErr != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				if err := cleanups[i](); err != nil {
					z.m.log.Warn("zygote run cleanup after failed start", "jail", j.id, "err", err)
				}
			}
		}
	}()
	cleanups = append(cleanups, func() error { z.uids <- k; return nil })
	// Until its request, a prepared run works at the lowest CPU weight:
	// on a busy host it yields to the runs that have their requests.
	prep := l.Limits
	prep.CPUShares = preparedShares
	run, err := z.tmpl.group.NewRun(j.id, prep)
	if err != nil {
		return nil, fmt.Errorf("run cgroup: %w", err)
	}
	j.run = run
	cleanups = append(cleanups, run.Delete)

	var mine, theirs []*os.File // the server's ends; the run's ends
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	defer func() { closeAll(theirs) }() // sent, or failed: these go either way
	// stdin, stdout, stderr, report, status, files, go: [read, write]
	var files [7][2]*os.File
	for i := range files {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(mine)
			return nil, fmt.Errorf("make pipes: %w", err)
		}
		files[i] = [2]*os.File{r, w}
		if i == 0 || i >= 5 { // the server writes stdin, the files and the request
			mine, theirs = append(mine, w), append(theirs, r)
		} else {
			mine, theirs = append(mine, r), append(theirs, w)
		}
	}
	goR := theirs[6]
	theirs = theirs[:6]
	defer goR.Close()
	for _, p := range run.ProcsFiles() {
		f, err := os.OpenFile(p, os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			closeAll(mine)
			return nil, fmt.Errorf("open run cgroup: %w", err)
		}
		theirs = append(theirs, f)
	}
	theirs = append(theirs, goR)
	j.stdinW = files[0][1]
	j.stdout = newCapture(files[1][0], l.MaxOutputBytes, j.flood)
	j.stderr = newCapture(files[2][0], l.MaxOutputBytes, j.flood)
	j.report = newCapture(files[3][0], z.m.reportMax(), nil)
	j.status = files[4][0]
	p := &prepped{j: j, filesW: files[5][1], goW: files[6][1], disk: l.DiskBytes, cg: l.Limits}
	cleanups = append(cleanups, func() error {
		j.closeParentEnds()
		j.status.Close()
		p.filesW.Close()
		p.goW.Close()
		return nil
	})

	var msg []byte
	field := func(name string, v int64) {
		s := strconv.FormatInt(v, 10)
		msg = append(msg, fmt.Sprintf("%s %d\n%s", name, len(s), s)...)
	}
	// The run's uid in the zygote's namespace (unique among its runs), and
	// what the code sees itself as: the sandbox uid of its own namespace.
	field("uid", int64(z.m.cfg.SandboxUID+k))
	field("sandbox", int64(z.m.cfg.SandboxUID))
	field("disk", l.DiskBytes)
	for _, r := range jailRlimits(l) { // they follow from the disk size alone
		if name := rlimitName(r.Type); name != "core" {
			field(name, int64(r.Hard))
		}
	}
	field("ncg", int64(len(run.ProcsFiles())))
	if session != nil {
		field("session", 1)
		theirs = append(theirs, session)
	}
	fds := make([]int, len(theirs))
	for i, f := range theirs {
		fds[i] = int(f.Fd())
	}
	z.m.track(j, true)
	cleanups = append(cleanups, func() error { z.m.track(j, false); return nil })
	z.inFlight.Add(1)
	cleanups = append(cleanups, func() error { z.inFlight.Done(); return nil })
	z.ctlMu.Lock()
	err = unix.Sendmsg(int(z.ctl.Fd()), msg, unix.UnixRights(fds...), nil, 0)
	z.ctlMu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%w: send the request: %v", ErrZygoteDead, err)
	}
	return p, nil
}

// launch gives the prepared run p its request: a's limits (the cgroup's
// set again when they differ from p's; the rlimits follow from the disk
// size, p's), its control fields, then its files and stdin; the run's
// clock starts. On error p is discarded.
func (z *Zygote) launch(p *prepped, a Activation) (*Jail, error) {
	j := p.j
	l := a.Limits.withDefaults()
	if l.DiskBytes != p.disk {
		z.discard(p)
		return nil, fmt.Errorf("zygote run %s: prepared for %d disk bytes, asked for %d", j.id, p.disk, l.DiskBytes)
	}
	update := func() error { return j.run.SetCPUShares(l.CPUShares) }
	if l.Limits != p.cg {
		update = func() error { return j.run.Update(l.Limits) }
	}
	if err := update(); err != nil {
		z.discard(p)
		return nil, fmt.Errorf("run cgroup: %w", err)
	}
	j.limits = l
	j.stdout.max.Store(l.MaxOutputBytes)
	j.stderr.max.Store(l.MaxOutputBytes)
	j.stdin = a.Stdin
	msg := a.Control
	j.mu.Lock()
	j.started = time.Now()
	j.mu.Unlock()
	// Files that fit in the pipe go in before the request: the run finds
	// them there, with no goroutine to wait for. Larger ones stream.
	small := fileStreamSize(a.Files) <= smallFileStream && pipeSize(p.filesW) >= 2*smallFileStream
	if small {
		writeFileStream(p.filesW, a.Files)
	}
	_, err := p.goW.Write(msg)
	p.goW.Close()
	if err != nil {
		if !small {
			p.filesW.Close()
		}
		j.Kill()
		z.reap(j)
		return nil, fmt.Errorf("%w: send the request: %v", ErrZygoteDead, err)
	}
	z.served.Add(1)
	if !small {
		go writeFileStream(p.filesW, a.Files)
	}
	j.begin()
	return j, nil
}

// preparedShares is a prepared run's CPU weight until its request (v1
// cpu.shares; the least cgroups allow).
const preparedShares = 2

// smallFileStream is what writeFileStream may write to a run's empty
// files pipe without blocking when the pipe holds twice as much (64 KiB
// by default): the run reads it only once it has its request.
const smallFileStream = 32 << 10

// pipeSize is what pipe f holds (F_GETPIPE_SZ; a user past its pipe
// pages gets one page), 0 when unknown.
func pipeSize(f *os.File) int {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		n, _ = unix.FcntlInt(fd, unix.F_GETPIPE_SZ, 0)
	})
	return n
}

// fileStreamSize bounds the bytes writeFileStream sends for files, with
// an entry for each directory (a deep tree of few files is mostly those);
// it stops counting past smallFileStream.
func fileStreamSize(files []File) int {
	n := 0
	made := map[string]bool{}
	for _, f := range files {
		n += 32 + len(f.Path) + len(f.Data) + len(f.Linkname)
		for d := path.Dir(f.Path); d != "." && d != "/" && !made[d]; d = path.Dir(d) {
			made[d] = true
			n += 32 + len(d)
		}
		if n > smallFileStream {
			return n
		}
	}
	return n
}

// writeFileStream sends files to the run in the bootstrap's format (see
// _zplace), parents first, then closes w. A run that stops reading ends
// it (EPIPE).
func writeFileStream(w *os.File, files []File) {
	defer w.Close()
	made := map[string]bool{"": true}
	var buf []byte
	flush := func() bool {
		if len(buf) == 0 {
			return true
		}
		_, err := w.Write(buf)
		buf = buf[:0]
		return err == nil
	}
	entry := func(kind byte, mode os.FileMode, p string, data []byte) bool {
		buf = fmt.Appendf(buf, "%c %o %d %d\n", kind, mode.Perm(), len(p), len(data))
		buf = append(buf, p...)
		if len(data) > 64<<10 {
			if !flush() {
				return false
			}
			_, err := w.Write(data)
			return err == nil
		}
		buf = append(buf, data...)
		if len(buf) > 64<<10 {
			return flush()
		}
		return true
	}
	var dirs func(d string) bool
	dirs = func(d string) bool {
		if made[d] {
			return true
		}
		if parent := path.Dir(d); parent != "." && !dirs(parent) {
			return false
		}
		made[d] = true
		return entry('d', 0o755, d, nil)
	}
	for _, f := range files {
		if checkRelative(f.Path) != nil {
			return
		}
		if d := path.Dir(f.Path); d != "." && !dirs(d) {
			return
		}
		var ok bool
		switch {
		case f.Mode&os.ModeDir != 0:
			if made[f.Path] {
				continue
			}
			made[f.Path] = true
			ok = entry('d', f.Mode, f.Path, nil)
		case f.Mode&os.ModeSymlink != 0:
			if path.IsAbs(f.Linkname) {
				return
			}
			ok = entry('l', 0o777, f.Path, []byte(f.Linkname))
		default:
			ok = entry('f', f.Mode, f.Path, f.Data)
		}
		if !ok {
			return
		}
	}
	flush()
}

// waitZygoteRun is Wait for a run forked from a zygote: its end is the
// status its code process writes when it leaves by the program's end
// (before its own teardown), or else its pid 1 once it reaped it (or the
// status pipe's end without one, when the run was killed), then its
// output.
func (j *Jail) waitZygoteRun() (Result, error) {
	var res Result
	// One write (of the code, of pid 1 or of a failed setup): its line is
	// all, and no exit need be waited for (the output's end waits for what
	// is left in the namespace, and the group's removal for every task).
	buf := make([]byte, 4096)
	n, _ := j.status.Read(buf)
	line := buf[:n]
	j.status.Close()
	if n > 0 {
		// The run has ended by its own account: what is left of it (pid 1
		// on its way out, what the code left behind) goes now, so that
		// its output ends, even when the code wrote the line itself and
		// went on.
		_ = j.run.Signal()
	}
	j.mu.Lock()
	res.Duration = time.Since(j.started)
	close(j.stop)
	res.TimedOut, res.Killed, res.OutputLimit = j.timedOut, j.killed, j.flooded
	timer := j.timer
	j.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	j.closeParentEnds()
	// The status came from the run's pid 1 on its way out: when it is gone,
	// so is everything in its pid namespace, and the output ends. (What
	// is left in its cgroup is killed when the group is removed.)
	res.Stdout, res.StdoutBytes, res.StdoutTruncated = j.stdout.wait()
	res.Stderr, res.StderrBytes, res.StderrTruncated = j.stderr.wait()
	res.Report, _, _ = j.report.wait()
	if usage, err := j.run.Usage(); err != nil {
		j.m.log.Warn("run usage unreadable: reported as zero", "jail", j.id, "err", err)
	} else {
		res.Usage = usage
		res.OOMKilled = usage.OOMKills > 0
	}
	j.m.cleanups.Add(1)
	go func() {
		defer j.m.cleanups.Done()
		defer j.zyg.inFlight.Done()
		defer j.m.track(j, false)
		if err := j.run.Delete(); err != nil {
			j.m.log.Error("run cleanup failed: the next start-up sweeps it", "jail", j.id, "err", err)
		}
		j.zyg.uids <- j.zuid // every task of the run is gone
	}()
	// The first line: the code process's own, when it left by its end,
	// may be followed by pid 1's (the same) if it came in time.
	st := parseStatus(line)
	switch {
	case st.setup != "":
		return res, fmt.Errorf("zygote run %s: %s", j.id, st.setup)
	case st.ok:
		res.ExitCode, res.Signal = st.exit, st.signal
	default:
		// No status: the run was killed (timeout, kill, output flood, or
		// the kernel's OOM killer took its pid 1).
		res.Signal = unix.SIGKILL
		res.ExitCode = 128 + int(unix.SIGKILL)
		if !res.TimedOut && !res.Killed && !res.OutputLimit && !res.OOMKilled {
			if !j.zyg.Alive() {
				return res, fmt.Errorf("zygote run %s: %w", j.id, ErrZygoteDead)
			}
			return res, fmt.Errorf("zygote run %s ended without a status", j.id)
		}
	}
	return res, nil
}

// Stderr is what the zygote itself wrote to its stderr (for diagnosis: a
// zygote writes nothing there while it works).
func (z *Zygote) Stderr() string {
	b, _ := z.tmpl.stderr.snapshot()
	return b
}
