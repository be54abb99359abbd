package jail_test

import (
	"testing"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// TestWarmLimits checks that a pooled jail enforces a request's memory
// limit both when it equals the limit the jail was started with (the
// cgroup is not rewritten) and when it differs (it is).
func TestWarmLimits(t *testing.T) {
	e := testEnv(t)
	in, _ := e.interp.Select("3.12")
	tmpl := e.python(t, "3.12", "")
	tmpl.Args = in.WarmCommand()
	tmpl.Limits.Limits = cgroup.Limits{MemoryBytes: 64 << 20, Pids: 64}
	code := "print('start', flush=True)\nx = bytearray(200 << 20)\nprint('survived')"
	for _, tt := range []struct {
		name   string
		limits cgroup.Limits
		oom    bool
	}{
		{"same limits as the pool", cgroup.Limits{MemoryBytes: 64 << 20, Pids: 64}, true},
		{"lower", cgroup.Limits{MemoryBytes: 32 << 20, Pids: 64}, true},
		{"higher", cgroup.Limits{MemoryBytes: 512 << 20, Pids: 64}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			j, err := e.m.StartWarm(tmpl, interpreters.WarmReady)
			if err != nil {
				t.Fatal(err)
			}
			err = j.Activate(jail.Activation{
				Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
				Limits:  jail.Limits{Limits: tt.limits},
				Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, tmpl.Env),
			})
			if err != nil {
				j.Kill()
				j.Wait()
				t.Fatal(err)
			}
			res, err := j.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if res.OOMKilled != tt.oom || (string(res.Stdout) == "start\nsurvived\n") == tt.oom {
				t.Fatalf("oom_killed %v stdout %q, want oom %v", res.OOMKilled, res.Stdout, tt.oom)
			}
		})
	}
}
