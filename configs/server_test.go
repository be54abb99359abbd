package configs

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	tokA = "tok-0123456789abcdef"
	tokB = "tok-fedcba9876543210"
)

func TestValidateServer(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(c *Config)
		wantKey string // empty: valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"zero header timeout", func(c *Config) { c.Server.ReadHeaderTimeout = 0 }, "server.read_header_timeout"},
		{"header timeout above read timeout", func(c *Config) { c.Server.ReadHeaderTimeout, c.Server.ReadTimeout = time.Minute, 30*time.Second }, "server.read_header_timeout: must be <= server.read_timeout"},
		{"sub-second read timeout", func(c *Config) { c.Server.ReadTimeout = 500 * time.Millisecond }, "server.read_timeout"},
		{"write timeout over an hour", func(c *Config) { c.Server.WriteTimeout = 2 * time.Hour }, "server.write_timeout"},
		{"zero idle timeout", func(c *Config) { c.Server.IdleTimeout = 0 }, "server.idle_timeout"},
		{"zero header size", func(c *Config) { c.Server.MaxHeaderKB = 0 }, "server.max_header_kb"},
		{"huge header size", func(c *Config) { c.Server.MaxHeaderKB = 2048 }, "server.max_header_kb"},
		{"zero connections", func(c *Config) { c.Server.MaxConnections = 0 }, "server.max_connections"},
		{"tokens", func(c *Config) { c.Server.AuthTokens, c.Server.AdminTokens = []string{tokA}, []string{tokB + "=="} }, ""},
		{"short token", func(c *Config) { c.Server.AuthTokens = []string{tokA, "short"} }, "server.auth_tokens[1]"},
		{"token with a space", func(c *Config) { c.Server.AdminTokens = []string{"tok 0123456789abcdef"} }, "server.admin_tokens[0]"},
		{"token with a comma", func(c *Config) { c.Server.AuthTokens = []string{"tok,0123456789abcdef"} }, "server.auth_tokens[0]"},
		{"token starting with =", func(c *Config) { c.Server.AuthTokens = []string{"=tok0123456789abcdef"} }, "server.auth_tokens[0]"},
		{"relative token file", func(c *Config) { c.Server.AuthTokensFile = "tokens" }, "server.auth_tokens_file"},
		{"relative admin token file", func(c *Config) { c.Server.AdminTokensFile = "admin" }, "server.admin_tokens_file"},
		{"negative token quota", func(c *Config) { c.Server.TokenMaxConcurrent = -1 }, "server.token_max_concurrent"},
		{"negative token queue", func(c *Config) { c.Server.TokenMaxQueued = -1 }, "server.token_max_queued"},
		{"negative budget", func(c *Config) { c.Execution.MemoryBudgetMB = -1 }, "execution.memory_budget_mb"},
		{"max memory above the budget", func(c *Config) { c.Execution.MemoryBudgetMB = 4096 }, "limits.max.memory_mb: must be <= execution.memory_budget_mb (4096"},
		{"max memory at the budget", func(c *Config) { c.Execution.MemoryBudgetMB = 8192 }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := resolvedDefaults()
			tt.mutate(&c)
			err := c.Validate()
			if tt.wantKey == "" {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantKey) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantKey)
			}
			for _, tok := range append(c.Server.AuthTokens, c.Server.AdminTokens...) {
				if strings.Contains(err.Error(), tok) {
					t.Errorf("the error shows the token: %v", err)
				}
			}
		})
	}
}

func TestTokens(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good", "# the CI runner\n"+tokB+"\n\n  tok-aaaaaaaaaaaaaaaa \r\n")
	admin := write("admin", "adm-0123456789abcdef\n")
	bad := write("bad", tokB+"\ntoo-short-tok\n")
	empty := write("empty", "# nobody yet\n\n")

	user, adm, err := ServerConfig{AuthTokens: []string{tokA}, AuthTokensFile: good, AdminTokensFile: admin}.Tokens()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{tokA, tokB, "tok-aaaaaaaaaaaaaaaa"}; !reflect.DeepEqual(user, want) {
		t.Errorf("user tokens %q, want %q", user, want)
	}
	if want := []string{"adm-0123456789abcdef"}; !reflect.DeepEqual(adm, want) {
		t.Errorf("admin tokens %q, want %q", adm, want)
	}
	if user, adm, err := (ServerConfig{}).Tokens(); err != nil || len(user) != 0 || len(adm) != 0 {
		t.Errorf("no tokens: %q %q %v", user, adm, err)
	}

	for _, tt := range []struct {
		name string
		s    ServerConfig
		want string
	}{
		{"bad line", ServerConfig{AuthTokensFile: bad}, "server.auth_tokens_file: " + bad + ": line 2: a token must have 16"},
		{"no token", ServerConfig{AdminTokensFile: empty}, "server.admin_tokens_file: " + empty + ": holds no token"},
		{"missing file", ServerConfig{AuthTokensFile: filepath.Join(dir, "nope")}, "server.auth_tokens_file: open "},
	} {
		_, _, err := tt.s.Tokens()
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
		if _, ok := errors.AsType[*FieldError](err); !ok {
			t.Errorf("%s: %T is not a *FieldError", tt.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), "too-short-tok") || strings.Contains(err.Error(), tokB)) {
			t.Errorf("%s: the error shows a token: %v", tt.name, err)
		}
	}
}

func TestTokensFromEnv(t *testing.T) {
	c, err := Load(LoadOptions{Env: []string{"PYEXEC_SERVER_AUTH_TOKENS=" + tokA + ", " + tokB, "PYEXEC_SERVER_ADMIN_TOKENS=adm-0123456789abcdef"}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Server.AuthTokens, []string{tokA, tokB}) || !reflect.DeepEqual(c.Server.AdminTokens, []string{"adm-0123456789abcdef"}) {
		t.Errorf("tokens %q, admin %q", c.Server.AuthTokens, c.Server.AdminTokens)
	}
	if _, err := Load(LoadOptions{Env: []string{"PYEXEC_SERVER_AUTH_TOKENS=short"}}); err == nil || !strings.Contains(err.Error(), "server.auth_tokens[0]") {
		t.Errorf("short token from the environment: %v", err)
	}
}

// TestMemoryFromHost: the budget is 75% of the host's memory and the
// largest memory a run may ask for is 8192 MiB or the budget if smaller;
// values given are kept.
func TestMemoryFromHost(t *testing.T) {
	for _, tt := range []struct {
		name              string
		host, budget, max int // given (0: default)
		wantBudget        int
		wantMax           int
	}{
		{"unknown host", 0, 0, 0, 0, 8192},
		{"big host", 24 << 10, 0, 0, 18 << 10, 8192},
		{"small host", 4096, 0, 0, 3072, 3072},
		{"budget given", 4096, 8000, 0, 8000, 8000},
		{"max given", 4096, 0, 2048, 3072, 2048},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			c.Execution.MemoryBudgetMB, c.Limits.Max.MemoryMB = tt.budget, tt.max
			c.Resolve(Runtime{HostMemoryMB: tt.host})
			if c.Execution.MemoryBudgetMB != tt.wantBudget || c.Limits.Max.MemoryMB != tt.wantMax {
				t.Errorf("budget %d max %d, want %d and %d", c.Execution.MemoryBudgetMB, c.Limits.Max.MemoryMB, tt.wantBudget, tt.wantMax)
			}
		})
	}
	// A host too small for the default run says which keys to set.
	c, err := Load(LoadOptions{Runtime: func(string) Runtime { return Runtime{HostMemoryMB: 1024} }})
	if err == nil || !strings.Contains(err.Error(), "limits.default.memory_mb: must be <= limits.max.memory_mb (768)") {
		t.Errorf("1 GiB host: %v (%+v)", err, c.Limits)
	}
}

func TestLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.1.2.3": true, "::1": true, "localhost": true, "LocalHost": true,
		"": false, "0.0.0.0": false, "::": false, "10.0.0.1": false, "example.org": false,
	} {
		if got := (ServerConfig{Host: host}).Loopback(); got != want {
			t.Errorf("Loopback(%q) = %v", host, got)
		}
	}
}
