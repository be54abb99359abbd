package jail_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/jail"
)

// forgeStatus is code that writes its run's end on the status pipe itself
// (the bootstrap's descriptor, found through its frames, as hostile code
// could) and goes on: its orphan holds stdout, the code sleeps.
const forgeStatus = `import os, subprocess, sys, time
f = sys._getframe()
while f is not None and "_Z" not in f.f_globals:
    f = f.f_back
subprocess.Popen(["/bin/sleep", "60"])
print("before", flush=True)
os.write(f.f_globals["_Z"].status, b"exit 0\n")
time.sleep(60)
`

// TestForgedStatus: a run that reports its own end and goes on is ended
// there, on the zygote and the cold path; its output so far is kept, and
// the wait does not last until its timeout.
func TestForgedStatus(t *testing.T) {
	e := testEnv(t)
	z := zygote(t, e, "3.12")
	for _, tc := range []struct {
		name string
		run  func() jail.Result
	}{
		{"zygote", func() jail.Result { return zrun(t, z, forgeStatus, jail.Limits{Timeout: 30 * time.Second}) }},
		{"cold", func() jail.Result {
			spec := e.python(t, "3.12", forgeStatus)
			spec.Limits.Timeout = 30 * time.Second
			return run(t, e, spec)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			res := tc.run()
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("the run lasted %v after reporting its end", d)
			}
			if res.ExitCode != 0 || res.TimedOut || !strings.Contains(string(res.Stdout), "before") {
				t.Fatalf("exit %d timed out %v stdout %q stderr %q", res.ExitCode, res.TimedOut, res.Stdout, res.Stderr)
			}
		})
	}
}
