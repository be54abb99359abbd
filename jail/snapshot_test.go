package jail_test

import (
	"context"
	"testing"
	"time"

	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
)

// TestOutputWhileRunning reads a running jail's output, cold and pooled,
// within the output cap, then kills the jail: the snapshot was taken while
// the code still ran (it sleeps 30 s), and the Result keeps the same.
func TestOutputWhileRunning(t *testing.T) {
	e := testEnv(t)
	in, _ := e.interp.Select("3.12")
	code := "import sys, time\nprint('abcdefgh', flush=True)\nsys.stderr.write('e\\n')\nsys.stderr.flush()\ntime.sleep(30)\n"
	run := func(t *testing.T, pooled bool, max int64, started func(*jail.Jail)) jail.Result {
		t.Helper()
		ctx := context.Background()
		if !pooled {
			spec := e.python(t, "3.12", code)
			spec.Limits.MaxOutputBytes = max
			res, err := e.m.RunWatched(ctx, spec, started)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		tmpl := e.python(t, "3.12", "")
		tmpl.Args = in.WarmCommand()
		pool, err := e.m.NewPool([]jail.Template{{Key: "3.12", Spec: tmpl, Size: 1, Ready: interpreters.WarmReady}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		waitReady(t, pool)
		res, ok, err := pool.RunWatched(ctx, "3.12", jail.Activation{
			Files:   []jail.File{{Path: "main.py", Mode: 0o644, Data: []byte(code)}},
			Limits:  jail.Limits{Limits: tmpl.Limits.Limits, MaxOutputBytes: max},
			Control: interpreters.EncodeRequest(interpreters.Run{Entrypoint: "main.py"}, tmpl.Env),
		}, started)
		if err != nil || !ok {
			t.Fatalf("pooled run: ok %v err %v", ok, err)
		}
		return res
	}
	for _, tt := range []struct {
		name      string
		pooled    bool
		max       int64
		stdout    string
		truncated bool
	}{
		{"cold", false, 0, "abcdefgh\n", false},
		{"cold over the cap", false, 4, "abcd", true},
		{"pooled", true, 0, "abcdefgh\n", false},
		{"pooled over the cap", true, 4, "abcd", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			seen := make(chan jail.Output, 1)
			res := run(t, tt.pooled, tt.max, func(j *jail.Jail) {
				go func() {
					defer j.Kill()
					deadline := time.Now().Add(20 * time.Second)
					for time.Now().Before(deadline) {
						if o := j.Output(); o.Stdout == tt.stdout && o.Stderr == "e\n" {
							seen <- o
							return
						}
						time.Sleep(5 * time.Millisecond)
					}
					seen <- j.Output()
				}()
			})
			o := <-seen
			if o.Stdout != tt.stdout || o.StdoutTruncated != tt.truncated || o.Stderr != "e\n" || o.StderrTruncated {
				t.Errorf("while running: %+v, want stdout %q truncated %v", o, tt.stdout, tt.truncated)
			}
			if !res.Killed || string(res.Stdout) != tt.stdout || res.StdoutTruncated != tt.truncated {
				t.Errorf("result: killed %v stdout %q truncated %v", res.Killed, res.Stdout, res.StdoutTruncated)
			}
		})
	}
}
