package main

import (
	"strings"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/jail"
)

// netConfig is the jails' network setup from jail.network.
func netConfig(cfg configs.Config) jail.NetConfig {
	n := cfg.Jail.Network
	return jail.NetConfig{Helper: n.Helper, AllowCIDRs: n.Prefixes(), DNS: n.Resolvers()}
}

// networkUnavailable is why requests with network are refused although
// limits.allow_network lets them ask ("" when they are served, or when
// network is not allowed at all: that has its own 400). It names what is
// missing, never a host path.
func networkUnavailable(allow bool, status error) string {
	if !allow || status == nil {
		return ""
	}
	return strings.TrimPrefix(status.Error(), jail.ErrNoNetwork.Error()+": ")
}

// networkHealth adds /health's "network" entry to e: whether runs with
// network are served, and how (or why not).
func networkHealth(e api.Enforcement, allow bool, status error, n jail.NetConfig) api.Enforcement {
	l := api.LimitEnforcement{Name: "network", Enforced: true}
	switch {
	case !allow:
		l.By = "refused (limits.allow_network false): every run has only loopback"
	case status != nil:
		// Fail closed: no run gets a network it should not have.
		l.By = "unavailable: " + networkUnavailable(allow, status) + "; requests with network get a 400, runs without network are unaffected"
	default:
		var denied, allowed []string
		for _, p := range jail.DeniedPrefixes() {
			denied = append(denied, p.String())
		}
		for _, p := range n.AllowCIDRs {
			allowed = append(allowed, p.String())
		}
		l.By = "a network namespace of its own per run, with a user-mode NAT (pasta); unreachable: the host's addresses and " +
			strings.Join(denied, ", ") + ", and all of IPv6"
		if len(allowed) > 0 {
			l.By += "; allowed by jail.network.allow_cidrs: " + strings.Join(allowed, ", ")
		}
	}
	e.Limits = append(e.Limits, l)
	return e
}
