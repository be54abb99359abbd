package test

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/jail/jailtest"
)

// The harness's fixed numbers.
const (
	// Host ids of server n: idBaseStart + n*idBaseStride, far above the
	// sub-id ranges `pyexecd setup` gives the rootless tests' users (from
	// 1<<20 up): a root server's jails in a user's range would count as
	// that user's leftovers.
	idBaseStart    = 1 << 28
	idBaseStride   = 100000           // larger than jail.host_id_count (65536)
	sandboxUID     = 1000             // jail.sandbox_uid: the jail user running the code
	startTimeout   = 15 * time.Second // until /health answers 200
	stopTimeout    = 15 * time.Second // from SIGTERM to exit
	leftoverSettle = 10 * time.Second // how long leftovers may take to go away (a bound, not a goal)
)

var (
	// binPath is the pyexecd under test.
	binPath string
	// serverSeq numbers the servers of this test process.
	serverSeq atomic.Int32

	sharedMu  sync.Mutex
	sharedSrv *Server
	sharedErr error
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	// Server numbers, state dirs and id ranges are per process: two e2e
	// test processes at once (a developer's and an editor's, say) would
	// collide, so they take turns.
	if os.Geteuid() == 0 {
		lock, err := os.OpenFile("/run/pyexec-e2e.lock", os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e lock:", err)
			return 1
		}
		defer lock.Close()
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
			fmt.Fprintln(os.Stderr, "e2e lock:", err)
			return 1
		}
	}
	if err := requireArtifacts(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if p := os.Getenv("PYEXEC_BIN"); p != "" {
		abs, err := executable(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, "PYEXEC_BIN:", err)
			return 1
		}
		binPath = abs
	} else {
		dir, err := os.MkdirTemp("", "pyexec-e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binPath = filepath.Join(dir, "pyexecd")
		cmd := exec.Command("go", "build", "-tags", "seccomp", "-o", binPath, "../cmd/pyexecd")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building pyexecd: %v\n%s", err, out)
			return 1
		}
	}
	defer removeCLI()
	code := m.Run()

	sharedMu.Lock()
	srv := sharedSrv
	sharedMu.Unlock()
	if srv != nil {
		if problems := srv.stop(); len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "shared server: %s\npyexecd stderr (tail):\n%s\n",
				strings.Join(problems, "\n"), tail(srv.Stderr(), 8<<10))
			code = 1
		}
	}
	return code
}

// requireArtifacts makes CI test what it ships: under CI=true the suite
// runs the binaries `make test` has just built (PYEXEC_BIN, PYEXEC_CLI_BIN)
// and builds none of its own, which could differ from them (build tags,
// static linking). By hand, `go test ./test/` builds them when unset.
func requireArtifacts() error {
	if os.Getenv("CI") != "true" {
		return nil
	}
	var missing []string
	for _, v := range []string{"PYEXEC_BIN", "PYEXEC_CLI_BIN"} {
		if os.Getenv(v) == "" {
			missing = append(missing, v)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("CI=true: set %s to the binaries under test (make test passes bin/pyexecd and bin/pyexec)",
			strings.Join(missing, " and "))
	}
	return nil
}

// executable returns the absolute path of p, which must be an executable
// file.
func executable(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

// requireJail skips a test that starts servers on a machine without root,
// user namespaces and cgroups, and fails it under CI=true, where it must run.
func requireJail(t testing.TB) {
	t.Helper()
	jailtest.Require(t, "end-to-end tests")
}

// Server is one running pyexecd process.
type Server struct {
	URL          string // "http://127.0.0.1:<port>"
	StateDir     string // jail.state_dir
	CgroupParent string // jail.cgroup_parent
	IDBase       int    // jail.host_id_base

	cmd      *exec.Cmd
	stderr   *syncBuffer
	exited   chan struct{} // closed once the process has exited
	exitErr  error         // the process's exit; read after exited is closed
	stopOnce sync.Once
	problems []string // what stop found
}

// startServer starts a new pyexecd with its own state dir, cgroup parent and
// id range; env entries (KEY=value) are added to its environment. The
// server is stopped, and checked for leftovers, when t ends.
func startServer(t *testing.T, env ...string) *Server {
	t.Helper()
	requireJail(t)
	s, err := launch(env)
	if err != nil {
		t.Fatalf("start pyexecd: %v", err)
	}
	t.Cleanup(func() {
		for _, p := range s.stop() {
			t.Error(p)
		}
		if t.Failed() {
			t.Logf("pyexecd stderr:\n%s", s.Stderr())
		}
	})
	return s
}

// sharedServer returns the server shared by tests that need no special
// configuration. It starts on first use; TestMain stops and checks it.
func sharedServer(t *testing.T) *Server {
	t.Helper()
	requireJail(t)
	sharedMu.Lock()
	if sharedSrv == nil && sharedErr == nil {
		sharedSrv, sharedErr = launch(nil)
	}
	s, err := sharedSrv, sharedErr
	sharedMu.Unlock()
	if err != nil {
		t.Fatalf("start the shared pyexecd: %v", err)
	}
	mark := s.stderr.Len()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared pyexecd stderr during %s (tail):\n%s", t.Name(), tail(s.stderr.From(mark), 16<<10))
		}
	})
	return s
}

var errAddrInUse = errors.New("address already in use")

// launch starts server number n, retrying with another port when the one
// picked was taken in the meantime.
func launch(env []string) (*Server, error) {
	n := int(serverSeq.Add(1))
	s := &Server{
		StateDir:     fmt.Sprintf("/run/pyexec-e2e-%d", n),
		CgroupParent: fmt.Sprintf("pyexec-e2e-%d", n),
		IDBase:       idBaseStart + n*idBaseStride,
	}
	if err := retryPort(func() error { return s.start(env) }); err != nil {
		_ = removeState(s.StateDir, s.CgroupParent)
		return nil, err
	}
	return s, nil
}

// retryPort calls start until it returns anything but errAddrInUse (the
// free port it picked was taken in the meantime), five times at most, and
// returns its last error.
func retryPort(start func() error) error {
	var err error
	for range 5 {
		if err = start(); !errors.Is(err, errAddrInUse) {
			break
		}
	}
	return err
}

func (s *Server) start(extra []string) error {
	port, err := s.newPort()
	if err != nil {
		return err
	}
	cmd := exec.Command(binPath)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// Later entries win, so the caller's extra env overrides ours.
	cmd.Env = append(os.Environ(),
		"PYEXEC_SERVER_HOST=127.0.0.1",
		"PYEXEC_SERVER_PORT="+strconv.Itoa(port),
		"PYEXEC_JAIL_STATE_DIR="+s.StateDir,
		// Records with the state: a restart on the same state dir finds them.
		"PYEXEC_EXECUTION_RECORDS_DIR="+filepath.Join(s.StateDir, "records"),
		"PYEXEC_JAIL_CGROUP_PARENT="+s.CgroupParent,
		"PYEXEC_JAIL_HOST_ID_BASE="+strconv.Itoa(s.IDBase),
		// Each server its own dependency cache (one process per cache),
		// removed with the state dir.
		"PYEXEC_DEPS_CACHE_DIR="+filepath.Join(s.StateDir, "deps"),
		"PYEXEC_LOG_LEVEL=info",
	)
	cmd.Env = append(cmd.Env, extra...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("exec %s: %w", binPath, err)
	}
	return s.await(cmd)
}

// newPort picks a free port for a new process of s: it points s.URL at
// it and gives s a fresh output buffer and exit channel (the process's
// stdout and stderr go to s.stderr).
func (s *Server) newPort() (int, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.stderr = &syncBuffer{}
	s.exited = make(chan struct{})
	return port, nil
}

// await makes the started cmd s's process and waits until it answers
// GET /health at s.URL with 200. It returns errAddrInUse when the process
// exited because its port was taken, another error when it exited for
// anything else or did not answer within startTimeout (then it is killed).
func (s *Server) await(cmd *exec.Cmd) error {
	s.cmd = cmd
	exited := s.exited
	go func() {
		s.exitErr = cmd.Wait()
		close(exited)
	}()
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			out := s.stderr.String()
			if strings.Contains(out, "address already in use") {
				return errAddrInUse
			}
			return fmt.Errorf("pyexecd exited during start-up (%v):\n%s", s.exitErr, out)
		default:
		}
		if resp, err := hc.Get(s.URL + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-s.exited
	return fmt.Errorf("pyexecd did not answer GET /health with 200 within %v:\n%s", startTimeout, s.stderr.String())
}

// Stderr is everything the server wrote so far.
func (s *Server) Stderr() string { return s.stderr.String() }

// signal sends sig to the server and waits up to timeout for it to exit.
// It returns how long the exit took and whether it happened.
func (s *Server) signal(sig syscall.Signal, timeout time.Duration) (time.Duration, bool) {
	start := time.Now()
	select {
	case <-s.exited:
		return 0, true
	default:
	}
	_ = s.cmd.Process.Signal(sig)
	select {
	case <-s.exited:
		return time.Since(start), true
	case <-time.After(timeout):
		return time.Since(start), false
	}
}

// exitCode is the server's exit status once it has exited, -1 for a
// death by signal.
func (s *Server) exitCode() int {
	<-s.exited
	return s.cmd.ProcessState.ExitCode()
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer is a bytes.Buffer safe for a writing process and reading tests.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// From returns what was written after the first n bytes.
func (b *syncBuffer) From(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf.Bytes()[min(n, b.buf.Len()):])
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
