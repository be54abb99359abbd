package configs

import (
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/configs/limits"
)

func TestDefaultsValidate(t *testing.T) {
	if err := resolvedDefaults().Validate(); err != nil {
		t.Fatalf("resolvedDefaults().Validate() = %v", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string // the key the error must name; empty means valid
	}{
		{"port zero", func(c *Config) { c.Server.Port = 0 }, "server.port"},
		{"port too big", func(c *Config) { c.Server.Port = 65536 }, "server.port"},
		{"negative grace", func(c *Config) { c.Server.ShutdownGrace = -time.Second }, "server.shutdown_grace"},
		{"zero grace is fine", func(c *Config) { c.Server.ShutdownGrace = 0 }, ""},
		{"empty host is fine", func(c *Config) { c.Server.Host = "" }, ""},
		{"no request size", func(c *Config) { c.Server.MaxRequestMB = 0 }, "server.max_request_mb"},
		{"no code size", func(c *Config) { c.Server.MaxCodeKB = 0 }, "server.max_code_kb"},
		{"unknown log level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"unknown log format", func(c *Config) { c.Log.Format = "xml" }, "log.format"},
		{"default memory below min", func(c *Config) { c.Limits.Default.MemoryMB = limits.MinMemoryMB - 1 }, "limits.default.memory_mb"},
		{"max memory below min", func(c *Config) { c.Limits.Max.MemoryMB = 8 }, "limits.max.memory_mb: must be >= 16"},
		{"default above max", func(c *Config) { c.Limits.Default.TimeoutSeconds = 4000 }, "limits.default.timeout_seconds: must be <= limits.max.timeout_seconds"},
		{"zero timeout", func(c *Config) { c.Limits.Default.TimeoutSeconds = 0 }, "limits.default.timeout_seconds"},
		{"disk below min", func(c *Config) { c.Limits.Max.DiskMB = 0 }, "limits.max.disk_mb"},
		{"shares below min", func(c *Config) { c.Limits.Default.CPUShares = 1 }, "limits.default.cpu_shares"},
		{"pids below min", func(c *Config) { c.Limits.Default.PidsLimit = 4 }, "limits.default.pids_limit"},
		{"output below min", func(c *Config) { c.Limits.Max.MaxOutputBytes = 100 }, "limits.max.max_output_bytes"},
		{"negative cpu limit", func(c *Config) { c.Limits.Default.CPULimit = -1 }, "limits.default.cpu_limit"},
		{"negative max cpu limit", func(c *Config) { c.Limits.Max.CPULimit = -1 }, "limits.max.cpu_limit"},
		{"cpu limit above max", func(c *Config) { c.Limits.Default.CPULimit, c.Limits.Max.CPULimit = 2, 1 }, "limits.default.cpu_limit"},
		{"network on without allow", func(c *Config) { c.Limits.AllowNetwork, c.Limits.Default.NetworkDisabled = false, false }, "limits.default.network_disabled"},
		{"network off and not allowed", func(c *Config) { c.Limits.AllowNetwork = false }, ""},
		{"negative concurrency", func(c *Config) { c.Execution.MaxConcurrent = -1 }, "execution.max_concurrent"},
		{"negative queue", func(c *Config) { c.Execution.QueueSize = -1 }, "execution.queue_size"},
		{"zero ttl", func(c *Config) { c.Execution.CleanupTTL = 0 }, "execution.cleanup_ttl"},
		{"zero records", func(c *Config) { c.Execution.MaxRecords = 0 }, "execution.max_records"},
		{"relative root", func(c *Config) { c.Interpreters.Roots = []string{"pyenv/versions"} }, "interpreters.roots[0]"},
		{"relative path", func(c *Config) { c.Interpreters.Paths = []string{"/usr/bin/python3", "python3"} }, "interpreters.paths[1]"},
		{"bad default version", func(c *Config) { c.Interpreters.Default = "3.1" }, "interpreters.default"},
		{"default version with patch", func(c *Config) { c.Interpreters.Default = "3.12.1" }, "interpreters.default"},
		{"default 3.10 is fine", func(c *Config) { c.Interpreters.Default = "3.10" }, ""},
		{"relative state dir", func(c *Config) { c.Jail.StateDir = "run/pyexec" }, "jail.state_dir"},
		{"empty cgroup parent", func(c *Config) { c.Jail.CgroupParent = "" }, "jail.cgroup_parent"},
		{"escaping cgroup parent", func(c *Config) { c.Jail.CgroupParent = "../x" }, "jail.cgroup_parent"},
		{"zero id base", func(c *Config) { c.Jail.HostIDBase = 0 }, "jail.host_id_base"},
		{"zero id count", func(c *Config) { c.Jail.HostIDCount = 0 }, "jail.host_id_count"},
		{"ids past uid range", func(c *Config) { c.Jail.HostIDBase = 1<<32 - 10 }, "jail.host_id_count"},
		{"sandbox uid root", func(c *Config) { c.Jail.SandboxUID = 0 }, "jail.sandbox_uid"},
		{"sandbox uid unmapped", func(c *Config) { c.Jail.SandboxUID = 65536 }, "jail.sandbox_uid"},
		{"bad pool version", func(c *Config) { c.Pool.Sizes = map[string]int{"latest": 1} }, "pool.sizes.latest"},
		{"negative pool size", func(c *Config) { c.Pool.Sizes = map[string]int{"3.11": -1} }, "pool.sizes.3.11"},
		{"empty pool is fine", func(c *Config) { c.Pool.Sizes = nil }, ""},
		{"zero pool age", func(c *Config) { c.Pool.MaxAge = 0 }, "pool.max_age"},
		{"relative cache", func(c *Config) { c.Deps.CacheDir = "deps" }, "deps.cache_dir"},
		{"zero cache", func(c *Config) { c.Deps.CacheMaxMB = 0 }, "deps.cache_max_mb"},
		{"ftp index", func(c *Config) { c.Deps.IndexURL = "ftp://pypi.example/" }, "deps.index_url"},
		{"hostless index", func(c *Config) { c.Deps.IndexURL = "https://" }, "deps.index_url"},
		{"bad extra index", func(c *Config) { c.Deps.ExtraIndexURLs = []string{"pypi.example"} }, "deps.extra_index_urls[0]"},
		{"relative find links", func(c *Config) { c.Deps.FindLinks = []string{"wheels"} }, "deps.find_links[0]"},
		{"find links dir and url", func(c *Config) { c.Deps.FindLinks = []string{"/srv/wheels", "https://w.example/"} }, ""},
		{"bad trusted host", func(c *Config) { c.Deps.TrustedHosts = []string{"https://pypi.example"} }, "deps.trusted_hosts[0]"},
		{"file index", func(c *Config) { c.Deps.IndexURL = "file:///srv/simple" }, "deps.index_url"},
		{"file extra index", func(c *Config) { c.Deps.ExtraIndexURLs = []string{"https://a.example/simple", "file:///srv/simple"} }, "deps.extra_index_urls[1]"},
		{"find links file url", func(c *Config) { c.Deps.FindLinks = []string{"file:///srv/wheels", "file://localhost/srv/w"} }, ""},
		{"relative find links file url", func(c *Config) { c.Deps.FindLinks = []string{"file:wheels"} }, "deps.find_links[0]"},
		{"find links file url with a host", func(c *Config) { c.Deps.FindLinks = []string{"file://server/srv/wheels"} }, "deps.find_links[0]"},
		{"find links ftp", func(c *Config) { c.Deps.FindLinks = []string{"ftp://w.example/"} }, "deps.find_links[0]"},
		{"blank warmup", func(c *Config) { c.Deps.Warmup = []string{" "} }, "deps.warmup[0]"},
		{"comment-only warmup", func(c *Config) { c.Deps.Warmup = []string{"# nothing\n-"} }, "deps.warmup[0]"},
		{"warmup split on commas", func(c *Config) { c.Deps.Warmup = []string{"numpy>=1", "<2"} }, "deps.warmup[1]"},
		{"warmup with a pip option", func(c *Config) { c.Deps.Warmup = []string{"numpy", "--index-url http://evil.example/"} }, "deps.warmup[1]: line 1"},
		{"warmup requirements", func(c *Config) {
			c.Deps.Warmup = []string{"numpy>=1,<2\npandas[excel]", "requests; python_version >= '3.8'"}
		}, ""},
		{"cache smaller than an install", func(c *Config) { c.Deps.CacheMaxMB, c.Deps.InstallDiskMB = 512, 1024 }, "deps.cache_max_mb: must be >= deps.install_disk_mb"},
		{"cache as big as an install", func(c *Config) { c.Deps.CacheMaxMB, c.Deps.InstallDiskMB = 1024, 1024 }, ""},
		{"zero install timeout", func(c *Config) { c.Deps.InstallTimeout = 0 }, "deps.install_timeout"},
		{"tiny install memory", func(c *Config) { c.Deps.InstallMemoryMB = 8 }, "deps.install_memory_mb"},
		{"zero install disk", func(c *Config) { c.Deps.InstallDiskMB = 0 }, "deps.install_disk_mb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := resolvedDefaults()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantKey)
			}
			if fe, ok := errors.AsType[*FieldError](err); !ok || !strings.HasPrefix(tt.wantKey, fe.Key) {
				t.Errorf("first FieldError = %v, want key %q", fe, tt.wantKey)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := resolvedDefaults()
	c.Server.Port = 0
	c.Jail.StateDir = "relative"
	err := c.Validate()
	for _, key := range []string{"server.port", "jail.state_dir"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v, want it to name %s", err, key)
		}
	}
}

func TestResolvers(t *testing.T) {
	c := resolvedDefaults()
	if got, want := c.Execution.MaxConcurrentResolved(), 2*runtime.NumCPU(); got != want {
		t.Errorf("MaxConcurrentResolved() = %d, want %d", got, want)
	}
	c.Execution.MaxConcurrent = 3
	if got := c.Execution.MaxConcurrentResolved(); got != 3 {
		t.Errorf("MaxConcurrentResolved() = %d, want 3", got)
	}
	if got, want := c.Limits.MaxCPULimit(), float64(runtime.NumCPU()); got != want {
		t.Errorf("MaxCPULimit() = %g, want %g", got, want)
	}
	c.Limits.Max.CPULimit = 1.5
	if got := c.Limits.MaxCPULimit(); got != 1.5 {
		t.Errorf("MaxCPULimit() = %g, want 1.5", got)
	}
	if got := c.Server.Addr(); got != "127.0.0.1:8080" {
		t.Errorf("Addr() = %q", got)
	}
	for level, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "WARN": slog.LevelWarn, "error": slog.LevelError} {
		if got := (LogConfig{Level: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}
