package server

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

func testPolicy(t *testing.T, allowNetwork bool) limitPolicy {
	t.Helper()
	o := Options{Max: limits.Values{CPULimit: 2}}.withDefaults()
	return limitPolicy{defaults: o.Defaults, max: o.Max, allowNetwork: allowNetwork}
}

func TestResolveLimits(t *testing.T) {
	defaults := Limits{
		Timeout:        300 * time.Second,
		MemoryBytes:    1024 << 20,
		DiskBytes:      2048 << 20,
		CPUShares:      1024,
		Pids:           256,
		MaxOutputBytes: 1 << 20,
	}
	tests := []struct {
		name    string
		config  string // JSON; "" for nil
		network bool   // AllowNetwork
		want    Limits
		wantErr string
	}{
		{name: "absent", want: defaults},
		{name: "empty", config: `{}`, want: defaults},
		{
			name:   "python-executor client",
			config: `{"timeout_seconds":300,"memory_mb":1024,"disk_mb":2048,"cpu_shares":1024,"network_disabled":true}`,
			want:   defaults,
		},
		{
			name:   "every field",
			config: `{"timeout_seconds":2,"memory_mb":64,"disk_mb":10,"cpu_shares":512,"cpu_limit":0.5,"pids_limit":32,"max_output_bytes":4096}`,
			want: Limits{Timeout: 2 * time.Second, MemoryBytes: 64 << 20, DiskBytes: 10 << 20, CPUShares: 512,
				CPULimit: 0.5, Pids: 32, MaxOutputBytes: 4096},
		},
		{name: "network allowed", config: `{"network_disabled":false}`, network: true,
			want: func() Limits { l := defaults; l.Network = true; return l }()},
		{name: "network refused", config: `{"network_disabled":false}`, wantErr: "config.network_disabled=false is not allowed: this server runs code without network access; requirements_txt is installed without it"},
		{name: "timeout low", config: `{"timeout_seconds":0}`, wantErr: "config.timeout_seconds must be between 1 and 3600"},
		{name: "timeout high is clamped", config: `{"timeout_seconds":99999}`,
			want: func() Limits { l := defaults; l.Timeout = time.Hour; return l }()},
		{name: "memory low", config: `{"memory_mb":15}`, wantErr: "config.memory_mb must be between 16 and 8192"},
		{name: "memory high", config: `{"memory_mb":8193}`, wantErr: "config.memory_mb must be between 16 and 8192"},
		{name: "disk", config: `{"disk_mb":-1}`, wantErr: "config.disk_mb must be between 1 and 8192"},
		{name: "cpu shares", config: `{"cpu_shares":1}`, wantErr: "config.cpu_shares must be between 2 and 262144"},
		{name: "cpu limit", config: `{"cpu_limit":3}`, wantErr: "config.cpu_limit must be between 0.01 and 2"},
		{name: "cpu limit zero", config: `{"cpu_limit":0}`, wantErr: "config.cpu_limit must be between 0.01 and 2"},
		{name: "pids", config: `{"pids_limit":7}`, wantErr: "config.pids_limit must be between 8 and 4096"},
		{name: "output", config: `{"max_output_bytes":1023}`, wantErr: "config.max_output_bytes must be between 1024 and 16777216"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c *api.Config
			if tt.config != "" {
				if err := json.Unmarshal([]byte(tt.config), &c); err != nil {
					t.Fatal(err)
				}
			}
			got, err := testPolicy(t, tt.network).resolve(c)
			if tt.wantErr != "" {
				var re *requestError
				if !errors.As(err, &re) || re.Status != 400 || !strings.Contains(re.Msg, tt.wantErr) {
					t.Fatalf("err = %v, want 400 %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"default above max", Options{Defaults: limits.Values{MemoryMB: 4096}, Max: limits.Values{MemoryMB: 2048}}, "default memory_mb"},
		{"max below min", Options{Max: limits.Values{PidsLimit: 4}}, "max pids_limit"},
		{"shares above kernel bound", Options{Max: limits.Values{CPUShares: 300000}}, "max cpu_shares"},
		{"negative default", Options{Defaults: limits.Values{TimeoutSeconds: -1}}, "default timeout_seconds"},
		{"records too few", Options{MaxConcurrent: 4, QueueSize: 10, MaxRecords: 5}, "max records"},
		{"negative queue", Options{QueueSize: -1}, "queue size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts, &fakeRunner{}, &fakeInterps{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
	t.Run("nil runner", func(t *testing.T) {
		if _, err := New(Options{}, nil, &fakeInterps{}); err == nil {
			t.Error("err = nil")
		}
	})
}

// TestResolveNetworkUnavailable: with network allowed but no NAT helper, a
// request with network gets a 400 that says what is missing; one without
// network is unaffected.
func TestResolveNetworkUnavailable(t *testing.T) {
	p := testPolicy(t, true)
	p.netUnavailable = `the NAT helper "pasta" was not found (install Debian's passt package)`
	_, err := p.resolve(&api.Config{NetworkDisabled: ptrTo(false)})
	var re *requestError
	if !errors.As(err, &re) || re.Status != 400 || !strings.Contains(re.Msg, "passt") ||
		!strings.Contains(re.Msg, "network for runs is unavailable") {
		t.Fatalf("network on: %v", err)
	}
	if l, err := p.resolve(&api.Config{NetworkDisabled: ptrTo(true)}); err != nil || l.Network {
		t.Fatalf("network off: %+v %v", l, err)
	}
}

func ptrTo[T any](v T) *T { return &v }
