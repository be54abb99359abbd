package jail

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/pyexec/pyexec/cgroup"
)

// Jail is one running jail.
type Jail struct {
	id    string
	m     *Manager
	slot  *idSlot    // its user namespace and host ids
	slots *idSlots   // where slot goes back
	extra []*os.File // a zygote template's descriptors 4 and up

	// A run forked from a zygote has these instead of a container.
	zyg     *Zygote
	zuid    int              // its uid offset in the zygote
	run     *cgroup.RunGroup // its cgroup
	status  *os.File         // its pid 1 writes how the code ended
	group   *cgroup.Group
	work    string
	net     *netRun // the NAT helper of a run with network
	c       *libcontainer.Container
	proc    *libcontainer.Process
	started time.Time
	limits  Limits

	stdout, stderr, report *capture
	stdinW                 *os.File
	stdin                  []byte
	control                *os.File // write end of the warm bootstrap's request pipe
	reportR                *os.File // a warm jail's report pipe until it is ready
	warm                   bool
	baseCPU                time.Duration // CPU the group used before Activate

	mu       sync.Mutex
	killed   bool
	timedOut bool
	flooded  bool
	stop     chan struct{} // closed when the process has exited
	timer    *time.Timer
	placing  time.Duration // spent placing the request's files on the host: counts in the timeout
	begun    bool          // begin ran: the stdin writer owns stdinW

	waitOnce sync.Once // Wait may be called again: it returns the same
	waitRes  Result
	waitErr  error
}

// closeParentEnds closes the server's ends of the pipes that no goroutine
// owns yet: stdin before begin, a warm jail's control and report ends.
// The output captures close their own ends at EOF.
func (j *Jail) closeParentEnds() {
	j.mu.Lock()
	begun := j.begun
	j.mu.Unlock()
	if !begun && j.stdinW != nil {
		j.stdinW.Close()
	}
	if j.control != nil {
		j.control.Close()
		j.control = nil
	}
	if j.reportR != nil && j.report == nil {
		j.reportR.Close()
	}
	if j.status != nil && j.zyg == nil {
		j.status.Close() // a cold or warm jail's (Spec.Status)
	}
}

// Run starts spec and waits for its end. Cancelling ctx kills the jail;
// the Result then has Killed set and keeps the output produced so far.
func (m *Manager) Run(ctx context.Context, spec Spec) (Result, error) {
	j, err := m.Start(spec)
	if err != nil {
		return Result{}, err
	}
	stopWatch := context.AfterFunc(ctx, j.Kill)
	defer stopWatch()
	return j.Wait()
}

func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "j" + hex.EncodeToString(b)
}

// Start creates and starts a jail for spec. Call Wait to collect it; every
// resource is released by Wait, or here on error.
func (m *Manager) Start(spec Spec) (*Jail, error) {
	j, err := m.start(spec, false, nil)
	if err != nil {
		return nil, err
	}
	j.begin()
	return j, nil
}

// start creates and starts a jail. A warm jail's clock and stdin wait for
// Activate; a cold one is begun at once.
//
// zygote, when not nil, makes the jail a zygote's template: its process
// gets these descriptors after the report pipe (4: the control socket,
// 5: the runs' seccomp program), the zygote's configuration, and the leaf
// group "z" of its cgroup.
func (m *Manager) start(spec Spec, warm bool, zygote []*os.File) (_ *Jail, retErr error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("jail spec: no command")
	}
	if spec.Network && (spec.HostNetwork || zygote != nil) {
		return nil, errors.New("jail spec: network is for cold jails in their own network namespace")
	}
	if spec.Network && m.netErr != nil {
		return nil, m.netErr
	}
	if spec.Status && (!spec.Report || zygote != nil) {
		return nil, errors.New("jail spec: a status pipe comes after the report pipe, in cold and warm jails")
	}
	spec.Limits = spec.Limits.withDefaults()
	t0 := time.Now()
	j := &Jail{id: newID(), m: m, limits: spec.Limits, stop: make(chan struct{}), stdin: spec.Stdin, warm: warm,
		extra: zygote, slots: m.slots}
	if zygote != nil {
		j.slots = m.zslots
		j.id = "z" + j.id[1:] // zygotes are told apart by name (jailtest)
	}
	var cleanups []func() error
	defer func() {
		if retErr != nil {
			for i := len(cleanups) - 1; i >= 0; i-- {
				if err := cleanups[i](); err != nil {
					m.log.Warn("jail cleanup after failed start", "jail", j.id, "err", err)
				}
			}
		}
	}()

	slot, err := j.slots.acquire()
	if err != nil {
		return nil, fmt.Errorf("jail ids: %w", err)
	}
	j.slot = slot
	cleanups = append(cleanups, func() error { j.slots.release(slot); return nil })

	g, err := m.cg.Create(j.id, spec.Limits.Limits)
	if err != nil {
		return nil, fmt.Errorf("jail cgroup: %w", err)
	}
	j.group = g
	cleanups = append(cleanups, g.Delete)

	j.work = filepath.Join(m.workDir, j.id)
	uid := slot.sandboxID
	if err := mountWork(j.work, spec.Limits.DiskBytes, uid, uid); err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() error { return unmountWork(j.work) })
	placed := time.Now()
	if err := writeFiles(j.work, spec.Files, uid, uid); err != nil {
		return nil, fmt.Errorf("place files: %w", err)
	}
	j.placing = time.Since(placed)

	var cfg *configs.Config
	if zygote != nil {
		cfg, err = m.zygoteConfig(&spec, slot, g.Path()+"/z", j.work)
	} else {
		cfg, err = m.containerConfig(&spec, slot, g.Path(), j.work)
	}
	if err != nil {
		return nil, err
	}
	c, err := libcontainer.Create(m.runDir, j.id, cfg)
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	j.c = c
	cleanups = append(cleanups, c.Destroy)

	p, closeChild, err := j.process(&spec)
	if err != nil {
		return nil, err
	}
	cleanups = append(cleanups, func() error { j.closeParentEnds(); return nil })
	j.proc = p
	m.track(j, true)
	cleanups = append(cleanups, func() error { m.track(j, false); return nil })
	j.started = time.Now()
	err = m.onStartThread(func() error { return c.Start(p) })
	closeChild()
	if err != nil {
		return nil, fmt.Errorf("start container: %w", err)
	}
	// A start that fails from here on kills the init and reaps it (it is
	// this process's child; Destroy would leave it a zombie).
	cleanups = append(cleanups, func() error {
		_ = p.Signal(unix.SIGKILL)
		_, _ = p.Wait()
		return nil
	})
	// The init waits at its exec fifo: its limits are set before the
	// command runs.
	pid, err := p.Pid()
	if err != nil {
		return nil, fmt.Errorf("start container: %w", err)
	}
	rl := jailRlimits(spec.Limits)
	if zygote != nil {
		rl = zygoteRlimits()
	}
	if err := slot.setRlimits(pid, rl); err != nil {
		return nil, fmt.Errorf("jail rlimits: %w", err)
	}
	if spec.Network {
		n, err := m.attachNet(j.id, pid, slot)
		if err != nil {
			return nil, err
		}
		j.net = n
		cleanups = append(cleanups, n.close)
	}
	if err := c.Exec(); err != nil {
		return nil, fmt.Errorf("start container: %w", err)
	}
	m.log.Debug("jail started", "jail", j.id, "setup", j.started.Sub(t0), "container_start", time.Since(j.started))
	return j, nil
}

// begin starts the jail's clock and feeds its stdin.
func (j *Jail) begin() {
	j.mu.Lock()
	// The files were placed on the run's clock: a request whose tree took
	// its whole timeout to place ends at once, timed out.
	j.timer = time.AfterFunc(max(j.limits.Timeout-j.placing, 0), j.timeout)
	j.begun = true
	j.mu.Unlock()
	go func(w *os.File, data []byte) {
		_, _ = w.Write(data) // EPIPE when the code does not read it all
		w.Close()
	}(j.stdinW, j.stdin)
}

// process wires the command's stdio to pipes read by captures. closeChild
// closes the ends the jail holds once it has them.
func (j *Jail) process(spec *Spec) (*libcontainer.Process, func(), error) {
	var parentEnds, childEnds []*os.File
	closeAll := func(fs []*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			parentEnds, childEnds = append(parentEnds, r, w), append(childEnds, r, w)
		}
		return r, w, err
	}
	fail := func(err error) (*libcontainer.Process, func(), error) {
		closeAll(parentEnds)
		return nil, nil, fmt.Errorf("make pipes: %w", err)
	}
	inR, inW, err := pipe()
	if err != nil {
		return fail(err)
	}
	outR, outW, err := pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := pipe()
	if err != nil {
		return fail(err)
	}
	uid := j.m.cfg.SandboxUID
	if j.extra != nil {
		uid = 0 // a zygote: the root of its user namespace, with its capabilities
	}
	p := &libcontainer.Process{
		Args: spec.Args, Env: spec.Env, UID: uid, GID: uid, Cwd: "/work",
		Stdin: inR, Stdout: outW, Stderr: errW, Init: true,
	}
	// Descriptor 3 is the report pipe (when asked for, or when a control
	// pipe needs the slot before it), descriptor 4 the warm control pipe.
	var repW, ctlR *os.File
	if spec.Report || j.warm {
		var repR *os.File
		repR, repW, err = pipe()
		if err != nil {
			return fail(err)
		}
		p.ExtraFiles = []*os.File{repW}
		if j.warm {
			j.reportR = repR // read by StartWarm until the process is ready
		} else {
			j.report = newCapture(repR, j.m.reportMax(), nil)
		}
	}
	if j.warm && j.extra == nil {
		ctlR, j.control, err = pipe()
		if err != nil {
			return fail(err)
		}
		p.ExtraFiles = append(p.ExtraFiles, ctlR)
	}
	var statusW *os.File
	if spec.Status {
		j.status, statusW, err = pipe()
		if err != nil {
			return fail(err)
		}
		p.ExtraFiles = append(p.ExtraFiles, statusW)
	}
	p.ExtraFiles = append(p.ExtraFiles, j.extra...)
	j.stdout = newCapture(outR, spec.Limits.MaxOutputBytes, j.flood)
	j.stderr = newCapture(errR, spec.Limits.MaxOutputBytes, j.flood)
	j.stdinW = inW
	closeChild := func() {
		for _, f := range []*os.File{inR, outW, errW, repW, ctlR, statusW} {
			if f != nil {
				f.Close()
			}
		}
	}
	return p, closeChild, nil
}

func (m *Manager) track(j *Jail, on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on {
		m.running[j.id] = j
	} else {
		delete(m.running, j.id)
	}
}

// ID is the jail's name (container id and cgroup name).
func (j *Jail) ID() string { return j.id }

// Kill stops the jail at once. It is safe to call from any goroutine, any
// number of times, before or after the jail ended.
func (j *Jail) Kill() { j.kill(&j.killed) }

func (j *Jail) timeout() { j.kill(&j.timedOut) }

// flood stops a jail whose output went far past its cap.
func (j *Jail) flood() { j.kill(&j.flooded) }

// kill stops the jail; why (killed, timedOut or flooded) records the first
// reason only.
func (j *Jail) kill(why *bool) {
	j.mu.Lock()
	select {
	case <-j.stop:
		j.mu.Unlock()
		return
	default:
	}
	if !j.killed && !j.timedOut && !j.flooded {
		*why = true
	}
	j.mu.Unlock()
	if j.zyg != nil {
		_ = j.run.Kill() // pid 1 of the run's namespace goes with the rest
		return
	}
	// The code is pid 1 of its pid namespace: killing it kills everything
	// in the namespace. The cgroup kill catches anything else.
	_ = j.proc.Signal(unix.SIGKILL)
	_ = j.group.Kill()
}

// Wait waits for the jail's end and collects its result. Removing its
// traces (container state, cgroup, work dir) goes on in the background, off
// the request's clock; Quiesce waits for it.
func (j *Jail) Wait() (Result, error) {
	j.waitOnce.Do(func() {
		if j.zyg != nil {
			j.waitRes, j.waitErr = j.waitZygoteRun()
			return
		}
		j.waitRes, j.waitErr = j.wait()
	})
	return j.waitRes, j.waitErr
}

// wait is Wait for a cold or warm jail.
func (j *Jail) wait() (Result, error) {
	var res Result
	var (
		ps      *os.ProcessState
		waitErr error
	)
	// With a status pipe (Spec.Status), the line that tells how the code
	// ended is the end: the init's exit, and the teardown of its
	// namespaces, are waited for in the background. Without a line (the
	// jail was killed, or its command writes none), the init's exit is.
	code, status := j.statusLine()
	if !status {
		ps, waitErr = j.proc.Wait()
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
	// Output pipes end when the last task holding them is gone; the pid
	// namespace dies with its init, so this does not wait long. After a
	// status line the run has ended by its own account: its init is
	// killed, which ends its pid namespace (and the code, even when it
	// wrote the line itself and went on), without waiting here for the
	// group to empty (the cleanup does).
	if status {
		_ = j.proc.Signal(unix.SIGKILL)
	} else {
		_ = j.group.Kill()
	}
	res.Stdout, res.StdoutBytes, res.StdoutTruncated = j.stdout.wait()
	res.Stderr, res.StderrBytes, res.StderrTruncated = j.stderr.wait()
	if j.report != nil {
		res.Report, _, _ = j.report.wait()
	}
	// A run that ended keeps its verdict when its usage cannot be read:
	// the usage reads as zero and the failure is logged.
	if usage, err := j.group.Usage(); err != nil {
		j.m.log.Warn("jail usage unreadable: reported as zero", "jail", j.id, "err", err)
	} else {
		res.Usage = usage
		res.OOMKilled = usage.OOMKills > 0
		// A warm jail's own start-up is not the request's.
		res.Usage.CPU = max(0, usage.CPU-j.baseCPU)
	}
	j.m.cleanups.Add(1)
	go func() {
		defer j.m.cleanups.Done()
		if status {
			_, _ = j.proc.Wait() // killed above
		}
		if err := j.cleanup(); err != nil {
			j.m.log.Error("jail cleanup failed: the next start-up sweeps it", "jail", j.id, "err", err)
		}
	}()

	if status {
		res.ExitCode = code
	} else if ps != nil {
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
			switch {
			case ws.Exited():
				res.ExitCode = ws.ExitStatus()
			case ws.Signaled():
				res.Signal = ws.Signal()
				res.ExitCode = 128 + int(ws.Signal())
			}
		}
	} else if waitErr != nil {
		return res, fmt.Errorf("wait for jail: %w", waitErr)
	}
	return res, nil
}

// statusLine reads a cold or warm jail's status pipe (Spec.Status) to its
// first line and closes it: the exit code of its "exit N", and whether
// there was one.
func (j *Jail) statusLine() (int, bool) {
	if j.status == nil {
		return 0, false
	}
	line, err := bufio.NewReaderSize(j.status, 64).ReadString('\n')
	j.status.Close()
	j.status = nil
	// Pid 1 reports a signal's end as 128+N: only "exit N" is written here.
	st := parseStatus([]byte(line))
	if err != nil || !st.ok || st.setup != "" || st.signal != 0 {
		return 0, false
	}
	return st.exit, true
}

// cleanup removes the container state, the cgroup and the work dir.
func (j *Jail) cleanup() error {
	defer j.m.track(j, false)
	// Every task of the jail is gone (its cgroup was killed and its pid
	// namespace ended): its ids may serve the next jail.
	defer j.slots.release(j.slot)
	var errs []error
	if j.net != nil {
		if err := j.net.close(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := j.c.Destroy(); err != nil {
		errs = append(errs, fmt.Errorf("destroy container: %w", err))
	}
	if err := j.group.Delete(); err != nil {
		errs = append(errs, err)
	}
	if err := unmountWork(j.work); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
