package configs

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestNetworkConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       NetworkConfig
		wantErr string // "" when valid
	}{
		{"defaults", defaultNetwork(), ""},
		{"ranges and resolvers", NetworkConfig{Helper: "/usr/bin/pasta", AllowCIDRs: []string{"10.1.0.0/16", "192.168.7.7/32"}, DNS: []string{"198.51.100.53"}}, ""},
		{"no helper", NetworkConfig{}, "jail.network.helper"},
		{"not a range", NetworkConfig{Helper: "pasta", AllowCIDRs: []string{"10.1.0.0"}}, "jail.network.allow_cidrs[0]"},
		{"ipv6 range", NetworkConfig{Helper: "pasta", AllowCIDRs: []string{"fc00::/7"}}, "IPv4 range"},
		{"bad resolver", NetworkConfig{Helper: "pasta", DNS: []string{"dns.example"}}, "jail.network.dns[0]"},
		{"ipv6 resolver", NetworkConfig{Helper: "pasta", DNS: []string{"2001:db8::53"}}, "jail.network.dns[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p problems
			tc.n.validate(&p)
			err := errors.Join(p...)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
			}
		})
	}
}

func TestNetworkConfigParse(t *testing.T) {
	n := NetworkConfig{AllowCIDRs: []string{"10.1.2.3/16"}, DNS: []string{"198.51.100.53"}}
	if got := n.Prefixes(); len(got) != 1 || got[0] != netip.MustParsePrefix("10.1.0.0/16") {
		t.Errorf("Prefixes: %v", got)
	}
	if got := n.Resolvers(); len(got) != 1 || got[0] != netip.MustParseAddr("198.51.100.53") {
		t.Errorf("Resolvers: %v", got)
	}
}
