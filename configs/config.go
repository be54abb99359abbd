package configs

import (
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/pyexec/pyexec/configs/limits"
)

// Config is the whole service configuration. The mapstructure tags are the
// YAML keys; every leaf also has an environment variable, see EnvName.
type Config struct {
	Server       ServerConfig      `mapstructure:"server"`
	Log          LogConfig         `mapstructure:"log"`
	Limits       LimitsConfig      `mapstructure:"limits"`
	Execution    ExecutionConfig   `mapstructure:"execution"`
	Interpreters InterpreterConfig `mapstructure:"interpreters"`
	Jail         JailConfig        `mapstructure:"jail"`
	Pool         PoolConfig        `mapstructure:"pool"`
	Zygote       ZygoteConfig      `mapstructure:"zygote"`
	Deps         DepsConfig        `mapstructure:"deps"`
	Results      ResultsConfig     `mapstructure:"results"`
	Sessions     SessionsConfig    `mapstructure:"sessions"`
}

// ServerConfig is the HTTP listener.
type ServerConfig struct {
	// Host is the address to bind. Empty means all interfaces.
	Host string `mapstructure:"host"`
	// Port is the TCP port, 1..65535.
	Port int `mapstructure:"port"`
	// ShutdownGrace is how long a shutdown waits for requests in flight.
	// Zero means stop at once.
	ShutdownGrace time.Duration `mapstructure:"shutdown_grace"`
	// MaxRequestMB caps a request body (multipart uploads), in MiB.
	MaxRequestMB int `mapstructure:"max_request_mb"`
	// MaxCodeKB caps the total source of an /eval request, in KiB.
	MaxCodeKB int `mapstructure:"max_code_kb"`

	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration `mapstructure:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included.
	ReadTimeout time.Duration `mapstructure:"read_timeout"`
	// WriteTimeout bounds each write of a response, from its start (not
	// from the request: a sync run or a long-poll waits longer).
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	// IdleTimeout is how long a keep-alive connection waits for its next
	// request.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// MaxHeaderKB caps a request's headers, in KiB (431 past it).
	MaxHeaderKB int `mapstructure:"max_header_kb"`
	// MaxConnections caps the connections open at once; past it new ones
	// wait to be accepted.
	MaxConnections int `mapstructure:"max_connections"`

	// AuthTokens are bearer tokens that may use the API; with none (and no
	// AdminTokens or token files) the API is open. See Tokens.
	AuthTokens []string `mapstructure:"auth_tokens"`
	// AuthTokensFile is a file of more AuthTokens, absolute, one a line
	// (blank lines and lines starting with # are skipped). Empty: none.
	AuthTokensFile string `mapstructure:"auth_tokens_file"`
	// AdminTokens may also use the dependency cache's admin endpoints
	// (listing and removing layers).
	AdminTokens []string `mapstructure:"admin_tokens"`
	// AdminTokensFile is a file of more AdminTokens, like AuthTokensFile.
	AdminTokensFile string `mapstructure:"admin_tokens_file"`
	// TokenMaxConcurrent caps the runs of one token executing at once.
	// Zero: half of execution.max_concurrent, rounded up.
	TokenMaxConcurrent int `mapstructure:"token_max_concurrent"`
	// TokenMaxQueued caps the runs of one token waiting on top of those;
	// past both, that token gets 429. Zero: half of execution.queue_size,
	// rounded up.
	TokenMaxQueued int `mapstructure:"token_max_queued"`
}

// Loopback reports whether Host binds only loopback addresses: a
// loopback IP or "localhost".
func (s ServerConfig) Loopback() bool {
	if strings.EqualFold(s.Host, "localhost") {
		return true
	}
	ip := net.ParseIP(s.Host)
	return ip != nil && ip.IsLoopback()
}

// Addr is Host and Port joined for net.Listen.
func (s ServerConfig) Addr() string {
	return net.JoinHostPort(s.Host, strconv.Itoa(s.Port))
}

// LogConfig selects the slog handler.
type LogConfig struct {
	// Level is one of debug, info, warn, error.
	Level string `mapstructure:"level"`
	// Format is text or json.
	Format string `mapstructure:"format"`
}

// SlogLevel maps Level to a slog.Level; an unknown level gives slog.LevelInfo
// (Validate rejects it first).
func (l LogConfig) SlogLevel() slog.Level {
	switch strings.ToLower(l.Level) {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// Limits are the per-run resource limits (limits.Values: their one
// vocabulary, defaults and bounds). The same type holds the defaults a
// request gets and the ceilings a request may ask for.
type Limits = limits.Values

// DefaultLimits are the limits a request gets when it names none.
type DefaultLimits struct {
	Limits `mapstructure:",squash"`
	// NetworkDisabled is the default of the request's network_disabled.
	NetworkDisabled bool `mapstructure:"network_disabled"`
}

// LimitsConfig holds the request defaults and the server ceilings.
type LimitsConfig struct {
	Default DefaultLimits `mapstructure:"default"`
	Max     Limits        `mapstructure:"max"`
	// AllowNetwork lets clients set network_disabled=false. When false, every
	// run is without network and such requests are refused.
	AllowNetwork bool `mapstructure:"allow_network"`
}

// MaxCPULimit is Max.CPULimit, or the number of CPUs when that is zero.
func (l LimitsConfig) MaxCPULimit() float64 {
	return limits.CPUCeiling(l.Max.CPULimit)
}

// ExecutionConfig is the scheduler and the execution record store.
type ExecutionConfig struct {
	// MaxConcurrent is how many runs may execute at once. Zero means
	// 2 x runtime.NumCPU(); see MaxConcurrentResolved.
	MaxConcurrent int `mapstructure:"max_concurrent"`
	// QueueSize is how many accepted runs may wait for a slot; past it
	// requests are refused.
	QueueSize int `mapstructure:"queue_size"`
	// CleanupTTL is how long a finished record is kept.
	CleanupTTL time.Duration `mapstructure:"cleanup_ttl"`
	// MaxRecords caps the records kept; the oldest finished go first.
	MaxRecords int `mapstructure:"max_records"`
	// MemoryBudgetMB bounds the sum of the memory limits of the runs
	// executing at once; a run that does not fit waits in the queue. Zero:
	// 75% of the host's memory (Runtime.HostMemoryMB; no budget when that
	// is unknown). limits.max.memory_mb must fit in it.
	MemoryBudgetMB int `mapstructure:"memory_budget_mb"`
	// AutoDetectImports turns import detection for /eval on.
	AutoDetectImports bool `mapstructure:"auto_detect_imports"`
	// QueueMaxMB bounds, in MiB, what the runs waiting for a slot hold:
	// their uploads as they arrived (compressed ones stay compressed, on
	// disk under RecordsDir) and their code, stdin and arguments, in
	// memory. Past it requests get 429 with Retry-After; a run is always
	// taken when none waits.
	QueueMaxMB int `mapstructure:"queue_max_mb"`
	// RecordsDir holds the execution records (a bbolt database, and the
	// larger outputs in files next to it) and the waiting uploads,
	// absolute. Finished records survive a restart; runs that were waiting
	// or running come back failed. Empty: /var/lib/pyexec/records as root,
	// ~/.local/share/pyexec/records rootless.
	RecordsDir string `mapstructure:"records_dir"`
	// RecordsMaxMB bounds, in MiB, the finished records kept (their output
	// and about 1 KiB of fields each, on disk); the oldest finished go
	// first. At least twice limits.max.max_output_bytes.
	RecordsMaxMB int `mapstructure:"records_max_mb"`
	// RecordsSync flushes each record change to the disk (fdatasync)
	// before the request that made it is answered: records then survive a
	// power loss too. Off (the default) they survive a restart and a
	// SIGKILL of the server, and a run does not wait for the disk.
	RecordsSync bool `mapstructure:"records_sync"`
}

// MaxConcurrentResolved is MaxConcurrent, or 2 x runtime.NumCPU() when zero.
func (e ExecutionConfig) MaxConcurrentResolved() int {
	if e.MaxConcurrent > 0 {
		return e.MaxConcurrent
	}
	return 2 * runtime.NumCPU()
}

// InterpreterConfig says where to look for Python interpreters.
type InterpreterConfig struct {
	// Roots are pyenv-style version directories (<root>/<version>/bin/python).
	// Empty means $PYENV_ROOT/versions, else ~/.pyenv/versions of the user
	// running the server; the discovering code resolves that, not this package.
	Roots []string `mapstructure:"roots"`
	// Paths are extra python executables, absolute.
	Paths []string `mapstructure:"paths"`
	// System also looks at /usr/bin/python3.X and /usr/local/bin/python3.X.
	System bool `mapstructure:"system"`
	// Default is the version series used when a request names none:
	// "3.12", or a python image that names one, as python-executor's
	// PYEXEC_DEFAULT_IMAGE does ("python:3.12-slim"). The interpreters
	// found must include it.
	Default string `mapstructure:"default"`
}

// JailConfig is the jail runtime.
type JailConfig struct {
	// Mode is "root" (pyexecd runs as host root), "rootless" (an ordinary
	// user: the server re-executes itself once into a user namespace mapped
	// from the user's /etc/subuid and /etc/subgid ranges), or "auto" (by
	// the effective uid). Either way jails live in user namespaces owned
	// by unprivileged ids, never by host root.
	Mode string `mapstructure:"mode"`
	// StateDir is libcontainer's state root, absolute; the directories above
	// it must be searchable by others (the jails' ids). Empty: /run/pyexec
	// as root, ~/.cache/pyexec/run rootless (systemd: RuntimeDirectory).
	StateDir string `mapstructure:"state_dir"`
	// CgroupParent is the cgroup under which every jail's group is made.
	CgroupParent string `mapstructure:"cgroup_parent"`
	// HostIDBase is the first host uid/gid of the range jails map onto
	// (two ids per concurrent jail). Zero: 200000 as root; rootless, 1,
	// the first id of the server's namespace (its sub-id range).
	HostIDBase int `mapstructure:"host_id_base"`
	// HostIDCount is how many ids the range has. Zero: 65536 as root;
	// rootless, the size of the user's sub-id range.
	HostIDCount int `mapstructure:"host_id_count"`
	// AllowUnenforcedLimits lets the server start when the memory or
	// pids limit cannot be enforced (no such cgroup controller, or no
	// delegated cgroup); /health and every record then name the limits
	// not applied. False: such a server refuses to start.
	AllowUnenforcedLimits bool `mapstructure:"allow_unenforced_limits"`
	// SetupDir is where `pyexecd setup` keeps what it made for rootless
	// servers (interpreter copies and their manifest).
	SetupDir string `mapstructure:"setup_dir"`
	// AllowInotify lets runs use inotify. False: refused by seccomp, since
	// on the shared read-only mounts one run could watch which files
	// another opens.
	AllowInotify bool `mapstructure:"allow_inotify"`
	// SandboxUID is the uid/gid (inside the jail) the user's code runs as.
	SandboxUID int `mapstructure:"sandbox_uid"`
	// Network is how runs with network reach the outside.
	Network NetworkConfig `mapstructure:"network"`
}

// ZygoteConfig is the forking templates: one zygote per interpreter, each
// run a fork of it (see docs/jail.md).
type ZygoteConfig struct {
	// Enabled: runs that a zygote serves as a fresh jail would are forked
	// from one; the rest (network, start-up environment) run cold.
	Enabled bool `mapstructure:"enabled"`
	// Eager are the version series whose zygote starts with the server;
	// the others start on their first request, which runs cold meanwhile.
	// Empty: interpreters.default's series.
	Eager []string `mapstructure:"eager"`
	// MaxAge and MaxRuns recycle a zygote (its address-space layout and
	// hash seed) after this long or this many runs.
	MaxAge  time.Duration `mapstructure:"max_age"`
	MaxRuns int           `mapstructure:"max_runs"`
	// Prepared is how many runs each zygote keeps forked ahead of their
	// requests (namespaces, cgroup, mounts and uid made); 0: none.
	Prepared int `mapstructure:"prepared"`
}

// PoolConfig is the pool of pre-started jails.
type PoolConfig struct {
	// Sizes maps a version series ("3.12") to the number of jails kept ready.
	// A series absent or zero has no pool. When neither the file nor the
	// environment sets it, Load keeps 2 jails of the series of
	// Interpreters.Default.
	Sizes map[string]int `mapstructure:"sizes"`
	// MaxAge is how long a pooled jail may wait before it is replaced.
	MaxAge time.Duration `mapstructure:"max_age"`
}

// DepsConfig is the pip layer cache and the package index.
type DepsConfig struct {
	// CacheDir holds the content-addressed layers, absolute. Empty:
	// /var/lib/pyexec/deps as root, ~/.cache/pyexec/deps rootless.
	CacheDir string `mapstructure:"cache_dir"`
	// CacheMaxMB caps the cache; least recently used layers go first. At
	// least InstallDiskMB: a bigger layer would be evicted, and rebuilt,
	// after every use.
	CacheMaxMB int `mapstructure:"cache_max_mb"`
	// IndexURL is pip's --index-url, http(s). Empty means pip's default
	// (PyPI).
	IndexURL string `mapstructure:"index_url"`
	// ExtraIndexURLs are pip's --extra-index-url values, http(s).
	ExtraIndexURLs []string `mapstructure:"extra_index_urls"`
	// FindLinks are pip's --find-links values: http(s) URLs, or absolute
	// directories of wheels (a path or a file: URL), e.g. for an offline
	// box. With only directories and no index, the install jail has no
	// network.
	FindLinks []string `mapstructure:"find_links"`
	// TrustedHosts are pip's --trusted-host values.
	TrustedHosts []string `mapstructure:"trusted_hosts"`
	// AllowSourceBuilds lets pip build source distributions, which runs
	// their code (setup.py, build backends) in the install jail, with its
	// network. False: wheels only (pip --only-binary=:all:).
	AllowSourceBuilds bool `mapstructure:"allow_source_builds"`
	// Warmup are requirement sets installed at start-up, each one layer for
	// the default interpreter; an entry is a requirements_txt body. In the
	// environment, entries are separated by ";" (a requirement's "," is
	// its own), requirements within one by newlines.
	Warmup []string `mapstructure:"warmup" envsep:";"`
	// InstallTimeout bounds one pip install.
	InstallTimeout time.Duration `mapstructure:"install_timeout"`
	// InstallMemoryMB is the memory pip may use in the install jail. The
	// jail's memory limit adds InstallDiskMB for each of its tmpfs (the
	// layer being built and /tmp), whose pages it is charged.
	InstallMemoryMB int `mapstructure:"install_memory_mb"`
	// InstallDiskMB bounds what one install may write: the size of the
	// layer being built and of the install jail's /tmp.
	InstallDiskMB int `mapstructure:"install_disk_mb"`
}

// The default interpreter series and the pool kept for it.
const (
	defaultPython   = "3.12"
	defaultPoolSize = 2
)

// Defaults is the configuration in code; configs/pyexec.yaml mirrors it.
func Defaults() Config {
	return Config{
		Server: ServerConfig{
			Host:          "127.0.0.1",
			Port:          8080,
			ShutdownGrace: 10 * time.Second,
			MaxRequestMB:  limits.MaxRequestMB,
			MaxCodeKB:     limits.MaxCodeKB,

			ReadHeaderTimeout: limits.ReadHeaderTimeout,
			ReadTimeout:       limits.ReadTimeout,
			WriteTimeout:      limits.WriteTimeout,
			IdleTimeout:       limits.IdleTimeout,
			MaxHeaderKB:       limits.MaxHeaderKB,
			MaxConnections:    limits.MaxConnections,
			AuthTokens:        []string{},
			AdminTokens:       []string{},
		},
		Log: LogConfig{Level: "info", Format: "text"},
		Limits: LimitsConfig{
			Default: DefaultLimits{
				Limits:          limits.Defaults(),
				NetworkDisabled: true,
			},
			Max:          maxLimits(),
			AllowNetwork: true,
		},
		Execution: ExecutionConfig{
			MaxConcurrent:     0,
			QueueSize:         limits.QueueSize,
			CleanupTTL:        limits.RecordTTL,
			MaxRecords:        limits.MaxRecords,
			MemoryBudgetMB:    0,
			AutoDetectImports: true,
			QueueMaxMB:        256,
			RecordsDir:        "",
			RecordsMaxMB:      1024,
		},
		Interpreters: InterpreterConfig{
			Roots:   []string{},
			Paths:   []string{},
			System:  true,
			Default: defaultPython,
		},
		Jail: JailConfig{
			Mode:         "auto",
			StateDir:     "",
			CgroupParent: "pyexec",
			HostIDBase:   0,
			HostIDCount:  0,
			SandboxUID:   1000,
			SetupDir:     "/var/lib/pyexec",
			Network:      defaultNetwork(),
		},
		Zygote: ZygoteConfig{
			Enabled:  true,
			Eager:    []string{},
			MaxAge:   10 * time.Minute,
			MaxRuns:  10000,
			Prepared: 1,
		},
		Pool: PoolConfig{
			Sizes:  map[string]int{defaultPython: defaultPoolSize},
			MaxAge: 10 * time.Minute,
		},
		Sessions: defaultSessions(),
		Deps: DepsConfig{
			CacheDir:          "",
			CacheMaxMB:        2048,
			IndexURL:          "",
			ExtraIndexURLs:    []string{},
			FindLinks:         []string{},
			TrustedHosts:      []string{},
			AllowSourceBuilds: false,
			Warmup:            []string{},
			InstallTimeout:    10 * time.Minute,
			InstallMemoryMB:   1024,
			InstallDiskMB:     2048,
		},
		Results: defaultResults(),
	}
}

// maxLimits are the default limits.max: limits.Ceilings with memory_mb
// left to Resolve (the smaller of the ceiling and the memory budget).
func maxLimits() Limits {
	m := limits.Ceilings()
	m.MemoryMB = 0
	return m
}

// Runtime is what the defaults that depend on who runs the server are
// resolved from (see Resolve).
type Runtime struct {
	// Rootless: the server runs as an ordinary user (jail.mode rootless, or
	// auto and not root).
	Rootless bool
	// Home and XDGRuntimeDir are the user's $HOME and $XDG_RUNTIME_DIR.
	Home, XDGRuntimeDir string
	// SubIDCount is the size of the user's sub-id range (rootless only).
	SubIDCount int
	// HostMemoryMB is the host's memory (MemTotal), 0 if unknown.
	HostMemoryMB int
}

// Memory defaults resolved from the host (see Resolve).
const (
	// memoryBudgetPercent of the host's memory is the default budget of
	// the runs executing at once.
	memoryBudgetPercent = 75
)

// RootlessMode tells whether mode ("auto", "root" or "rootless") means a
// rootless server for effective uid euid.
func RootlessMode(mode string, euid int) bool {
	switch mode {
	case "rootless":
		return true
	case "root":
		return false
	}
	return euid != 0
}

// Resolve fills the defaults left empty (zero) that depend on rt: the
// state and cache dirs, the id range, the memory budget and the largest
// memory a run may ask for.
func (c *Config) Resolve(rt Runtime) {
	c.Execution.resolveRecordsDir(rt)
	if c.Execution.MemoryBudgetMB == 0 {
		c.Execution.MemoryBudgetMB = rt.HostMemoryMB * memoryBudgetPercent / 100
	}
	if c.Limits.Max.MemoryMB == 0 {
		c.Limits.Max.MemoryMB = limits.Ceilings().MemoryMB
		if b := c.Execution.MemoryBudgetMB; b > 0 {
			c.Limits.Max.MemoryMB = min(c.Limits.Max.MemoryMB, b)
		}
	}
	j := &c.Jail
	if rt.Rootless {
		// Not $XDG_RUNTIME_DIR: it is 0700, and the jails' ids must be
		// able to search every directory above the state dir.
		if j.StateDir == "" && rt.Home != "" {
			j.StateDir = rt.Home + "/.cache/pyexec/run"
		}
		if c.Deps.CacheDir == "" && rt.Home != "" {
			c.Deps.CacheDir = rt.Home + "/.cache/pyexec/deps"
		}
		if j.HostIDBase == 0 {
			j.HostIDBase = 1
		}
		if j.HostIDCount == 0 {
			j.HostIDCount = rt.SubIDCount
		}
		return
	}
	if j.StateDir == "" {
		j.StateDir = "/run/pyexec"
	}
	if c.Deps.CacheDir == "" {
		c.Deps.CacheDir = "/var/lib/pyexec/deps"
	}
	if j.HostIDBase == 0 {
		j.HostIDBase = 200000
	}
	if j.HostIDCount == 0 {
		j.HostIDCount = 65536
	}
}
