// Command bench measures pyexec against the real server binary and prints
// one table: bare Python, cold and warm jails (server duration_ms and HTTP
// client latency), throughput at several concurrencies, concurrent async
// runs finished via long-poll, and idle memory, beside python-executor's
// published figures. `make bench` runs it; -quick finishes in under a
// minute.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pyexec/pyexec/client/api"
)

// python-executor's published figures (Docker, same API).
const (
	seedTrivialMS     = 290.0
	seedConcurrent5   = 1105.0
	seedRunsPerSecond = 4.0
)

type options struct {
	bin, python   string
	runs          int
	throughputFor time.Duration
	quick         bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/pyexecd", "server binary")
	flag.StringVar(&o.python, "python", "", "bare python for the baseline (default: the server's 3.12)")
	flag.IntVar(&o.runs, "runs", 200, "runs per latency measurement")
	flag.DurationVar(&o.throughputFor, "throughput-for", 5*time.Second, "duration of each throughput measurement")
	flag.BoolVar(&o.quick, "quick", false, "fewer runs: under a minute")
	flag.Parse()
	if o.quick {
		o.runs, o.throughputFor = 60, 2*time.Second
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type row struct {
	name, value, seed, ratio string
}

func run(o options) error {
	var rows []row
	add := func(name, value string) { rows = append(rows, row{name: name, value: value}) }

	// Cold: a server without warm jails.
	cold, err := start(o.bin, 1, "PYEXEC_POOL_SIZES=3.12=0")
	if err != nil {
		return err
	}
	coldRSS := cold.rss()
	py := o.python
	if py == "" {
		py = pythonOf(cold)
	}
	bare := timeN(o.runs, func() error { return exec.Command(py, "-c", "pass").Run() })
	add("bare `python3 -c pass` (no jail)", pct(bare))
	srv, cli, err := evalN(cold, o.runs, 0)
	if err != nil {
		cold.stop()
		return err
	}
	add("cold jail: server duration_ms", pct(srv))
	rows = append(rows, row{"cold jail: client latency over HTTP", pct(cli), fmt.Sprintf("%.0f ms", seedTrivialMS), ratio(seedTrivialMS, p(cli, 50))})
	cold.stop()

	// Warm: a server with a pool; each run waits for the pool to refill so
	// that every sample is a warm run.
	warm, err := start(o.bin, 2, "PYEXEC_POOL_SIZES=3.12=4")
	if err != nil {
		return err
	}
	defer warm.stop()
	if err := warm.waitPool(4); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	warmRSS, jailMem := warm.rss(), warm.pooledJailMemory()
	srv, cli, err = evalN(warm, o.runs, 4)
	if err != nil {
		return err
	}
	add("warm jail: server duration_ms", pct(srv))
	rows = append(rows, row{"warm jail: client latency over HTTP", pct(cli), fmt.Sprintf("%.0f ms", seedTrivialMS), ratio(seedTrivialMS, p(cli, 50))})
	_, replLat, err := evalReq(warm, o.runs, 4, api.EvalRequest{Code: "x = 5\ny = 10\nx + y", EvalLastExpr: true})
	if err != nil {
		return err
	}
	add("warm jail: eval_last_expr (`x + y`) client latency", pct(replLat))
	syncLat, err := execSyncN(warm, o.runs, 4)
	if err != nil {
		return err
	}
	add("warm jail: /exec/sync (tar + metadata) client latency", pct(syncLat))
	streamFirst, streamLag, err := streamN(warm, o.runs, 4)
	if err != nil {
		return err
	}
	add("warm jail: streamed /eval, request to first stdout event", pct(streamFirst))
	add("streamed /eval: flushed print to its stdout event", pct(streamLag))

	for _, c := range []int{1, 4, 16} {
		rate, warmShare, err := throughput(warm, c, o.throughputFor)
		if err != nil {
			return err
		}
		r := row{name: fmt.Sprintf("trivial /eval throughput, concurrency %d", c),
			value: fmt.Sprintf("%.0f runs/s (%.0f%% warm)", rate, 100*warmShare)}
		if c == 4 {
			r.seed, r.ratio = fmt.Sprintf("~%.0f runs/s", seedRunsPerSecond), fmt.Sprintf("x%.0f", rate/seedRunsPerSecond)
		}
		rows = append(rows, r)
	}
	for _, n := range []int{5, 10} {
		if err := warm.waitPool(4); err != nil {
			return err
		}
		d, err := concurrentAsync(warm, n)
		if err != nil {
			return err
		}
		r := row{name: fmt.Sprintf("%d concurrent async runs, all finished (long-poll)", n), value: ms(d)}
		if n == 5 {
			r.seed, r.ratio = fmt.Sprintf("%.0f ms", seedConcurrent5), ratio(seedConcurrent5, float64(d.Microseconds())/1000)
		}
		rows = append(rows, r)
	}
	add("server RSS idle, pool off", mb(coldRSS))
	add("server RSS idle, pool on (4 warm jails)", mb(warmRSS))
	add("memory per pooled jail (cgroup usage)", mb(jailMem))

	printTable(rows, o)
	return nil
}

func printTable(rows []row, o options) {
	w := [3]int{len("measure"), len("pyexec p50 / p90 / p99"), len("python-executor")}
	for _, r := range rows {
		w[0], w[1], w[2] = max(w[0], len(r.name)), max(w[1], len(r.value)), max(w[2], len(r.seed))
	}
	line := func(a, b, c, d string) {
		fmt.Printf("| %-*s | %-*s | %-*s | %s |\n", w[0], a, w[1], b, w[2], c, d)
	}
	fmt.Printf("\npyexec bench: %d runs per latency row, throughput over %v, %d CPUs, %s\n\n", o.runs, o.throughputFor, numCPU(), time.Now().UTC().Format(time.RFC3339))
	line("measure", "pyexec p50 / p90 / p99", "python-executor", "ratio")
	fmt.Printf("|%s|%s|%s|---|\n", strings.Repeat("-", w[0]+2), strings.Repeat("-", w[1]+2), strings.Repeat("-", w[2]+2))
	for _, r := range rows {
		line(r.name, r.value, r.seed, r.ratio)
	}
}

// --- measurements ---

func timeN(n int, f func() error) []time.Duration {
	var ds []time.Duration
	for i := 0; i < n; i++ {
		start := time.Now()
		if err := f(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			continue
		}
		ds = append(ds, time.Since(start))
	}
	return ds
}

// evalN runs n trivial /evals one after the other. With pool > 0 it waits
// before each until the pool is full again.
func evalN(s *server, n, pool int) (srv, cli []time.Duration, err error) {
	return evalReq(s, n, pool, api.EvalRequest{Code: "pass"})
}

// evalReq runs req n times, one after the other, like evalN.
func evalReq(s *server, n, pool int, req api.EvalRequest) (srv, cli []time.Duration, err error) {
	for i := 0; i < n; i++ {
		if pool > 0 {
			if err := s.waitPool(pool); err != nil {
				return nil, nil, err
			}
		}
		start := time.Now()
		e, err := s.evalRequest(req)
		if err != nil {
			return nil, nil, err
		}
		cli = append(cli, time.Since(start))
		srv = append(srv, time.Duration(e.DurationMS)*time.Millisecond+durationFraction(e))
	}
	return srv, cli, nil
}

// execSyncN runs n trivial /exec/sync requests (multipart tar + metadata,
// as python-executor's clients send them), each on a full pool.
func execSyncN(s *server, n, pool int) ([]time.Duration, error) {
	var cli []time.Duration
	for i := 0; i < n; i++ {
		if err := s.waitPool(pool); err != nil {
			return nil, err
		}
		body, ctype, err := multipartProject("pass")
		if err != nil {
			return nil, err
		}
		start := time.Now()
		resp, err := s.hc.Post(s.url+"/api/v1/exec/sync", ctype, body)
		if err != nil {
			return nil, err
		}
		var e api.Execution
		err = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if err != nil || e.Status != api.StatusCompleted {
			return nil, fmt.Errorf("exec/sync: %d %v %s", resp.StatusCode, err, e.Error)
		}
		cli = append(cli, time.Since(start))
	}
	return cli, nil
}

// durationFraction: duration_ms is whole milliseconds; the record's
// started/finished timestamps carry the rest.
func durationFraction(e *api.Execution) time.Duration {
	if e.StartedAt == nil || e.FinishedAt == nil {
		return 0
	}
	d := e.FinishedAt.Sub(*e.StartedAt)
	return d - d.Truncate(time.Millisecond)
}

func throughput(s *server, conc int, dur time.Duration) (float64, float64, error) {
	_ = s.waitPool(4)
	before := s.poolServed()
	var done atomic.Int64
	var firstErr atomic.Value
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := s.eval(context.Background(), "pass"); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return 0, 0, err
	}
	n := float64(done.Load())
	return n / elapsed.Seconds(), float64(s.poolServed()-before) / n, nil
}

func concurrentAsync(s *server, n int) (time.Duration, error) {
	start := time.Now()
	ids := make([]string, n)
	for i := range ids {
		id, err := s.async(fmt.Sprintf("print(%d)", i))
		if err != nil {
			return 0, err
		}
		ids[i] = id
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var e api.Execution
				if err := s.getJSON("/api/v1/executions/"+id+"?wait=10", &e); err != nil {
					errs <- err
					return
				}
				if e.Finished() {
					if e.Status != api.StatusCompleted {
						errs <- fmt.Errorf("async run %s: %s", id, e.Status)
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// --- formatting ---

func p(ds []time.Duration, q float64) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q / 100 * float64(len(s)-1))
	return float64(s[i].Microseconds()) / 1000
}

func pct(ds []time.Duration) string {
	return fmt.Sprintf("%.1f / %.1f / %.1f ms", p(ds, 50), p(ds, 90), p(ds, 99))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func mb(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

func ratio(seed, ours float64) string {
	if ours <= 0 {
		return ""
	}
	return fmt.Sprintf("x%.0f faster", seed/ours)
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// --- the server under test ---

type server struct {
	cmd    *exec.Cmd
	url    string
	state  string
	cg     string
	stderr *bytes.Buffer
	hc     *http.Client
}

func start(bin string, n int, env ...string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &server{
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
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var h api.Health
		if s.getJSON("/health", &h) == nil && h.Status == "ok" {
			return s, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("server did not answer /health: %s", s.stderr)
}

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

func (s *server) eval(_ context.Context, code string) (*api.Execution, error) {
	return s.evalRequest(api.EvalRequest{Code: code})
}

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

// async submits code through /exec/async (multipart, like python-executor).
func (s *server) async(code string) (string, error) {
	body, ctype, err := multipartProject(code)
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

func (s *server) health() (api.Health, error) {
	var h api.Health
	return h, s.getJSON("/health", &h)
}

func (s *server) waitPool(size int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		h, err := s.health()
		if err == nil && len(h.Pool) > 0 && h.Pool[0].Ready >= min(size, h.Pool[0].Size) {
			return nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return errors.New("warm pool did not fill in 30 s")
}

func (s *server) poolServed() int64 {
	h, err := s.health()
	if err != nil || len(h.Pool) == 0 {
		return 0
	}
	return h.Pool[0].Served
}

func (s *server) rss() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// pooledJailMemory is the mean memory.usage of the server's jail groups
// (all idle pooled jails while nothing runs).
func (s *server) pooledJailMemory() int64 {
	files, _ := filepath.Glob("/sys/fs/cgroup/memory/" + s.cg + "/*/memory.usage_in_bytes")
	if len(files) == 0 { // cgroup v2
		files, _ = filepath.Glob("/sys/fs/cgroup/" + s.cg + "/*/memory.current")
	}
	var sum int64
	for _, f := range files {
		b, _ := os.ReadFile(f)
		v, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		sum += v
	}
	if len(files) == 0 {
		return 0
	}
	return sum / int64(len(files))
}

// pythonOf asks the server for its default interpreter and finds it.
func pythonOf(s *server) string {
	var in api.Interpreters
	if err := s.getJSON("/api/v1/interpreters", &in); err == nil {
		home, _ := os.UserHomeDir()
		for _, v := range []string{in.Default} {
			for _, cand := range []string{
				filepath.Join(home, ".pyenv", "versions"),
			} {
				matches, _ := filepath.Glob(filepath.Join(cand, v+"*", "bin", "python3"))
				if len(matches) > 0 {
					return matches[0]
				}
			}
		}
	}
	return "python3"
}
