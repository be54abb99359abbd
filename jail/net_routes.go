package jail

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Routing of a run's network namespace. Rule netRulePref sends every
// lookup to table netDenyTable first: its prohibit routes (denied ranges,
// the host's addresses) answer EACCES at once, its throw routes (allowed
// ranges) fall through to the main table, whose only route is the default
// via the helper's gateway. Rules before it let DNS (port 53 of the
// resolvers) through. The run has no capability in its namespace, so it
// cannot change any of this.
const (
	netDenyTable = 200
	netDNSPref   = 100
	netRulePref  = 200
)

// netRoutes configures the run's namespace netnsFile (the helper's tap
// exists). The server may: it has every capability over the run's user
// namespace, which owns the network namespace.
func (m *Manager) netRoutes(netnsFile *os.File) error {
	hostAddrs, err := hostAddresses()
	if err != nil {
		return err
	}
	h, err := handleAt(netnsFile)
	if err != nil {
		return fmt.Errorf("netlink in the run's namespace: %w", err)
	}
	defer h.Close()
	fail := func(what string, err error) error { return fmt.Errorf("jail network: %s: %w", what, err) }

	link, err := h.LinkByName(netIfName)
	if err != nil {
		return fail("find the helper's tap", err)
	}
	if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(netGuest, 32))}); err != nil {
		return fail("address", err)
	}
	if err := h.LinkSetUp(link); err != nil {
		return fail("tap up", err)
	}
	if err := h.RouteAdd(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: net.IP(netGateway.AsSlice()),
		Flags: int(netlink.FLAG_ONLINK), Scope: netlink.SCOPE_UNIVERSE}); err != nil {
		return fail("default route", err)
	}
	for _, r := range denyRoutes(hostAddrs, m.cfg.Network.AllowCIDRs) {
		if err := h.RouteAdd(r); err != nil {
			return fail("route "+r.Dst.String(), err)
		}
	}
	for _, r := range netRules(m.cfg.Network.DNS) {
		if err := h.RuleAdd(r); err != nil {
			return fail("rule", err)
		}
	}
	return nil
}

// denyRoutes are table netDenyTable's routes: prohibit for every denied
// range and host address, throw for the allowed ranges, and all of IPv6
// unreachable.
// handleAt opens a netlink handle in the run's namespace f. netlink
// enters the namespace on a locked thread and then switches back, which a
// rootless server may not do (the host's namespace is the initial user
// namespace's): the thread would go back to Go's pool inside the run's
// namespace. So it runs on a goroutine that keeps its thread locked, and
// Go ends that thread with it.
func handleAt(f *os.File) (*netlink.Handle, error) {
	type result struct {
		h   *netlink.Handle
		err error
	}
	c := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked, on purpose
		h, err := netlink.NewHandleAt(netns.NsHandle(int(f.Fd())), unix.NETLINK_ROUTE)
		c <- result{h, err}
	}()
	r := <-c
	return r.h, r.err
}

func denyRoutes(hostAddrs []netip.Addr, allow []netip.Prefix) []*netlink.Route {
	var out []*netlink.Route
	route := func(p netip.Prefix, typ int) {
		out = append(out, &netlink.Route{Dst: ipNet(p), Table: netDenyTable, Type: typ, Family: family(p.Addr())})
	}
	seen := map[netip.Prefix]bool{}
	for _, p := range allow {
		p = p.Masked()
		seen[p] = true
		route(p, unix.RTN_THROW)
	}
	for _, p := range deniedPrefixes {
		if !seen[p] {
			seen[p] = true
			route(p, unix.RTN_PROHIBIT)
		}
	}
	for _, a := range hostAddrs {
		if p := netip.PrefixFrom(a, a.BitLen()); a.Is4() && !seen[p] {
			seen[p] = true
			route(p, unix.RTN_PROHIBIT)
		}
	}
	route(netip.MustParsePrefix("::/0"), unix.RTN_UNREACHABLE)
	return out
}

// netRules: DNS to the resolvers (UDP and TCP port 53, or UDP to the
// gateway's forward) goes to the main table; everything else looks at
// the deny table first.
func netRules(dns []netip.Addr) []*netlink.Rule {
	var out []*netlink.Rule
	port53 := func(a netip.Addr, proto int) {
		r := netlink.NewRule()
		r.Priority, r.Table, r.Family = netDNSPref, unix.RT_TABLE_MAIN, unix.AF_INET
		r.Dst = ipNet(netip.PrefixFrom(a, 32))
		r.IPProto, r.Dport = proto, netlink.NewRulePortRange(53, 53)
		out = append(out, r)
	}
	if len(dns) == 0 {
		port53(netGateway, unix.IPPROTO_UDP)
	}
	for _, a := range dns {
		if a.Is4() {
			port53(a, unix.IPPROTO_UDP)
			port53(a, unix.IPPROTO_TCP)
		}
	}
	for _, fam := range []int{unix.AF_INET, unix.AF_INET6} {
		r := netlink.NewRule()
		r.Priority, r.Table, r.Family = netRulePref, netDenyTable, fam
		out = append(out, r)
	}
	return out
}

// hostAddresses are the addresses of the server's network namespace (the
// host's, where the helper's sockets live), read per run so that an
// address added later is covered too.
func hostAddresses() ([]netip.Addr, error) {
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, fmt.Errorf("list the host's addresses: %w", err)
	}
	var out []netip.Addr
	for _, a := range addrs {
		if ip, ok := netip.AddrFromSlice(a.IP); ok {
			out = append(out, ip.Unmap())
		}
	}
	return out, nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func family(a netip.Addr) int {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}
