package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/pyexec/pyexec/api"
)

// server is one pyexecd under test, with its own port, state directory and
// cgroup parent, so that its processes and groups can be told apart.
type server struct {
	name   string
	cmd    *exec.Cmd
	url    string
	state  string
	cg     string
	stderr *bytes.Buffer
	hc     *http.Client
}

// health is the part of GET /health the bench reads. It is declared here
// (not api.Health) so the bench also runs against servers older or newer
// than the client package: zygotes are absent on servers without them.
type health struct {
	Status string `json:"status"`
	Pool   []struct {
		Version string `json:"version"`
		Size    int    `json:"size"`
		Ready   int    `json:"ready"`
		Failing bool   `json:"failing"`
		Served  int64  `json:"served"`
	} `json:"pool"`
	Zygotes []struct {
		Version  string `json:"version"`
		Running  bool   `json:"running"`
		Failing  bool   `json:"failing"`
		Served   int64  `json:"served"`
		Missed   int64  `json:"missed"`
		Recycled int64  `json:"recycled"`
	} `json:"zygotes"`
}

// served counts the runs so far that were forks of a zygote and that ran in
// a warm jail.
func (h health) served() (forked, warm int64) {
	for _, z := range h.Zygotes {
		forked += z.Served
	}
	for _, p := range h.Pool {
		warm += p.Served
	}
	return forked, warm
}

// start runs bin with env added to the bench's own settings and waits
// until /health answers. n tells the servers of one bench run apart.
func start(name, bin string, n int, env ...string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &server{
		name:   name,
		url:    fmt.Sprintf("http://127.0.0.1:%d", port),
		state:  fmt.Sprintf("/run/pyexec-bench-%d", n),
		cg:     fmt.Sprintf("pyexec-bench-%d", n),
		stderr: &bytes.Buffer{},
		hc:     &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	}
	s.cmd = exec.Command(bin)
	s.cmd.Env = append(os.Environ(),
		"PYEXEC_PORT="+strconv.Itoa(port), "PYEXEC_LOG_LEVEL=warn",
		"PYEXEC_JAIL_STATE_DIR="+s.state, "PYEXEC_JAIL_CGROUP_PARENT="+s.cg,
		"PYEXEC_EXECUTION_RECORDS_DIR="+s.state+"/records",
		"PYEXEC_EXECUTION_QUEUE_SIZE=1024")
	s.cmd.Env = append(s.cmd.Env, env...)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h, err := s.health(); err == nil && h.Status == "ok" {
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("%s: server did not answer /health: %s", name, s.stderr)
}

// stop ends the server (SIGTERM) and removes what the bench gave it.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	os.RemoveAll(s.state)
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + s.cg)
	for _, d := range append(dirs, "/sys/fs/cgroup/unified/"+s.cg) {
		os.Remove(d)
	}
}

func (s *server) getJSON(path string, v any) error {
	resp, err := s.hc.Get(s.url + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (s *server) post(path string, body any, want int, v any) error {
	b, _ := json.Marshal(body)
	resp, err := s.hc.Post(s.url+path, "application/json", bytes.NewReader(b))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		rb, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, rb)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// evalRequest posts req to /eval and wants a completed run with exit 0.
func (s *server) evalRequest(req api.EvalRequest) (*api.Execution, error) {
	var e api.Execution
	if err := s.post("/api/v1/eval", req, http.StatusOK, &e); err != nil {
		return nil, err
	}
	if e.Status != api.StatusCompleted || e.ExitCode == nil || *e.ExitCode != 0 {
		return nil, fmt.Errorf("eval: status %s error %q stderr %q", e.Status, e.Error, e.Stderr)
	}
	return &e, nil
}

// execSync posts files (a tar) and python-executor's metadata to
// /exec/sync and wants a completed run.
func (s *server) execSync(files []file) error {
	body, ctype, err := multipartProject(files)
	if err != nil {
		return err
	}
	resp, err := s.hc.Post(s.url+"/api/v1/exec/sync", ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var e api.Execution
	err = json.NewDecoder(resp.Body).Decode(&e)
	if err != nil || e.Status != api.StatusCompleted || e.ExitCode == nil || *e.ExitCode != 0 {
		return fmt.Errorf("exec/sync: %d %v %s %q", resp.StatusCode, err, e.Error, e.Stderr)
	}
	return nil
}

// async submits code through /exec/async (multipart, like python-executor).
func (s *server) async(code string) (string, error) {
	body, ctype, err := multipartProject([]file{{"main.py", code}})
	if err != nil {
		return "", err
	}
	resp, err := s.hc.Post(s.url+"/api/v1/exec/async", ctype, body)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var a api.Accepted
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("exec/async: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		return "", err
	}
	return a.ExecutionID, nil
}

func (s *server) health() (health, error) {
	var h health
	return h, s.getJSON("/health", &h)
}

// waitReady waits until every pool is full and, when want is set, every
// zygote runs (a zygote that fails is an error: the numbers would be the
// cold path's).
func (s *server) waitReady(ctx context.Context, wantZygotes bool) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		h, err := s.health()
		if err == nil && ready(h, wantZygotes) {
			return nil
		}
		if err == nil && wantZygotes && len(h.Zygotes) > 0 && h.Zygotes[0].Failing {
			return fmt.Errorf("%s: the zygote is failing (%s)", s.name, s.stderr)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: not ready in 60 s (health %+v, err %v)", s.name, h, err)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func ready(h health, wantZygotes bool) bool {
	for _, p := range h.Pool {
		if p.Ready < p.Size {
			return false
		}
	}
	if !wantZygotes {
		return true
	}
	if len(h.Zygotes) == 0 {
		return false
	}
	for _, z := range h.Zygotes {
		// Only the eager ones run from the start; one is enough.
		if z.Running {
			return true
		}
	}
	return false
}

// poolSize is the warm pool's size for the default interpreter (0: none).
func (s *server) poolSize() int {
	h, err := s.health()
	if err != nil || len(h.Pool) == 0 {
		return 0
	}
	return h.Pool[0].Size
}

// python finds the server's default interpreter on this host, for the bare
// baseline: the same binary the jails run.
func (s *server) python() (string, error) {
	var in api.Interpreters
	if err := s.getJSON("/api/v1/interpreters", &in); err != nil {
		return "", err
	}
	home, _ := os.UserHomeDir()
	for _, i := range in.Interpreters {
		if !i.Default && i.Series != in.Default && i.Version != in.Default {
			continue
		}
		p := filepath.Join(home, ".pyenv", "versions", i.Version, "bin", "python"+i.Series)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("the server's default interpreter is not under ~/.pyenv/versions (pass -python)")
}
