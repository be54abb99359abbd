package test

// The CLI's asynchronous commands, eval, version, and its error reporting.

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

var execIDLine = regexp.MustCompile(`^exe_[A-Za-z0-9_-]+\n$`)

// submitID runs `pyexec <args>` with code on stdin and returns the id it
// printed.
func submitID(t *testing.T, s *Server, code string, args ...string) string {
	t.Helper()
	o := cli(t, s.URL, cliRun{args: args, stdin: code})
	if o.code != 0 || o.stderr != "" || !execIDLine.MatchString(o.stdout) {
		t.Fatalf("pyexec %s: got %v; want exit 0 and one execution id (exe_...)", strings.Join(args, " "), o)
	}
	return strings.TrimSpace(o.stdout)
}

func TestCLISubmitFollow(t *testing.T) {
	s := sharedServer(t)
	code := "import sys\nprint('async out')\nprint('async err', file=sys.stderr)\nsys.exit(5)\n"
	for _, args := range [][]string{{"submit"}, {"run", "--async"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			id := submitID(t, s, code, args...)
			cli(t, s.URL, cliRun{args: []string{"follow", id}}).want(t, 5, "async out\n", "async err\n")
			// Following a finished execution reports it again.
			cli(t, s.URL, cliRun{args: []string{"follow", "-q", id}}).want(t, 5, "", "")
		})
	}
}

func TestCLIKill(t *testing.T) {
	s := sharedServer(t)
	// The record shows the output so far: "started" says the script runs.
	id := submitID(t, s, "import time\nprint('started', flush=True)\ntime.sleep(120)\n", "submit")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, e := s.get(t, id, 0); strings.Contains(e.Stdout, "started") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the script did not start within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cli(t, s.URL, cliRun{args: []string{"kill", id}}).want(t, 0, "Execution killed\n", "")
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("pyexec kill took %v", took)
	}
	if status, e := s.get(t, id, 10*time.Second); status != http.StatusOK || e.Status != api.StatusKilled {
		t.Errorf("after pyexec kill: GET status %d, record %s; want killed", status, describe(e))
	}
	// 137 is the CLI's documented exit code for a killed execution.
	cli(t, s.URL, cliRun{args: []string{"follow", id}}).want(t, 137, "started\n", "pyexec: execution was killed\n")
	// The server answers a second kill with the record's status, still
	// "killed", which the CLI cannot tell from a kill it did.
	cli(t, s.URL, cliRun{args: []string{"kill", id}}).want(t, 0, "Execution killed\n", "")
	// Killing a finished execution leaves it alone.
	done := submitID(t, s, "print('done')", "submit")
	cli(t, s.URL, cliRun{args: []string{"follow", done}}).want(t, 0, "done\n", "")
	cli(t, s.URL, cliRun{args: []string{"kill", done}}).want(t, 0, "Execution not running (status: completed)\n", "")
}

func TestCLIEval(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name     string
		run      cliRun
		code     int
		out, err string
	}{
		{"expression", cliRun{args: []string{"eval", "2 + 2"}}, 0, "4\n", ""},
		{"stdout then repr", cliRun{args: []string{"eval", "print('hello')\n'wor' + 'ld'"}}, 0, "hello\n'world'\n", ""},
		{"None prints nothing", cliRun{args: []string{"eval", "x = 1\nNone"}}, 0, "", ""},
		{"--no-result", cliRun{args: []string{"eval", "--no-result", "print('hello'); 42"}}, 0, "hello\n", ""},
		{"from stdin", cliRun{args: []string{"eval"}, stdin: "x = 6\nx * 7\n"}, 0, "42\n", ""},
		{"from stdin with -", cliRun{args: []string{"eval", "-"}, stdin: "'dash'"}, 0, "'dash'\n", ""},
		{"--python 3.11", cliRun{args: []string{"eval", "--python", "3.11", "import sys\nsys.version_info[:2]"}}, 0, "(3, 11)\n", ""},
		{"--image", cliRun{args: []string{"eval", "--image", "python:3.10-slim"}, stdin: "import sys; sys.version_info[:2]"}, 0, "(3, 10)\n", ""},
		{"quiet prints the result", cliRun{args: []string{"eval", "-q", "print('noise'); 7"}}, 0, "7\n", ""},
		{"stderr", cliRun{args: []string{"eval", "import sys; sys.stderr.write('e\\n'); 1"}}, 0, "1\n", "e\n"},
		{"sys.exit", cliRun{args: []string{"eval", "import sys; print('x'); sys.exit(4)"}}, 4, "x\n", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cli(t, s.URL, c.run).want(t, c.code, c.out, c.err)
		})
	}
	t.Run("exception", func(t *testing.T) {
		cli(t, s.URL, cliRun{args: []string{"eval", "1/0"}}).want(t, 1, "", "", "Traceback (most recent call last):\n", "\nZeroDivisionError: division by zero\n")
	})
}

func TestCLIVersion(t *testing.T) {
	// No server is needed; the URL is never used.
	o := cli(t, "http://127.0.0.1:1", cliRun{args: []string{"version"}})
	if o.code != 0 || o.stderr != "" || !regexp.MustCompile(`^pyexec \S+\n$`).MatchString(o.stdout) {
		t.Errorf("pyexec version: got %v; want exit 0 and one line 'pyexec VERSION'", o)
	}
}

// TestCLIErrors checks that a server or connection error is one clear line
// on stderr, with exit 2 and nothing on stdout.
func TestCLIErrors(t *testing.T) {
	s := sharedServer(t)
	const down = "http://127.0.0.1:1"
	cases := []struct {
		name   string
		server string // default: s.URL
		run    cliRun
		parts  []string // what the line must contain
	}{
		{"memory out of range", "", cliRun{args: []string{"run", "--memory", "1"}, stdin: "print(1)"}, []string{"server said:", "memory", "(400)"}},
		{"disk out of range", "", cliRun{args: []string{"run", "--disk", "100000"}, stdin: "print(1)"}, []string{"server said:", "disk", "(400)"}},
		{"negative timeout", "", cliRun{args: []string{"run", "--timeout", "-1"}, stdin: "print(1)"}, []string{"server said:", "timeout", "(400)"}},
		{"unknown python", "", cliRun{args: []string{"run", "--python", "2.7"}, stdin: "print(1)"}, []string{"server said:", "2.7", "(400)"}},
		{"unknown image", "", cliRun{args: []string{"run", "--image", "python:3.99-slim"}, stdin: "print(1)"}, []string{"server said:", "3.99", "(400)"}},
		{"eval unknown python", "", cliRun{args: []string{"eval", "--python", "2.7", "1"}}, []string{"server said:", "2.7", "(400)"}},
		{"eval memory out of range", "", cliRun{args: []string{"eval", "--memory", "1", "1"}}, []string{"server said:", "memory", "(400)"}},
		{"submit memory out of range", "", cliRun{args: []string{"submit", "--memory", "1"}, stdin: "print(1)"}, []string{"server said:", "memory", "(400)"}},
		{"follow unknown id", "", cliRun{args: []string{"follow", "exe_doesnotexist"}}, []string{"server said:", "(404)"}},
		{"kill unknown id", "", cliRun{args: []string{"kill", "exe_doesnotexist"}}, []string{"server said:", "(404)"}},
		{"unreachable run", down, cliRun{args: []string{"run"}, stdin: "print(1)"}, []string{"cannot reach server " + down, "connection refused"}},
		{"unreachable eval", down, cliRun{args: []string{"eval", "1"}}, []string{"cannot reach server " + down}},
		{"unreachable follow", down, cliRun{args: []string{"follow", "exe_x"}}, []string{"cannot reach server " + down}},
		{"unreachable via env", down, cliRun{args: []string{"run"}, stdin: "print(1)", envServer: true}, []string{"cannot reach server " + down}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			url := c.server
			if url == "" {
				url = s.URL
			}
			o := cli(t, url, c.run)
			line, _ := strings.CutSuffix(o.stderr, "\n")
			ok := o.code == 2 && o.stdout == "" && strings.HasPrefix(line, "pyexec: ") &&
				strings.HasSuffix(o.stderr, "\n") && !strings.Contains(line, "\n")
			for _, p := range c.parts {
				ok = ok && strings.Contains(line, p)
			}
			// No Go stack, no host paths.
			for _, bad := range []string{"goroutine", "panic", ".go:", "/work/", "/tmp/", "/root", "/usr/", "/run/", cliPath} {
				ok = ok && !strings.Contains(line, bad)
			}
			if !ok {
				t.Errorf("got %v\nwant exit 2, no stdout, one stderr line 'pyexec: ...' containing %q, without stacks or host paths", o, c.parts)
			}
		})
	}
}
