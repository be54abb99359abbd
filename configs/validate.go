package configs

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pyexec/pyexec/configs/limits"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// FieldError is one invalid value. Key is the dotted key, e.g.
// "limits.max.memory_mb".
type FieldError struct {
	Key string
	Msg string
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Msg }

// problems collects FieldErrors.
type problems []error

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, &FieldError{Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *problems) atLeast(key string, v, limit int64) {
	if v < limit {
		p.add(key, "must be >= %d, got %d", limit, v)
	}
}

func (p *problems) duration(key string, d, limit time.Duration) {
	if d < limit {
		p.add(key, "must be >= %s, got %s", limit, d)
	}
}

// Validate reports every invalid value, each a *FieldError naming its key,
// joined with errors.Join. Nil means the Config is usable as is.
func (c Config) Validate() error {
	var p problems
	c.Server.validate(&p)
	c.Log.validate(&p)
	c.Limits.validate(&p)
	c.Execution.validate(&p)
	c.Interpreters.validate(&p)
	c.Jail.validate(&p)
	c.Pool.validate(&p)
	c.Zygote.validate(&p)
	c.Deps.validate(&p)
	c.Results.validate(&p)
	c.Sessions.validate(&p)
	c.validateRecords(&p)
	c.validateBudget(&p)
	return errors.Join(p...)
}

func (s ServerConfig) validate(p *problems) {
	if s.Port < 1 || s.Port > 65535 {
		p.add("server.port", "must be in 1..65535, got %d", s.Port)
	}
	p.duration("server.shutdown_grace", s.ShutdownGrace, 0)
	p.atLeast("server.max_request_mb", int64(s.MaxRequestMB), 1)
	p.atLeast("server.max_code_kb", int64(s.MaxCodeKB), 1)
	s.validateHTTP(p)
	s.validateAuth(p)
}

func (l LogConfig) validate(p *problems) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, strings.ToLower(l.Level)) {
		p.add("log.level", "must be debug, info, warn or error, got %q", l.Level)
	}
	if !slices.Contains([]string{"text", "json"}, strings.ToLower(l.Format)) {
		p.add("log.format", "must be text or json, got %q", l.Format)
	}
}

func (l LimitsConfig) validate(p *problems) {
	fields := []struct {
		name string
		min  int64
		get  func(Limits) int64
	}{
		{"timeout_seconds", limits.MinTimeoutSeconds, func(x Limits) int64 { return int64(x.TimeoutSeconds) }},
		{"memory_mb", limits.MinMemoryMB, func(x Limits) int64 { return int64(x.MemoryMB) }},
		{"disk_mb", limits.MinDiskMB, func(x Limits) int64 { return int64(x.DiskMB) }},
		{"cpu_shares", limits.MinCPUShares, func(x Limits) int64 { return int64(x.CPUShares) }},
		{"pids_limit", limits.MinPids, func(x Limits) int64 { return int64(x.PidsLimit) }},
		{"max_output_bytes", limits.MinOutputBytes, func(x Limits) int64 { return x.MaxOutputBytes }},
	}
	for _, f := range fields {
		def, ceiling := f.get(l.Default.Limits), f.get(l.Max)
		p.atLeast("limits.default."+f.name, def, f.min)
		p.atLeast("limits.max."+f.name, ceiling, f.min)
		if def > ceiling {
			p.add("limits.default."+f.name, "must be <= limits.max.%s (%d), got %d", f.name, ceiling, def)
		}
	}
	if l.Default.CPULimit < 0 {
		p.add("limits.default.cpu_limit", "must be >= 0, got %g", l.Default.CPULimit)
	}
	if l.Max.CPULimit < 0 {
		p.add("limits.max.cpu_limit", "must be >= 0, got %g", l.Max.CPULimit)
	} else if l.Default.CPULimit > l.MaxCPULimit() {
		p.add("limits.default.cpu_limit", "must be <= %g (limits.max.cpu_limit, 0 = number of CPUs), got %g",
			l.MaxCPULimit(), l.Default.CPULimit)
	}
	if !l.AllowNetwork && !l.Default.NetworkDisabled {
		p.add("limits.default.network_disabled", "must be true when limits.allow_network is false")
	}
}

func (e ExecutionConfig) validate(p *problems) {
	p.atLeast("execution.max_concurrent", int64(e.MaxConcurrent), 0)
	p.atLeast("execution.queue_size", int64(e.QueueSize), 0)
	p.duration("execution.cleanup_ttl", e.CleanupTTL, time.Second)
	p.atLeast("execution.max_records", int64(e.MaxRecords), 1)
	p.atLeast("execution.memory_budget_mb", int64(e.MemoryBudgetMB), 0)
}

// validateBudget checks that a run asking for the most memory can start.
func (c Config) validateBudget(p *problems) {
	if b := c.Execution.MemoryBudgetMB; b > 0 && c.Limits.Max.MemoryMB > b {
		p.add("limits.max.memory_mb", "must be <= execution.memory_budget_mb (%d, by default 75%% of the host's memory): a run asking for more could never start, got %d",
			b, c.Limits.Max.MemoryMB)
	}
}

func (i InterpreterConfig) validate(p *problems) {
	for n, r := range i.Roots {
		absolute(p, fmt.Sprintf("interpreters.roots[%d]", n), r)
	}
	for n, r := range i.Paths {
		absolute(p, fmt.Sprintf("interpreters.paths[%d]", n), r)
	}
	if _, ok := defaultSeries(i.Default); !ok {
		p.add("interpreters.default", "must name a version series: \"3.12\" (quoted in YAML) "+
			"or a python image such as \"python:3.12-slim\" (PYEXEC_DEFAULT_IMAGE), got %q", i.Default)
	}
}

func (j JailConfig) validate(p *problems) {
	switch j.Mode {
	case "auto", "root", "rootless":
	default:
		p.add("jail.mode", "must be auto, root or rootless, got %q", j.Mode)
	}
	absolute(p, "jail.state_dir", j.StateDir)
	absolute(p, "jail.setup_dir", j.SetupDir)
	switch {
	case strings.TrimSpace(j.CgroupParent) == "":
		p.add("jail.cgroup_parent", "must not be empty")
	case slices.Contains(strings.Split(j.CgroupParent, "/"), ".."):
		p.add("jail.cgroup_parent", "must not contain \"..\", got %q", j.CgroupParent)
	}
	p.atLeast("jail.host_id_base", int64(j.HostIDBase), 1)
	p.atLeast("jail.host_id_count", int64(j.HostIDCount), 1)
	// The last mapped id must be a valid uid: (uid_t)-1 is reserved.
	if last := int64(j.HostIDBase) + int64(j.HostIDCount) - 1; last > 1<<32-2 {
		p.add("jail.host_id_count", "host ids end at %d, past the uid range", last)
	}
	if j.SandboxUID < 1 || j.SandboxUID >= j.HostIDCount {
		p.add("jail.sandbox_uid", "must be in 1..%d (below jail.host_id_count), got %d", j.HostIDCount-1, j.SandboxUID)
	}
	j.Network.validate(p)
}

func (z ZygoteConfig) validate(p *problems) {
	for n, v := range z.Eager {
		if !validSeries(v) {
			p.add(fmt.Sprintf("zygote.eager[%d]", n), "must be a version series like \"3.12\" (quoted in YAML), got %q", v)
		}
	}
	p.duration("zygote.max_age", z.MaxAge, time.Second)
	p.atLeast("zygote.max_runs", int64(z.MaxRuns), 1)
	p.atLeast("zygote.prepared", int64(z.Prepared), 0)
	if z.Prepared > maxPrepared {
		p.add("zygote.prepared", "must be at most %d, got %d", maxPrepared, z.Prepared)
	}
}

// maxPrepared bounds zygote.prepared: each holds one of a zygote's 64 run
// slots.
const maxPrepared = 16

func (pc PoolConfig) validate(p *problems) {
	for _, v := range slices.Sorted(maps.Keys(pc.Sizes)) {
		key := "pool.sizes." + v
		if !validSeries(v) {
			p.add(key, "key must be a version series like \"3.12\" (quoted in YAML)")
		}
		p.atLeast(key, int64(pc.Sizes[v]), 0)
	}
	p.duration("pool.max_age", pc.MaxAge, time.Second)
}

func (d DepsConfig) validate(p *problems) {
	absolute(p, "deps.cache_dir", d.CacheDir)
	p.atLeast("deps.cache_max_mb", int64(d.CacheMaxMB), 1)
	if d.IndexURL != "" {
		httpURL(p, "deps.index_url", d.IndexURL)
	}
	for n, u := range d.ExtraIndexURLs {
		httpURL(p, fmt.Sprintf("deps.extra_index_urls[%d]", n), u)
	}
	for n, l := range d.FindLinks {
		findLinks(p, fmt.Sprintf("deps.find_links[%d]", n), l)
	}
	for n, h := range d.TrustedHosts {
		if h == "" || strings.ContainsAny(h, " \t/") {
			p.add(fmt.Sprintf("deps.trusted_hosts[%d]", n), "must be a host or host:port, got %q", h)
		}
	}
	for n, w := range d.Warmup {
		key := fmt.Sprintf("deps.warmup[%d]", n)
		l, err := requirements.Parse(w)
		switch {
		case err != nil:
			p.add(key, "%v (in the environment, entries are separated by \";\")", err)
		case l.Empty():
			p.add(key, "must name at least one requirement, got %q", w)
		}
	}
	p.duration("deps.install_timeout", d.InstallTimeout, time.Second)
	p.atLeast("deps.install_memory_mb", int64(d.InstallMemoryMB), limits.MinMemoryMB)
	p.atLeast("deps.install_disk_mb", int64(d.InstallDiskMB), limits.MinDiskMB)
	if d.CacheMaxMB >= 1 && d.InstallDiskMB >= limits.MinDiskMB && d.CacheMaxMB < d.InstallDiskMB {
		p.add("deps.cache_max_mb", "must be >= deps.install_disk_mb (%d): a bigger layer would be rebuilt for every run, got %d",
			d.InstallDiskMB, d.CacheMaxMB)
	}
}

func absolute(p *problems, key, path string) {
	if !filepath.IsAbs(path) {
		p.add(key, "must be an absolute path, got %q", path)
	}
}

// httpURL checks a package index: http(s) only. A local directory is not
// an index but a find_links entry.
func httpURL(p *problems, key, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(key, "must be an http(s) URL (a local directory of wheels goes in deps.find_links), got %q", raw)
	}
}

// findLinks checks a find_links entry: an http(s) URL, or a local
// directory as an absolute path or a file: URL of one.
func findLinks(p *problems, key, raw string) {
	switch {
	case filepath.IsAbs(raw):
	case strings.HasPrefix(raw, "file:"):
		u, err := url.Parse(raw)
		if err != nil || (u.Host != "" && u.Host != "localhost") || !filepath.IsAbs(u.Path) {
			p.add(key, "must be a file URL of an absolute directory (file:///srv/wheels), got %q", raw)
		}
	default:
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add(key, "must be an absolute directory, a file:/// URL or an http(s) URL, got %q", raw)
		}
	}
}

// defaultSeries returns the series that interpreters.default names: "3.12"
// for "3.12", "python3.12" or "python:3.12-slim". ok is false for anything
// else, a full version or an image without a version (python:latest)
// included.
func defaultSeries(def string) (series string, ok bool) {
	v, err := interpreters.ParseSelector(def)
	if err != nil || !validSeries(v) {
		return "", false
	}
	return v, true
}

// validSeries reports whether v is "3.N" with N >= 6. Minors below 6 are
// refused mostly to catch YAML's unquoted 3.10, which reads as "3.1".
func validSeries(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	n, err := strconv.Atoi(minor)
	return ok && major == "3" && err == nil && n >= 6 && strconv.Itoa(n) == minor
}
