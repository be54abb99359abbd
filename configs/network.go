package configs

import (
	"fmt"
	"net/netip"
)

// NetworkConfig is how runs with network (a request's network_disabled
// false) reach the outside: through a user-mode NAT in a network namespace
// of their own, never the host's (see docs/jail.md).
type NetworkConfig struct {
	// Helper is the NAT helper, pasta (Debian's passt): a path, or a name
	// looked up in PATH. When it is missing the server still starts, and
	// requests with network get a 400 naming what is missing.
	Helper string `mapstructure:"helper"`
	// AllowCIDRs are IPv4 ranges runs may reach although they are denied by
	// default (private, shared, link-local, loopback, multicast; the
	// host's own addresses stay denied unless listed as such).
	AllowCIDRs []string `mapstructure:"allow_cidrs"`
	// DNS are the resolvers runs use (IPv4), reached through the NAT.
	// Empty: the first nameserver of the host's /etc/resolv.conf, through
	// the helper's DNS forward.
	DNS []string `mapstructure:"dns"`
}

func defaultNetwork() NetworkConfig {
	return NetworkConfig{Helper: "pasta", AllowCIDRs: []string{}, DNS: []string{}}
}

// Prefixes parses AllowCIDRs (Validate has checked them).
func (n NetworkConfig) Prefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range n.AllowCIDRs {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

// Resolvers parses DNS (Validate has checked them).
func (n NetworkConfig) Resolvers() []netip.Addr {
	var out []netip.Addr
	for _, s := range n.DNS {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a)
		}
	}
	return out
}

func (n NetworkConfig) validate(p *problems) {
	if n.Helper == "" {
		p.add("jail.network.helper", "must name the NAT helper (pasta)")
	}
	for i, s := range n.AllowCIDRs {
		key := fmt.Sprintf("jail.network.allow_cidrs[%d]", i)
		pr, err := netip.ParsePrefix(s)
		switch {
		case err != nil:
			p.add(key, "must be an IPv4 range like 10.1.0.0/16, got %q", s)
		case !pr.Addr().Is4():
			p.add(key, "must be an IPv4 range (runs have no IPv6), got %q", s)
		}
	}
	for i, s := range n.DNS {
		key := fmt.Sprintf("jail.network.dns[%d]", i)
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			p.add(key, "must be an IPv4 address, got %q", s)
		case !a.Is4():
			p.add(key, "must be an IPv4 address (runs have no IPv6), got %q", s)
		}
	}
}
