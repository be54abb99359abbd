package test

// Runs with network (network_disabled: false) against the real binary:
// what they reach and what they do not, DNS, a listener they open, a
// server without the NAT helper, and no NAT helper left after runs,
// timeouts, kills and a SIGKILL of the server. Every address contacted is
// one the test itself opened: a listener on the host's loopback, the
// server's own port, and addresses of a network namespace the test makes
// (jailtest.Outside).

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// netServer starts a server whose runs resolve through o's DNS server.
func netServer(t *testing.T, o *jailtest.Outside, env ...string) *Server {
	t.Helper()
	return startServer(t, append(netServerEnv(o), env...)...)
}

// netServerEnv: runs resolve through o's DNS server; no pool (every jail
// process is a request's).
func netServerEnv(o *jailtest.Outside) []string {
	return []string{"PYEXEC_JAIL_NETWORK_DNS=" + o.Addr.String(), "PYEXEC_POOL_SIZES="}
}

func networkOn() *api.Config { return &api.Config{NetworkDisabled: ptr(false)} }

// TestNetworkMatrix: from a run with network, the outside namespace and
// the test's DNS name are reachable; the host's loopback, the server's own
// port, a host address, a link-local address the host routes and the
// metadata address are not; a listener the run opens is not reachable
// from the host.
func TestNetworkMatrix(t *testing.T) {
	o := jailtest.NewOutside(t)
	networkMatrix(t, netServer(t, o), o)
}

// TestNetworkRootless: the same from a rootless server's runs (the NAT
// helper runs as an id of the user's range, in the user's namespace).
func TestNetworkRootless(t *testing.T) {
	o := jailtest.NewOutside(t)
	ru := newRootlessUser(t)
	s := ru.start(t, netServerEnv(o)...)
	networkMatrix(t, s.Server, o) // its stop checks that no process of the user's range is left
}

// networkMatrix runs the reach matrix on s (its runs resolve through o).
func networkMatrix(t *testing.T, s *Server, o *jailtest.Outside) {
	t.Helper()
	const name = "probe.pyexec-e2e.example"
	o.ServeDNS(t, name+".", o.Addr)
	serverPort := strings.TrimPrefix(s.URL, "http://127.0.0.1:")
	outPort, llPort := o.Listeners(t)
	targets := []struct {
		label, host string
		port        any
		reachable   bool
	}{
		{"outside", o.Addr.String(), outPort, true},
		{"dns", name, 0, true},
		{"host_loopback", "127.0.0.1", jailtest.GreetOn(t, netip.MustParseAddr("127.0.0.1"), "host-loopback"), false},
		{"server_port", "127.0.0.1", json.Number(serverPort), false},
		{"host_address", o.Host.String(), jailtest.GreetOn(t, o.Host, "host-address"), false},
		{"link_local", o.LinkLocal.String(), llPort, false},
		{"metadata", "169.254.169.254", 80, false},
	}
	var list [][]any
	for _, tg := range targets {
		list = append(list, []any{tg.label, tg.host, tg.port})
	}
	const runPort = 18778
	done := make(chan api.Execution, 1)
	go func() {
		done <- s.eval(t, api.EvalRequest{Code: jailtest.NetProbe(list, runPort, 4), Config: networkOn()})
	}()
	// While the run listens: nothing answers at its port on the host.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for _, addr := range []string{"127.0.0.1", o.Host.String()} {
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(addr, fmt.Sprint(runPort)), 200*time.Millisecond); err == nil {
				c.Close()
				t.Errorf("the run's listener answers on the host at %s:%d", addr, runPort)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	e := <-done
	line, rest, _ := strings.Cut(e.Stdout, "\n")
	if e.Status != api.StatusCompleted || rest != "listening\n" {
		t.Fatalf("run: %s", describe(e))
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("probe output %q: %v", line, err)
	}
	for _, tg := range targets {
		r := got[tg.label]
		ok := strings.HasPrefix(r, "ok ")
		if ok != tg.reachable {
			t.Errorf("%s (%s:%v): reachable %v, want %v (%q)", tg.label, tg.host, tg.port, ok, tg.reachable, r)
		}
		t.Logf("%-14s %s:%v -> %s", tg.label, tg.host, tg.port, r)
	}
	if got["dns"] != "ok "+o.Addr.String() {
		t.Errorf("dns: %q, want ok %s", got["dns"], o.Addr)
	}
	if h := s.health(t); !networkServed(h) {
		t.Errorf("/health does not say network is served: %+v", h.Enforced)
	}
}

// networkServed reads /health's "network" entry.
func networkServed(h api.Health) bool {
	if h.Enforced == nil {
		return false
	}
	for _, l := range h.Enforced.Limits {
		if l.Name == "network" {
			return l.Enforced
		}
	}
	return false
}

// TestNetworkNoHelper: a server whose NAT helper is missing starts, says
// in /health that network is unavailable and why, refuses runs with network with a 400 naming what is
// missing, and runs the rest.
func TestNetworkNoHelper(t *testing.T) {
	s := startServer(t, "PYEXEC_JAIL_NETWORK_HELPER=/nonexistent/pasta", "PYEXEC_POOL_SIZES=")
	h := s.health(t)
	var entry *api.LimitEnforcement
	for i, l := range h.Enforced.Limits {
		if l.Name == "network" {
			entry = &h.Enforced.Limits[i]
		}
	}
	// Enforced: runs with network are refused, none gets a network it
	// should not have; By says why.
	if entry == nil || !entry.Enforced || !strings.Contains(entry.By, "unavailable") ||
		!strings.Contains(entry.By, "pasta") || !strings.Contains(entry.By, "not found") {
		t.Errorf("/health network entry: %+v", entry)
	}
	body, _ := json.Marshal(api.EvalRequest{Code: "print(1)", Config: networkOn()})
	r := s.do(t, http.MethodPost, "/api/v1/eval", "application/json", strings.NewReader(string(body)))
	msg := errorBody(t, r, http.StatusBadRequest)
	if !strings.Contains(msg, "pasta") || !strings.Contains(msg, "passt") || strings.Contains(msg, "/nonexistent") {
		t.Errorf("error %q: want it to name the missing helper (and no path)", msg)
	}
	if e := s.eval(t, api.EvalRequest{Code: "print(1)"}); e.Status != api.StatusCompleted || e.Stdout != "1\n" {
		t.Errorf("run without network: %s", describe(e))
	}
}

// TestNetworkNoLeftovers: runs with network that end every way (done,
// error, timeout, killed by DELETE) leave no NAT helper; nor does a
// SIGKILL of the server with such runs going (the parent-death signal, or
// the next start's sweep).
func TestNetworkNoLeftovers(t *testing.T) {
	o := jailtest.NewOutside(t)
	s := netServer(t, o)
	cfg := networkOn()
	for _, code := range []string{"print('ok')", "raise SystemExit(3)"} {
		if e := s.eval(t, api.EvalRequest{Code: code, Config: cfg}); e.Status == api.StatusFailed {
			t.Fatalf("%q: %s", code, describe(e))
		}
	}
	timeout := &api.Config{NetworkDisabled: ptr(false), TimeoutSeconds: ptr(1)}
	if e := s.eval(t, api.EvalRequest{Code: "import time\ntime.sleep(30)", Config: timeout}); e.Status != api.StatusFailed || !strings.Contains(e.Error, "timed out") {
		t.Errorf("timeout run: %s", describe(e))
	}
	meta := entry
	meta.Config = cfg
	id := s.execAsync(t, mainPy("import time\nprint('up', flush=True)\ntime.sleep(60)"), meta)
	waitRunning(t, s, id)
	waitHelpers(t, s, 1)
	if r := s.kill(t, id); r.Status != http.StatusOK {
		t.Fatalf("DELETE %s: %d %s", id, r.Status, r.Body)
	}
	if left := s.waitNoLeftovers(5*time.Second, false); len(left) > 0 {
		t.Errorf("after runs with network, left: %v", left)
	}

	// Two runs with network going (their code started), then SIGKILL of
	// the server: the helpers die with it (parent-death signal), their
	// records stay, and the next start sweeps those.
	for range 2 {
		id := s.execAsync(t, mainPy("import time\nprint('up', flush=True)\ntime.sleep(60)"), meta)
		waitStdout(t, s, id, "up\n")
	}
	waitHelpers(t, s, 2)
	// restart fails when a jail process (a helper too) outlived the server.
	s.restart(t, syscall.SIGKILL, netServerEnv(o)...)
	if left := s.waitNoLeftovers(5*time.Second, false); len(left) > 0 {
		t.Errorf("after a SIGKILL and a restart, left: %v", left)
	}
	if e := s.eval(t, api.EvalRequest{Code: "print('again')", Config: cfg}); e.Stdout != "again\n" {
		t.Errorf("after the restart: %s", describe(e))
	}
}

// waitHelpers waits until n NAT helpers of s run (at most 10 s).
func waitHelpers(t *testing.T, s *Server, n int) {
	t.Helper()
	waitProcsBy(t, s, n, "NAT helpers", jailtest.IsNATHelper)
}

// waitStdout waits until the running execution id has written want (at
// most 10 s): its code runs.
func waitStdout(t *testing.T, s *Server, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, e := s.get(t, id, 0)
		if e.Stdout == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("execution %s: %s, want stdout %q", id, describe(e), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitProcsBy(t *testing.T, s *Server, n int, what string, match func(string) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := 0
		for _, p := range s.jailProcs() {
			if match(p) {
				got++
			}
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d %s running, want %d: %v", got, what, n, s.jailProcs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
