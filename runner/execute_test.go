package runner

import (
	"context"
	"errors"
	"log/slog"
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

// fakeWarm is a warm path that serves (ok) or not, with an error or not,
// and counts its calls.
type fakeWarm struct {
	ok    bool
	err   error
	code  int
	calls int
}

func (f *fakeWarm) RunWatched(context.Context, string, jail.Activation, func(*jail.Jail)) (jail.Result, bool, error) {
	f.calls++
	return jail.Result{ExitCode: f.code}, f.ok, f.err
}

// TestRunWarm covers the choice between the warm paths: the first that
// fits and serves runs the job; one that does not fit is not asked; one
// that declines, with or without an error, hands over to the next; when
// none serves, the caller runs the job cold.
func TestRunWarm(t *testing.T) {
	r := &Runner{log: slog.New(slog.DiscardHandler)}
	boom := errors.New("boom")
	for _, tt := range []struct {
		name      string
		zygote    fakeWarm
		zygoteFit bool
		pool      fakeWarm
		poolFit   bool
		wantOK    bool
		wantCode  int
		wantCalls [2]int
	}{
		{"zygote serves", fakeWarm{ok: true, code: 1}, true, fakeWarm{ok: true, code: 2}, true, true, 1, [2]int{1, 0}},
		{"zygote does not fit", fakeWarm{ok: true, code: 1}, false, fakeWarm{ok: true, code: 2}, true, true, 2, [2]int{0, 1}},
		{"zygote declines", fakeWarm{}, true, fakeWarm{ok: true, code: 2}, true, true, 2, [2]int{1, 1}},
		{"zygote fails to start", fakeWarm{err: boom}, true, fakeWarm{ok: true, code: 2}, true, true, 2, [2]int{1, 1}},
		{"run error is the result", fakeWarm{ok: true, err: boom}, true, fakeWarm{ok: true}, true, true, 0, [2]int{1, 0}},
		{"none fits: cold", fakeWarm{ok: true}, false, fakeWarm{ok: true}, false, false, 0, [2]int{0, 0}},
		{"all decline: cold", fakeWarm{}, true, fakeWarm{err: boom}, true, false, 0, [2]int{1, 1}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			paths := []warmPath{{"zygote", &tt.zygote, tt.zygoteFit}, {"pooled jail", &tt.pool, tt.poolFit}}
			res, ok, err := r.runWarm(context.Background(), paths, "3.12.1", jail.Activation{}, nil)
			if ok != tt.wantOK || (ok && res.ExitCode != tt.wantCode) {
				t.Fatalf("ok %v code %d, want %v %d", ok, res.ExitCode, tt.wantOK, tt.wantCode)
			}
			if ok && tt.zygote.ok && tt.zygoteFit && !errors.Is(err, tt.zygote.err) {
				t.Errorf("err %v, want %v", err, tt.zygote.err)
			}
			if got := [2]int{tt.zygote.calls, tt.pool.calls}; got != tt.wantCalls {
				t.Errorf("calls %v, want %v", got, tt.wantCalls)
			}
		})
	}
}
