package configs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// writeConfig writes a YAML file in a temporary directory and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pyexec.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// testFlags defines the flags cmd/pyexecd is expected to define and parses args.
func testFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("pyexecd", pflag.ContinueOnError)
	fs.String("host", "127.0.0.1", "")
	fs.Int("port", 1234, "")
	fs.String("log-level", "info", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name    string
		file    string   // YAML body; empty means no file
		env     []string // NAME=value
		flags   []string // nil means no FlagSet
		check   func(t *testing.T, c Config)
		wantErr string // substring of the error; empty means success
	}{
		{
			name: "defaults only",
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c, resolvedDefaults()) {
					t.Errorf("got %+v, want resolvedDefaults()", c)
				}
			},
		},
		{
			name: "yaml overrides",
			file: "server:\n  port: 9000\nlimits:\n  max:\n    memory_mb: 4096\n" +
				"deps:\n  extra_index_urls: [\"https://a.example/simple\"]\npool:\n  sizes:\n    \"3.11\": 1\n",
			check: func(t *testing.T, c Config) {
				want := resolvedDefaults()
				want.Server.Port = 9000
				want.Limits.Max.MemoryMB = 4096
				want.Deps.ExtraIndexURLs = []string{"https://a.example/simple"}
				want.Pool.Sizes = map[string]int{"3.11": 1} // replaced, not merged
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "env overrides file",
			file: "server:\n  port: 9000\nexecution:\n  queue_size: 5\npool:\n  sizes:\n    \"3.11\": 1\n",
			env: []string{
				"PYEXEC_SERVER_PORT=9100", "PYEXEC_EXECUTION_QUEUE_SIZE=7",
				"PYEXEC_DEPS_INDEX_URL=https://pypi.example/simple", "PYEXEC_LIMITS_MAX_MEMORY_MB=4096",
				"PYEXEC_POOL_SIZES=3.12=3, 3.13=1", "PYEXEC_DEPS_FIND_LINKS=/srv/wheels, ,https://w.example/",
				"UNRELATED=x", "PYEXEC_UNKNOWN=ignored",
			},
			check: func(t *testing.T, c Config) {
				want := resolvedDefaults()
				want.Server.Port = 9100
				want.Execution.QueueSize = 7
				want.Deps.IndexURL = "https://pypi.example/simple"
				want.Limits.Max.MemoryMB = 4096
				want.Pool.Sizes = map[string]int{"3.12": 3, "3.13": 1}
				want.Deps.FindLinks = []string{"/srv/wheels", "https://w.example/"}
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "legacy env names",
			env: []string{
				"PYEXEC_HOST=0.0.0.0", "PYEXEC_PORT=8000", "PYEXEC_LOG_LEVEL=DEBUG",
				"PYEXEC_DEFAULT_TIMEOUT=30", "PYEXEC_DEFAULT_MEMORY_MB=512", "PYEXEC_DEFAULT_DISK_MB=100",
				"PYEXEC_DEFAULT_CPU_SHARES=512", "PYEXEC_AUTO_DETECT_IMPORTS=false", "PYEXEC_CLEANUP_TTL=3600",
			},
			check: func(t *testing.T, c Config) {
				want := resolvedDefaults()
				want.Server.Host = "0.0.0.0"
				want.Server.Port = 8000
				want.Log.Level = "debug"
				want.Limits.Default.TimeoutSeconds = 30
				want.Limits.Default.MemoryMB = 512
				want.Limits.Default.DiskMB = 100
				want.Limits.Default.CPUShares = 512
				want.Execution.AutoDetectImports = false
				want.Execution.CleanupTTL = time.Hour
				if !reflect.DeepEqual(c, want) {
					t.Errorf("got %+v\nwant %+v", c, want)
				}
			},
		},
		{
			name: "canonical env wins over legacy",
			env:  []string{"PYEXEC_SERVER_HOST=10.0.0.1", "PYEXEC_HOST=10.0.0.2"},
			check: func(t *testing.T, c Config) {
				if c.Server.Host != "10.0.0.1" {
					t.Errorf("host = %q, want 10.0.0.1", c.Server.Host)
				}
			},
		},
		{
			name:  "flags override env",
			file:  "server:\n  port: 9000\n",
			env:   []string{"PYEXEC_PORT=9100", "PYEXEC_HOST=10.0.0.2", "PYEXEC_LOG_LEVEL=error"},
			flags: []string{"--port=9200", "--host=10.0.0.3", "--log-level=warn"},
			check: func(t *testing.T, c Config) {
				if c.Server.Port != 9200 || c.Server.Host != "10.0.0.3" || c.Log.Level != "warn" {
					t.Errorf("server = %+v, log = %+v", c.Server, c.Log)
				}
			},
		},
		{
			name:  "unchanged flags do not override",
			env:   []string{"PYEXEC_PORT=9100"},
			flags: []string{},
			check: func(t *testing.T, c Config) {
				if c.Server.Port != 9100 || c.Server.Host != "127.0.0.1" {
					t.Errorf("server = %+v", c.Server)
				}
			},
		},
		{
			// Specifiers hold commas: warm-up entries are ";"-separated.
			name: "env warmup entries",
			env:  []string{"PYEXEC_DEPS_WARMUP=numpy>=1,<2; pandas[excel]\nsix ;;requests"},
			check: func(t *testing.T, c Config) {
				want := []string{"numpy>=1,<2", "pandas[excel]\nsix", "requests"}
				if !reflect.DeepEqual(c.Deps.Warmup, want) {
					t.Errorf("warmup = %q, want %q", c.Deps.Warmup, want)
				}
			},
		},
		{name: "env warmup with a marker", env: []string{"PYEXEC_DEPS_WARMUP=numpy; python_version >= '3.8'"}, wantErr: "deps.warmup[1]"},
		{name: "env source builds", env: []string{"PYEXEC_DEPS_ALLOW_SOURCE_BUILDS=yes"},
			check: func(t *testing.T, c Config) {
				if !c.Deps.AllowSourceBuilds {
					t.Error("allow_source_builds not set")
				}
			}},
		{name: "unknown key error names the key", file: "server:\n  port: 1\n  bogus: 2\n", wantErr: "server.bogus"},
		{name: "unknown section error names it", file: "nope:\n  x: 1\n", wantErr: "nope.x"},
		{name: "unknown limits key", file: "limits:\n  max:\n    network_disabled: true\n", wantErr: "limits.max.network_disabled"},
		{name: "bad env int names the variable", env: []string{"PYEXEC_PORT=abc"}, wantErr: "PYEXEC_PORT"},
		{name: "bad env bool names the variable", env: []string{"PYEXEC_JAIL_STATE_DIR=/x", "PYEXEC_INTERPRETERS_SYSTEM=maybe"}, wantErr: "PYEXEC_INTERPRETERS_SYSTEM"},
		{name: "bad env float names the variable", env: []string{"PYEXEC_LIMITS_MAX_CPU_LIMIT=two"}, wantErr: "PYEXEC_LIMITS_MAX_CPU_LIMIT"},
		{name: "bad env pool sizes names the variable", env: []string{"PYEXEC_POOL_SIZES=3.12"}, wantErr: "PYEXEC_POOL_SIZES"},
		{name: "invalid flag value names the key", flags: []string{"--log-level=loud"}, wantErr: "log.level"},
		{name: "bad file value names the key", file: "server:\n  port: abc\n", wantErr: "server.port"},
		{name: "invalid file value names the key", file: "limits:\n  max:\n    memory_mb: 8\n", wantErr: "limits.max.memory_mb: must be >= 16"},
		{name: "invalid env value names the key", env: []string{"PYEXEC_SERVER_PORT=70000"}, wantErr: "server.port"},
		{name: "unquoted version is refused", file: "interpreters:\n  default: 3.10\n", wantErr: "interpreters.default"},
		{name: "unquoted pool version is refused", file: "pool:\n  sizes:\n    3.10: 1\n", wantErr: "pool.sizes.3.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Env: tt.env}
			if tt.file != "" {
				opts.ConfigFile = writeConfig(t, tt.file)
			}
			if tt.flags != nil {
				opts.Flags = testFlags(t, tt.flags...)
			}
			c, err := Load(opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(LoadOptions{ConfigFile: filepath.Join(t.TempDir(), "absent.yaml")})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadBadFlag(t *testing.T) {
	fs := pflag.NewFlagSet("pyexecd", pflag.ContinueOnError)
	fs.String("port", "", "") // a string flag lets a non-number through to Load
	if err := fs.Parse([]string{"--port=http"}); err != nil {
		t.Fatal(err)
	}
	_, err := Load(LoadOptions{Flags: fs})
	if err == nil || !strings.Contains(err.Error(), "--port") {
		t.Fatalf("Load error = %v, want one naming --port", err)
	}
}

func TestDurations(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		env     []string
		want    time.Duration
		wantErr string
	}{
		{name: "yaml go duration", file: "execution:\n  cleanup_ttl: 90s\n", want: 90 * time.Second},
		{name: "yaml compound duration", file: "execution:\n  cleanup_ttl: 1h30m\n", want: 90 * time.Minute},
		{name: "yaml integer is seconds", file: "execution:\n  cleanup_ttl: 3600\n", want: time.Hour},
		{name: "yaml quoted integer is seconds", file: "execution:\n  cleanup_ttl: \"120\"\n", want: 2 * time.Minute},
		{name: "yaml float is seconds", file: "execution:\n  cleanup_ttl: 1.5\n", want: 1500 * time.Millisecond},
		{name: "env go duration", env: []string{"PYEXEC_EXECUTION_CLEANUP_TTL=2h"}, want: 2 * time.Hour},
		{name: "legacy env seconds", env: []string{"PYEXEC_CLEANUP_TTL=3600"}, want: time.Hour},
		{name: "legacy env go duration", env: []string{"PYEXEC_CLEANUP_TTL=1h"}, want: time.Hour},
		{name: "bad yaml duration names the key", file: "execution:\n  cleanup_ttl: soon\n", wantErr: "cleanup_ttl"},
		{name: "bad env duration names the variable", env: []string{"PYEXEC_CLEANUP_TTL=soon"}, wantErr: "PYEXEC_CLEANUP_TTL"},
		{name: "zero ttl is invalid", env: []string{"PYEXEC_CLEANUP_TTL=0"}, wantErr: "execution.cleanup_ttl"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Env: tt.env}
			if tt.file != "" {
				opts.ConfigFile = writeConfig(t, tt.file)
			}
			c, err := Load(opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantErr)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Execution.CleanupTTL != tt.want {
				t.Errorf("cleanup_ttl = %s, want %s", c.Execution.CleanupTTL, tt.want)
			}
		})
	}
}

// resolvedDefaults is what Load returns with no sources: the defaults,
// resolved as for root.
func resolvedDefaults() Config {
	c := Defaults()
	c.Resolve(Runtime{})
	return c
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name            string
		rt              Runtime
		state, cache    string
		idBase, idCount int
	}{
		{name: "root", rt: Runtime{}, state: "/run/pyexec", cache: "/var/lib/pyexec/deps", idBase: 200000, idCount: 65536},
		{name: "rootless with XDG", rt: Runtime{Rootless: true, Home: "/home/u", XDGRuntimeDir: "/run/user/1000", SubIDCount: 65536},
			state: "/home/u/.cache/pyexec/run", cache: "/home/u/.cache/pyexec/deps", idBase: 1, idCount: 65536},
		{name: "rootless without XDG", rt: Runtime{Rootless: true, Home: "/home/u", SubIDCount: 4096},
			state: "/home/u/.cache/pyexec/run", cache: "/home/u/.cache/pyexec/deps", idBase: 1, idCount: 4096},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Resolve(tt.rt)
			if c.Jail.StateDir != tt.state || c.Deps.CacheDir != tt.cache || c.Jail.HostIDBase != tt.idBase || c.Jail.HostIDCount != tt.idCount {
				t.Errorf("got state %q cache %q ids %d+%d", c.Jail.StateDir, c.Deps.CacheDir, c.Jail.HostIDBase, c.Jail.HostIDCount)
			}
		})
	}
	// Values given are kept.
	c := Defaults()
	c.Jail.StateDir, c.Jail.HostIDBase = "/srv/state", 7
	c.Resolve(Runtime{Rootless: true, Home: "/home/u", SubIDCount: 10})
	if c.Jail.StateDir != "/srv/state" || c.Jail.HostIDBase != 7 {
		t.Errorf("given values replaced: %q %d", c.Jail.StateDir, c.Jail.HostIDBase)
	}
}

func TestRootlessMode(t *testing.T) {
	for _, tt := range []struct {
		mode string
		euid int
		want bool
	}{{"auto", 0, false}, {"auto", 1000, true}, {"root", 1000, false}, {"rootless", 0, true}} {
		if got := RootlessMode(tt.mode, tt.euid); got != tt.want {
			t.Errorf("RootlessMode(%q, %d) = %v", tt.mode, tt.euid, got)
		}
	}
}
