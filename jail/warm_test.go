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

// TestRunCPUIsTheRequests: the CPU time of a run counts the request only,
// not the pooled jail's (or the zygote's) start-up: a trivial run through
// either costs a fraction of a cold run, whose start-up is its own.
func TestRunCPUIsTheRequests(t *testing.T) {
	e := testEnv(t)
	in, _ := e.interp.Select("3.12")
	cold := run(t, e, e.python(t, "3.12", "pass"))
	tmpl := e.python(t, "3.12", "")
	tmpl.Args = in.WarmCommand()
	j, err := e.m.StartWarm(tmpl, interpreters.WarmReady)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Activate(jail.Activation{
		Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte("pass")}},
		Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, tmpl.Env),
	}); err != nil {
		j.Kill()
		j.Wait()
		t.Fatal(err)
	}
	warm, err := j.Wait()
	if err != nil {
		t.Fatal(err)
	}
	z := zygote(t, e, "3.12")
	forked := zrun(t, z, "pass", jail.Limits{})
	t.Logf("cpu: cold %v, pooled %v, zygote %v", cold.Usage.CPU, warm.Usage.CPU, forked.Usage.CPU)
	if warm.Usage.CPU <= 0 || warm.Usage.CPU*2 > cold.Usage.CPU {
		t.Errorf("a pooled run's cpu %v is not a fraction of a cold run's %v: it counts the jail's start-up", warm.Usage.CPU, cold.Usage.CPU)
	}
	if forked.Usage.CPU <= 0 || forked.Usage.CPU*2 > cold.Usage.CPU {
		t.Errorf("a zygote run's cpu %v is not a fraction of a cold run's %v", forked.Usage.CPU, cold.Usage.CPU)
	}
}
