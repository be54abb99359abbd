package jailtest

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/vishvananda/netns"
	"golang.org/x/net/dns/dnsmessage"
)

// Outside is a network namespace a test makes to play "the outside" for
// runs with network: a veth pair joins it to the host, with a benchmark
// address (198.18.0.0/15, in no range the jails deny) on each end, and a
// link-local address on its end that the host routes to it (which runs
// must not reach). Runs with network need it on a host without an IPv4
// default route (see NewOutside).
type Outside struct {
	Name      string
	Host      netip.Addr // the host's end of the veth (a host address)
	Addr      netip.Addr // the namespace's end: "an outside address"
	LinkLocal netip.Addr // also the namespace's, routed from the host
	ns        netns.NsHandle
}

// NewOutside makes the namespace; t's cleanup removes it. It takes host
// root: a test that is not root of the host's user namespace (the jail
// tests run rootless, test/rootless-jail.sh, which leaves NewOutside's
// callers to the root pass) fails. A test that only needs the host's
// default route calls NeedDefaultRoute.
func NewOutside(t testing.TB) *Outside {
	t.Helper()
	if !HostRoot() {
		t.Fatal("rootless: making an outside namespace takes host root")
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	n := 1 + int(binary.BigEndian.Uint16(b[:2]))%250
	id := fmt.Sprintf("%x", b)
	o := &Outside{
		Name:      "pxo" + id,
		Host:      netip.AddrFrom4([4]byte{198, 18, byte(n), 1}),
		Addr:      netip.AddrFrom4([4]byte{198, 18, byte(n), 2}),
		LinkLocal: netip.AddrFrom4([4]byte{169, 254, 77, byte(n)}),
	}
	hostIf, nsIf := "pxh"+id, "pxn"+id
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("netns", "add", o.Name)
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", hostIf).Run()
		_ = exec.Command("ip", "netns", "del", o.Name).Run()
		if o.ns.IsOpen() {
			o.ns.Close()
		}
	})
	ip("link", "add", hostIf, "type", "veth", "peer", "name", nsIf)
	ip("link", "set", nsIf, "netns", o.Name)
	ip("addr", "add", o.Host.String()+"/30", "dev", hostIf)
	ip("link", "set", hostIf, "up")
	ip("-n", o.Name, "addr", "add", o.Addr.String()+"/30", "dev", nsIf)
	ip("-n", o.Name, "addr", "add", o.LinkLocal.String()+"/32", "dev", nsIf)
	ip("-n", o.Name, "link", "set", nsIf, "up")
	ip("-n", o.Name, "link", "set", "lo", "up")
	ip("-n", o.Name, "route", "add", "default", "via", o.Host.String())
	ip("route", "add", o.LinkLocal.String()+"/32", "dev", hostIf)
	// The NAT helper needs a host interface with an IPv4 default route. A
	// host without one (CI's cgroup v2 guest has loopback only) gets one
	// through this namespace, for as long as the veth lives; a host that
	// has one keeps its routes as they are.
	if !hasDefaultRoute() {
		ip("route", "add", "default", "via", o.Addr.String(), "dev", hostIf)
	}
	h, err := netns.GetFromName(o.Name)
	if err != nil {
		t.Fatalf("open netns %s: %v", o.Name, err)
	}
	o.ns = h
	return o
}

// in runs f with the calling thread in the namespace: sockets f makes
// stay in it.
func (o *Outside) in(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	if err := netns.Set(o.ns); err != nil {
		runtime.UnlockOSThread()
		return err
	}
	ferr := f()
	if err := netns.Set(orig); err != nil {
		return err // the thread stays locked and dies with its goroutine
	}
	runtime.UnlockOSThread()
	return ferr
}

// Listen opens a TCP listener in the namespace at addr ("ip:port"); each
// connection gets greeting and is closed. t's cleanup closes it.
func (o *Outside) Listen(t testing.TB, addr, greeting string) net.Listener {
	t.Helper()
	var ln net.Listener
	if err := o.in(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("listen in %s at %s: %v", o.Name, addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	go Greet(ln, greeting)
	return ln
}

// Greet writes greeting to every connection ln accepts, and closes it.
func Greet(ln net.Listener, greeting string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write([]byte(greeting))
		c.Close()
	}
}

// ServeDNS answers A queries for name (fully qualified, "x.example.")
// with answer, at port 53 of the namespace's address, over UDP; every
// other name gets NXDOMAIN. t's cleanup stops it.
func (o *Outside) ServeDNS(t testing.TB, name string, answer netip.Addr) {
	t.Helper()
	var pc net.PacketConn
	addr := netip.AddrPortFrom(o.Addr, 53).String()
	if err := o.in(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatalf("dns in %s: %v", o.Name, err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out, ok := dnsAnswer(buf[:n], name, answer); ok {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
}

func dnsAnswer(query []byte, name string, answer netip.Addr) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(query)
	if err != nil {
		return nil, false
	}
	q, err := p.Question()
	if err != nil {
		return nil, false
	}
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	known := strings.EqualFold(q.Name.String(), name)
	if !known {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(q) != nil {
		return nil, false
	}
	if known && q.Type == dnsmessage.TypeA {
		if b.StartAnswers() != nil ||
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: answer.As4()}) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

// IsNATHelper reports whether p (a "pid:comm" of Procs) is a NAT helper:
// pasta, which may run as passt or passt.avx2.
func IsNATHelper(p string) bool {
	_, comm, _ := strings.Cut(p, ":")
	return comm == "pasta" || strings.HasPrefix(comm, "passt")
}

// NeedDefaultRoute makes sure the host has the IPv4 default route that
// runs with network need (the NAT helper's). A host without one gets one
// through an Outside (see NewOutside) for as long as t runs; a test that
// is not host root cannot make one (test/rootless-jail.sh does, before the
// tests) and fails.
func NeedDefaultRoute(t testing.TB) {
	t.Helper()
	if hasDefaultRoute() {
		return
	}
	if !HostRoot() {
		t.Fatal("rootless: the host has no IPv4 default route, and making one takes host root")
	}
	NewOutside(t)
}

// hasDefaultRoute reports whether the host's namespace has an IPv4
// default route.
func hasDefaultRoute() bool {
	out, err := exec.Command("ip", "-4", "route", "show", "default").Output()
	return err != nil || strings.TrimSpace(string(out)) != ""
}

// HostRoot reports whether this process is root of the host's user
// namespace (not the root of one mapped onto a user's sub-ids).
func HostRoot() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	f := strings.Fields(string(b))
	return err == nil && os.Geteuid() == 0 && len(f) == 3 && f[0] == "0" && f[1] == "0" && f[2] == "4294967295"
}
