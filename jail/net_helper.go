package jail

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netReadyTimeout bounds the NAT helper's start.
const netReadyTimeout = 5 * time.Second

// netRun is the NAT helper of one run.
type netRun struct {
	cmd     *exec.Cmd
	done    chan struct{} // closed when the helper has been reaped
	record  string        // its file in the state dir's net/ (for Sweep)
	stderr  *capBuffer
	closeMu sync.Once
	err     error
}

// attachNet joins a run's network namespace to the outside: it starts the
// NAT helper on the namespace of pid (the jail's init, waiting at its exec
// fifo, so that no code of the run has started), waits until the helper's
// tap is up, and routes the namespace (netRoutes). The helper runs as the
// slot's root id, the owner of the run's user namespace (it has no
// privilege on the host), from a start thread with a parent-death signal;
// close kills and reaps it. Its pid is recorded under the state dir so
// that a server killed mid-run has it swept at the next start.
func (m *Manager) attachNet(id string, pid int, slot *idSlot) (_ *netRun, retErr error) {
	if m.netErr != nil {
		return nil, m.netErr
	}
	proc := "/proc/" + strconv.Itoa(pid) + "/ns/"
	netns, err := os.Open(proc + "net")
	if err != nil {
		return nil, fmt.Errorf("open the run's network namespace: %w", err)
	}
	defer netns.Close()
	userns, err := os.Open(proc + "user")
	if err != nil {
		return nil, fmt.Errorf("open the run's user namespace: %w", err)
	}
	defer userns.Close()
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("helper pipe: %w", err)
	}
	defer readyR.Close()
	// The helper reopens it by /proc/self/fd/5 as its own user.
	if err := unix.Fchown(int(readyW.Fd()), slot.rootID, slot.rootID); err != nil {
		readyW.Close()
		return nil, fmt.Errorf("helper pipe: %w", err)
	}

	args := []string{"pasta",
		"--foreground", "--quiet", "--ipv4-only",
		// Descriptors 3, 4 and 5 (ExtraFiles below). The helper is not
		// the namespaces' process's user: it reaches them through its own
		// descriptors, not /proc/<pid>.
		"--netns", "/proc/self/fd/3", "--userns", "/proc/self/fd/4", "--pid", "/proc/self/fd/5",
		"--ns-ifname", netIfName,
		"--address", netGuest.String(), "--netmask", "16", "--gateway", netGateway.String(),
		// The gateway is not the host: no mapping of it to host loopback.
		"--no-map-gw",
		// Nothing forwarded into the run, nor from its loopback out.
		"--tcp-ports", "none", "--udp-ports", "none", "--tcp-ns", "none", "--udp-ns", "none",
		"--no-dhcp", "--no-dhcpv6", "--no-ndp", "--no-ra",
	}
	if len(m.cfg.Network.DNS) == 0 {
		args = append(args, "--dns-forward", netGateway.String())
	} else {
		args = append(args, "--dns", "none")
	}
	capped := &capBuffer{max: 4 << 10}
	cmd := &exec.Cmd{
		Path:       m.netHelper,
		Args:       args,
		Env:        []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Dir:        "/",
		Stderr:     capped,
		ExtraFiles: []*os.File{netns, userns, readyW},
		SysProcAttr: &syscall.SysProcAttr{
			// The owner of the run's user namespace: all it may do is what
			// that namespace allows, and its sockets are charged to the
			// run's own id.
			Credential: &syscall.Credential{Uid: uint32(slot.rootID), Gid: uint32(slot.rootID), Groups: []uint32{}},
			Pdeathsig:  syscall.SIGKILL,
			Setsid:     true,
		},
	}
	err = m.onStartThread(cmd.Start)
	readyW.Close()
	if err != nil {
		return nil, fmt.Errorf("start NAT helper: %w", err)
	}
	n := &netRun{cmd: cmd, done: make(chan struct{}), stderr: capped}
	go func() {
		_ = cmd.Wait()
		close(n.done)
	}()
	defer func() {
		if retErr != nil {
			_ = n.close()
		}
	}()
	n.record = filepath.Join(m.netDir, id)
	if err := writeNetRecord(n.record, cmd.Process.Pid); err != nil {
		return n, err
	}
	// The helper writes its pid once its tap exists; it exits (EOF here)
	// when it cannot.
	if err := readyR.SetReadDeadline(time.Now().Add(netReadyTimeout)); err != nil {
		return n, fmt.Errorf("NAT helper: %w", err)
	}
	line, err := bufio.NewReader(readyR).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != strconv.Itoa(cmd.Process.Pid) {
		_ = cmd.Process.Kill()
		<-n.done
		return n, fmt.Errorf("NAT helper did not get ready (%s): %w", n.why(), errors.Join(err, errNetHelper))
	}
	if err := m.netRoutes(netns); err != nil {
		return n, err
	}
	return n, nil
}

var errNetHelper = errors.New("NAT helper failed")

// why is the end of the helper's own messages, or how it exited.
func (n *netRun) why() string {
	if s := strings.TrimSpace(n.stderr.String()); s != "" {
		return s
	}
	if ps := n.cmd.ProcessState; ps != nil {
		return ps.String()
	}
	return "no message"
}

// close kills and reaps the helper and removes its record. It is safe to
// call more than once.
func (n *netRun) close() error {
	n.closeMu.Do(func() {
		_ = n.cmd.Process.Kill()
		select {
		case <-n.done:
		case <-time.After(10 * time.Second):
			n.err = fmt.Errorf("NAT helper %d did not exit after SIGKILL", n.cmd.Process.Pid)
			return
		}
		if n.record != "" {
			if err := os.Remove(n.record); err != nil && !errors.Is(err, os.ErrNotExist) {
				n.err = fmt.Errorf("remove NAT helper record: %w", err)
			}
		}
	})
	return n.err
}

// capBuffer keeps the first max bytes written to it.
type capBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *capBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *capBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	// pasta also reports that it has no syslog; that is no reason.
	var keep []string
	for l := range strings.SplitSeq(string(t.b), "\n") {
		if l != "" && !strings.HasPrefix(l, "Failed to send") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "; ")
}
