package main

import (
	"testing"

	"github.com/pyexec/pyexec/jail"
)

func TestWarmable(t *testing.T) {
	const disk = 64 << 20
	base := jail.Spec{Limits: jail.Limits{DiskBytes: disk}, Env: []string{"PATH=/usr/bin", "HOME=/tmp", "LANG=C.UTF-8"}}
	with := func(f func(*jail.Spec)) jail.Spec {
		s := base
		s.Env = append([]string(nil), base.Env...)
		f(&s)
		return s
	}
	env := func(kv string) jail.Spec { return with(func(s *jail.Spec) { s.Env = append(s.Env, kv) }) }
	tests := []struct {
		name     string
		spec     jail.Spec
		poolDisk int64
		want     bool
	}{
		{"plain", base, disk, true},
		{"user variables", env("FOO=bar"), disk, true},
		{"no pool", base, 0, false},
		{"network", with(func(s *jail.Spec) { s.Network = true }), disk, false},
		{"other disk size", with(func(s *jail.Spec) { s.Limits.DiskBytes = disk * 2 }), disk, false},
		{"PYTHONHASHSEED", env("PYTHONHASHSEED=0"), disk, false},
		{"PYTHONPATH", env("PYTHONPATH=/work/lib"), disk, false},
		{"LC_ALL", env("LC_ALL=C"), disk, false},
		{"LANG changed", env("LANG=en_US.UTF-8"), disk, false},
		{"LANG same", env("LANG=C.UTF-8"), disk, true},
		{"LD_PRELOAD", env("LD_PRELOAD=/work/x.so"), disk, false},
		{"GLIBC_TUNABLES", env("GLIBC_TUNABLES=glibc.malloc.check=3"), disk, false},
		{"MALLOC_ARENA_MAX", env("MALLOC_ARENA_MAX=2"), disk, false},
		{"HOME changed: user site-packages", env("HOME=/work"), disk, false},
		{"TZ", env("TZ=Asia/Tokyo"), disk, false},
		{"HOME same", env("HOME=/tmp"), disk, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := warmable(tt.spec, tt.poolDisk); got != tt.want {
				t.Fatalf("warmable = %v, want %v", got, tt.want)
			}
		})
	}
}
