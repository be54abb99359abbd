package jail_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/jail/jailtest"
)

type netTarget struct {
	label, host string
	port        int
	reachable   bool
}

// netMatrix opens the test's listeners (host loopback, a host address,
// the outside namespace, a link-local address routed from the host) and
// its DNS server, and returns the targets a run tries.
func netMatrix(t *testing.T, o *jailtest.Outside, dnsName string) []netTarget {
	t.Helper()
	loopPort := jailtest.GreetOn(t, netip.MustParseAddr("127.0.0.1"), "host-loopback")
	hostPort := jailtest.GreetOn(t, o.Host, "host-address")
	outPort, llPort := o.Listeners(t)
	o.ServeDNS(t, dnsName, o.Addr)
	return []netTarget{
		{"outside", o.Addr.String(), outPort, true},
		{"dns", strings.TrimSuffix(dnsName, "."), 0, true},
		{"host_loopback", "127.0.0.1", loopPort, false},
		{"host_address", o.Host.String(), hostPort, false},
		{"link_local", o.LinkLocal.String(), llPort, false},
		{"metadata", "169.254.169.254", 80, false},
		{"metadata_v6", "fd00:ec2::254", 80, false},
		{"link_local_v6", "fe80::1%eth0", 80, false},
	}
}

// targetList is ts as jailtest.NetProbe takes them.
func targetList(ts []netTarget) [][]any {
	var list [][]any
	for _, tg := range ts {
		list = append(list, []any{tg.label, tg.host, tg.port})
	}
	return list
}

// checkMatrix compares a probe's output line with the targets.
func checkMatrix(t *testing.T, line string, ts []netTarget, dnsWant string) {
	t.Helper()
	var got map[string]string
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("probe output %q: %v", line, err)
	}
	for _, tg := range ts {
		r := got[tg.label]
		ok := strings.HasPrefix(r, "ok ")
		switch {
		case tg.reachable && !ok:
			t.Errorf("%s (%s:%d): want reachable, got %q", tg.label, tg.host, tg.port, r)
		case !tg.reachable && ok:
			t.Errorf("%s (%s:%d): want unreachable, got %q", tg.label, tg.host, tg.port, r)
		case tg.label == "dns" && r != "ok "+dnsWant:
			t.Errorf("dns: got %q, want ok %s", r, dnsWant)
		}
		t.Logf("%-14s %-22s %s", tg.label, fmt.Sprintf("%s:%d", tg.host, tg.port), r)
	}
}

// newNetManager makes a Manager of its own (state dir, cgroup parent, ids)
// with cfg; t's cleanup stops it and checks that it left nothing: no
// processes of its ids (NAT helpers run as a slot's root id), no traces.
func newNetManager(t *testing.T, name string, cfg jail.NetConfig) *jail.Manager {
	t.Helper()
	e := testEnv(t)
	cg, err := cgroup.NewManager(testCgroupParent(name))
	if err != nil {
		t.Fatal(err)
	}
	state := testStateDir(name)
	m, err := jail.New(jail.Config{
		StateDir: state, HostIDBase: netIDBase, HostIDCount: idCount(), Mounts: e.interp.Mounts(),
		Files:   map[string][]byte{interpreters.BootstrapPath: interpreters.Bootstrap},
		Network: cfg,
	}, cg)
	if err != nil {
		_ = cg.RemoveParent()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.KillAll()
		if err := m.Close(); err != nil {
			t.Error(err)
		}
		if procs := sandboxProcs(t, netIDBase); len(procs) > 0 {
			t.Errorf("processes left: %v", procs)
		}
		if left := traces(t, state, testCgroupParent(name)); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
		if err := cg.RemoveParent(); err != nil {
			t.Error(err)
		}
	})
	return m
}

// TestNetworkMatrix: a run with network reaches an outside address and
// the test's DNS server, and not the host's loopback, a host address, a
// link-local address the host routes, or the metadata address; a listener
// it opens is not reachable from the host.
func TestNetworkMatrix(t *testing.T) {
	o := jailtest.NewOutside(t)
	m := newNetManager(t, "pyexec-net-test", jail.NetConfig{DNS: []netip.Addr{o.Addr}})
	e := testEnv(t)
	const name = "probe.pyexec-test.example."
	ts := netMatrix(t, o, name)
	spec := e.python(t, "3.12", jailtest.NetProbe(targetList(ts), 18777, 30))
	spec.Network = true
	spec.Limits.Timeout = 60 * time.Second
	j, err := m.Start(spec)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Kill()
	deadline := time.Now().Add(45 * time.Second)
	for !strings.Contains(j.Output().Stdout, "listening") {
		if time.Now().After(deadline) {
			t.Fatalf("probe: %+v", j.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	line, _, _ := strings.Cut(j.Output().Stdout, "\n")
	checkMatrix(t, line, ts, o.Addr.String())
	for _, addr := range []string{"127.0.0.1:18777", netip.AddrPortFrom(o.Host, 18777).String()} {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("the run's listener is reachable from the host at %s", addr)
		}
	}
	j.Kill()
	res, err := j.Wait()
	if err != nil || !res.Killed {
		t.Fatalf("wait: %+v %v", res, err)
	}
}

// TestNetworkAllowCIDR: a range the operator allows is reachable although
// it is denied by default; the host's own addresses stay unreachable.
func TestNetworkAllowCIDR(t *testing.T) {
	o := jailtest.NewOutside(t)
	m := newNetManager(t, "pyexec-net-test", jail.NetConfig{DNS: []netip.Addr{o.Addr},
		AllowCIDRs: []netip.Prefix{netip.PrefixFrom(o.LinkLocal, 32)}})
	e := testEnv(t)
	ts := netMatrix(t, o, "probe.pyexec-test.example.")
	for i := range ts {
		if ts[i].label == "link_local" {
			ts[i].reachable = true
		}
	}
	spec := e.python(t, "3.12", jailtest.NetProbe(targetList(ts), 0, 0))
	spec.Network = true
	res, err := m.Run(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	checkMatrix(t, strings.TrimSpace(string(res.Stdout)), ts, o.Addr.String())
}

// TestNetworkNoHelper: without the NAT helper the Manager starts, says why
// runs with network are refused, and refuses them; other runs run.
func TestNetworkNoHelper(t *testing.T) {
	e := testEnv(t)
	m := newNetManager(t, "pyexec-nonet-test", jail.NetConfig{Helper: "/nonexistent/pasta"})
	if err := m.NetworkStatus(); !errors.Is(err, jail.ErrNoNetwork) || !strings.Contains(err.Error(), `"pasta" was not found`) {
		t.Fatalf("NetworkStatus: %v", err)
	}
	spec := e.python(t, "3.12", "print('x')")
	spec.Network = true
	if _, err := m.Run(context.Background(), spec); !errors.Is(err, jail.ErrNoNetwork) {
		t.Fatalf("run with network: %v", err)
	}
	spec.Network = false
	if res, err := m.Run(context.Background(), spec); err != nil || string(res.Stdout) != "x\n" {
		t.Fatalf("run without network: %+v %v", res, err)
	}
}

// TestNetSweep: a NAT helper whose server died without killing it (its
// record left in the state dir) is killed by the next Manager's start;
// a record whose pid now belongs to another process is only removed.
func TestNetSweep(t *testing.T) {
	requireJail(t)
	const name = "pyexec-netsweep-test"
	state := testStateDir(name)
	if err := os.MkdirAll(filepath.Join(state, "net"), 0o700); err != nil {
		t.Fatal(err)
	}
	stray := exec.Command("/bin/sleep", "100")
	if err := stray.Start(); err != nil {
		t.Fatal(err)
	}
	defer stray.Process.Kill()
	var stat string
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", stray.Process.Pid)); err == nil {
		stat = string(b)
	}
	f := strings.Fields(stat[strings.LastIndexByte(stat, ')')+1:])
	records := map[string]string{
		"jdead":   fmt.Sprintf("%d %s\n", stray.Process.Pid, f[19]),
		"jreused": fmt.Sprintf("%d 1\n", os.Getpid()), // this process: another start time
	}
	for id, rec := range records {
		if err := os.WriteFile(filepath.Join(state, "net", id), []byte(rec), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newNetManager(t, name, jail.NetConfig{})
	done := make(chan error, 1)
	go func() { done <- stray.Wait() }()
	select {
	case err := <-done:
		if ws, ok := stray.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Errorf("the stray helper ended with %v, want SIGKILL", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stray helper survived the sweep")
	}
	if left, _ := os.ReadDir(filepath.Join(state, "net")); len(left) > 0 {
		t.Errorf("records left: %v", left)
	}
}
