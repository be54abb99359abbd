package jail

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
)

// NetConfig is how runs with network (Spec.Network) reach the outside:
// each such run has a network namespace of its own, joined to the host
// by a user-mode NAT helper (pasta, from Debian's passt) that makes the
// run's connections from ordinary host sockets. The run's namespace routes
// nothing to the host's own addresses, loopback, link-local (metadata),
// private and multicast ranges (see deniedPrefixes) unless AllowCIDRs
// lists them, and has no IPv6.
type NetConfig struct {
	// Helper is the pasta binary: a path, or a name looked up in PATH.
	// Empty: "pasta". When it cannot be found, runs with network are
	// refused (NetworkStatus says why); the Manager still starts.
	Helper string
	// AllowCIDRs are IPv4 ranges a run may reach although they are in a
	// denied range (a private package index, say). A host address stays
	// unreachable unless listed with a longer or equal prefix.
	AllowCIDRs []netip.Prefix
	// DNS are the resolvers runs use, reached through the NAT like any
	// other address (port 53 of these is reachable even in a denied
	// range). Empty: runs ask the namespace's gateway, and pasta forwards
	// that to the first nameserver of the host's /etc/resolv.conf.
	DNS []netip.Addr
}

// The address plan of a run's network namespace: the tap's address and
// the gateway pasta answers for. Both are link-local, so that the denied
// 169.254.0.0/16 covers them; the gateway is reachable on UDP port 53
// only (the DNS forward).
var (
	netGuest   = netip.MustParseAddr("169.254.1.2")
	netGateway = netip.MustParseAddr("169.254.1.1")
)

// netIfName is the tap pasta makes in the run's namespace.
const netIfName = "eth0"

// ErrNoNetwork is returned by Start for a spec with Network when no NAT
// helper is available.
var ErrNoNetwork = errors.New("network for runs is unavailable")

// deniedPrefixes are what a run with network cannot reach: loopback and
// "this network" (0.0.0.0 is the host itself), link-local with the cloud
// metadata address, private and shared (CGNAT) ranges, IETF protocol
// assignments, multicast and reserved. The host's own addresses are
// added per run. All of IPv6 is unreachable (the helper runs IPv4 only).
var deniedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
}

// DeniedPrefixes returns the ranges runs with network cannot reach unless
// NetConfig.AllowCIDRs lists them (the host's own addresses come on top).
func DeniedPrefixes() []netip.Prefix { return append([]netip.Prefix(nil), deniedPrefixes...) }

// findNetHelper resolves the helper binary and checks what it needs.
func findNetHelper(cfg NetConfig) (string, error) {
	name := cfg.Helper
	if name == "" {
		name = "pasta"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		// The name only: the message reaches clients.
		return "", fmt.Errorf("%w: the NAT helper %q was not found (install Debian's passt package, or set jail.network.helper)", ErrNoNetwork, filepath.Base(name))
	}
	if path, err = filepath.Abs(path); err != nil {
		return "", fmt.Errorf("%w: NAT helper: %w", ErrNoNetwork, err)
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		return "", fmt.Errorf("%w: /dev/net/tun is missing (the NAT helper needs it)", ErrNoNetwork)
	}
	// The helper runs as an unprivileged id (udev makes the device 0666).
	if fi.Mode().Perm()&0o006 != 0o006 {
		return "", fmt.Errorf("%w: /dev/net/tun is mode %04o, not usable by the NAT helper's unprivileged id (it needs 0666)", ErrNoNetwork, fi.Mode().Perm())
	}
	for _, p := range cfg.AllowCIDRs {
		if !p.Addr().Is4() {
			return "", fmt.Errorf("jail network: allowed range %s: only IPv4 ranges (runs have no IPv6)", p)
		}
	}
	return path, nil
}

// NetworkStatus is nil when runs with network can start, or says why not
// (an error wrapping ErrNoNetwork).
func (m *Manager) NetworkStatus() error { return m.netErr }

// NetworkHelper is the NAT helper's path ("" when unavailable).
func (m *Manager) NetworkHelper() string { return m.netHelper }

// resolvConf is the jails' /etc/resolv.conf: the configured resolvers, or
// the gateway's DNS forward. Runs without network have no route to either.
func (m *Manager) resolvConf() string {
	s := ""
	for _, a := range m.cfg.Network.DNS {
		s += "nameserver " + a.String() + "\n"
	}
	if s == "" {
		s = "nameserver " + netGateway.String() + "\n"
	}
	return s + "options timeout:2 attempts:2\n"
}
