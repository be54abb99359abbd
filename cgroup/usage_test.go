package cgroup

import (
	"strings"
	"testing"
)

func TestParseUint(t *testing.T) {
	tests := []struct {
		name, in string
		want     int64
		wantErr  bool
	}{
		{"plain", "1234\n", 1234, false},
		{"max", "max\n", 0, false},
		{"zero", "0", 0, false},
		{"garbage", "12a", 0, true},
		{"empty", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseUint(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestParseKeyed(t *testing.T) {
	oomControl := "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
	cpuStat := "usage_usec 52341\nuser_usec 40000\nsystem_usec 12341\nnr_periods 0\n"
	events := "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n"
	tests := []struct {
		name, in, key string
		want          int64
		found         bool
		wantErr       bool
	}{
		{"v1 oom_control", oomControl, "oom_kill", 3, true, false},
		{"v1 oom_control old kernel", "oom_kill_disable 0\nunder_oom 0\n", "oom_kill", 0, false, false},
		{"v2 cpu.stat", cpuStat, "usage_usec", 52341, true, false},
		{"v2 memory.events", events, "oom_kill", 1, true, false},
		{"prefix is not key", events, "oom", 1, true, false},
		{"bad value", "oom_kill x\n", "oom_kill", 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found, err := parseKeyed(strings.NewReader(tt.in), tt.key)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want || found != tt.found {
				t.Fatalf("got (%d, %v), want (%d, %v)", got, found, tt.want, tt.found)
			}
		})
	}
}

func TestSharesToWeight(t *testing.T) {
	tests := []struct{ shares, weight uint64 }{
		{0, 0}, {2, 1}, {1024, 39}, {262144, 10000},
	}
	for _, tt := range tests {
		if got := sharesToWeight(tt.shares); got != tt.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tt.shares, got, tt.weight)
		}
	}
}

func TestLimitsValidate(t *testing.T) {
	tests := []struct {
		name    string
		l       Limits
		wantErr bool
	}{
		{"zero means unlimited", Limits{}, false},
		{"typical", Limits{MemoryBytes: 64 << 20, CPUShares: 1024, CPUs: 0.5, Pids: 64}, false},
		{"shares too low", Limits{CPUShares: 1}, true},
		{"negative memory", Limits{MemoryBytes: -1}, true},
		{"negative cpus", Limits{CPUs: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.l.Validate(); (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := map[string]bool{
		"pyexec": true, "j0123abcd": true, "pyexec-e2e_1.x": true,
		"": false, "-x": false, ".hidden": false, "a/b": false, "..": false, "a b": false,
		string(make([]byte, 129)): false,
	}
	for name, want := range tests {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v, want %v", name, got, want)
		}
	}
}
