package server

import (
	"math"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

// limitPolicy turns a request's config object into Limits.
type limitPolicy struct {
	defaults, max limits.Values
	allowNetwork  bool
	// netUnavailable says why runs with network cannot start ("": they can).
	netUnavailable string
}

// resolve validates c against the policy's bounds and fills what c leaves
// out with the defaults. A nil c means all defaults.
func (p limitPolicy) resolve(c *api.Config) (Limits, error) {
	if c == nil {
		c = &api.Config{}
	}
	lo := limits.Min()
	v := p.defaults
	ints := []struct {
		name     string
		given    *int
		dst      *int
		min, max int
		clamp    bool // above max: use max (API.md: the timeout is clamped)
	}{
		{"timeout_seconds", c.TimeoutSeconds, &v.TimeoutSeconds, lo.TimeoutSeconds, p.max.TimeoutSeconds, true},
		{"memory_mb", c.MemoryMB, &v.MemoryMB, lo.MemoryMB, p.max.MemoryMB, false},
		{"disk_mb", c.DiskMB, &v.DiskMB, lo.DiskMB, p.max.DiskMB, false},
		{"cpu_shares", c.CPUShares, &v.CPUShares, lo.CPUShares, p.max.CPUShares, false},
		{"pids_limit", c.PidsLimit, &v.PidsLimit, lo.PidsLimit, p.max.PidsLimit, false},
	}
	for _, f := range ints {
		if f.given == nil {
			continue
		}
		if f.clamp && *f.given > f.max {
			*f.dst = f.max
			continue
		}
		if *f.given < f.min || *f.given > f.max {
			return Limits{}, badRequest("config.%s must be between %d and %d", f.name, f.min, f.max)
		}
		*f.dst = *f.given
	}
	if c.MaxOutputBytes != nil {
		if n := *c.MaxOutputBytes; n < lo.MaxOutputBytes || n > p.max.MaxOutputBytes {
			return Limits{}, badRequest("config.max_output_bytes must be between %d and %d",
				lo.MaxOutputBytes, p.max.MaxOutputBytes)
		}
		v.MaxOutputBytes = *c.MaxOutputBytes
	}
	if c.CPULimit != nil {
		if n := *c.CPULimit; math.IsNaN(n) || n < lo.CPULimit || n > p.max.CPULimit {
			return Limits{}, badRequest("config.cpu_limit must be between %g and %g", lo.CPULimit, p.max.CPULimit)
		}
		v.CPULimit = *c.CPULimit
	}
	network := false
	if c.NetworkDisabled != nil && !*c.NetworkDisabled {
		if !p.allowNetwork {
			return Limits{}, badRequest("config.network_disabled=false is not allowed: this server runs code without network access; requirements_txt is installed without it")
		}
		if p.netUnavailable != "" {
			return Limits{}, badRequest("config.network_disabled=false cannot be served: network for runs is unavailable on this server (%s); run without network or ask the operator", p.netUnavailable)
		}
		network = true
	}
	return v.Run(network), nil
}
