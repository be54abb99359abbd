package test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func TestVerdictLimits(t *testing.T) {
	s := sharedServer(t)

	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		e := s.eval(t, api.EvalRequest{
			Code:   tagged("e2e-timeout", "import time\nprint('before', flush=True)\ntime.sleep(30)\nprint('after')"),
			Config: &api.Config{TimeoutSeconds: ptr(1)},
		})
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("a 1 s timeout answered after %v, want < 3s", took)
		}
		msg := strings.ToLower(e.Error)
		if e.Status != api.StatusFailed || !e.TimedOut || !(strings.Contains(msg, "timeout") || strings.Contains(msg, "timed out")) {
			t.Errorf("got %s; want failed, timed_out, an error about the timeout", describe(e))
		}
		if e.Stdout != "before\n" {
			t.Errorf("stdout %q, want the output before the timeout", e.Stdout)
		}
		waitGone(t, s, "e2e-timeout", 2*time.Second)
	})

	t.Run("memory", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{
			Code:   tagged("e2e-oom", "print('start', flush=True)\ndata = b'x' * (200 << 20)\nprint('survived')"),
			Config: &api.Config{MemoryMB: ptr(32)},
		})
		if e.Status != api.StatusFailed || !e.OOMKilled || !strings.Contains(strings.ToLower(e.Error), "memory") {
			t.Errorf("got %s; want failed, oom_killed, an error about memory", describe(e))
		}
		if strings.Contains(e.Stdout, "survived") {
			t.Errorf("200 MB fit in a 32 MB jail: %q", e.Stdout)
		}
		waitGone(t, s, "e2e-oom", 2*time.Second)
	})

	// Output past max_output_bytes is counted and dropped (truncated); a
	// flood that goes on (16 MiB past the cap) stops the run: API.md's
	// failed = "stopped by a limit (timeout, memory, output)".
	t.Run("output limit", func(t *testing.T) {
		start := time.Now()
		e := s.eval(t, api.EvalRequest{
			Code:   "import sys\nsys.stderr.write('small\\n')\nwhile True:\n    print('x' * 1000)",
			Config: &api.Config{MaxOutputBytes: ptr[int64](1024), TimeoutSeconds: ptr(5)},
		})
		if len(e.Stdout) > 1024 || !e.StdoutTruncated || e.StderrTruncated || e.Stderr != "small\n" {
			t.Errorf("stdout %d bytes (truncated %v), stderr %q (truncated %v); want stdout cut at 1024, stderr whole",
				len(e.Stdout), e.StdoutTruncated, e.Stderr, e.StderrTruncated)
		}
		if e.Status != api.StatusFailed || e.TimedOut || !strings.Contains(strings.ToLower(e.Error), "output") {
			t.Errorf("got %s; want failed for the output limit, not the timeout", describe(e))
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("an output flood ran %v; the output limit should stop it", took)
		}
	})

	t.Run("orphaned child", func(t *testing.T) {
		// A child in its own session outlives Python's exit: the run still
		// ends at once, and the child dies with the jail.
		child := tagged("e2e-orphan", "open('/tmp/named', 'w').close()\nimport time\ntime.sleep(100)")
		start := time.Now()
		e := s.eval(t, api.EvalRequest{Code: "import os, subprocess, sys, time\n" +
			"p = subprocess.Popen([sys.executable, '-c', " + strconv.Quote(child) + "], start_new_session=True)\n" +
			"while not os.path.exists('/tmp/named'):\n    time.sleep(0.01)\n" +
			"print(open(f'/proc/{p.pid}/comm').read().strip())\nprint('left it')"})
		wantRun(t, e, "e2e-orphan\nleft it\n")
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the run waited %v for its orphan", took)
		}
		waitGone(t, s, "e2e-orphan", 2*time.Second)
	})
}

// TestIsolation checks the limits a run meets from the inside.
func TestIsolation(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name, code string
		config     *api.Config
		stdout     string
	}{
		{"no network", "import socket\ns = socket.socket()\ns.settimeout(2)\ntry:\n    s.connect(('1.1.1.1', 80))\n    print('connected')\nexcept OSError:\n    print('no network')", nil, "no network\n"},
		{"only loopback", "import socket\nprint(sorted(n for _, n in socket.if_nameindex()))", nil, "['lo']\n"},
		{"disk_mb on /work", "try:\n    open('/work/f', 'wb').write(b'x' * (3 << 20))\n    print('wrote')\nexcept OSError as e:\n    print(e.errno)", &api.Config{DiskMB: ptr(1)}, "28\n"},
		{"disk_mb on /tmp", "try:\n    open('/tmp/f', 'wb').write(b'x' * (3 << 20))\n    print('wrote')\nexcept OSError as e:\n    print(e.errno)", &api.Config{DiskMB: ptr(1)}, "28\n"},
		{"pids_limit", "import os, time\nn = 0\ntry:\n    for _ in range(50):\n        if os.fork() == 0:\n            time.sleep(3)\n            os._exit(0)\n        n += 1\nexcept OSError:\n    pass\nprint(n < 16)", &api.Config{PidsLimit: ptr(16)}, "True\n"},
		{"unprivileged", "import os\nprint(os.getuid() != 0, os.getcwd())", nil, "True /work\n"},
		{"no host secrets", "import os\nprint(os.path.exists('/etc/shadow'), os.path.exists('/run/pyexec'), os.path.exists('/proc/1/root/etc/shadow'))", nil, "False False False\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			wantRun(t, s.eval(t, api.EvalRequest{Code: c.code, Config: c.config}), c.stdout)
		})
	}
}

func TestVerdictErrors(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name      string
		files     map[string]string
		exit      int
		errorType string
		errorLine int // 0: none
	}{
		{"NameError", mainPy("x = 1\ny = 2\nprint(undefined_name)\n"), 1, "NameError", 3},
		{"SyntaxError", mainPy("x = 1\nif x\n    print(x)\n"), 1, "SyntaxError", 2},
		{"in an imported file", map[string]string{
			"main.py":   "import helper\n\nhelper.boom()\n",
			"helper.py": "def boom():\n    raise ValueError('boom')\n",
		}, 1, "ValueError", 2},
		{"sys.exit(3)", mainPy("import sys\nprint('bye')\nsys.exit(3)\n"), 3, "", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.execSyncOK(t, c.files, entry)
			if e.Status != api.StatusCompleted || e.ExitCode == nil || *e.ExitCode != c.exit {
				t.Fatalf("got %s; want completed with exit code %d", describe(e), c.exit)
			}
			if e.ErrorType != c.errorType {
				t.Errorf("error_type %q, want %q", e.ErrorType, c.errorType)
			}
			switch {
			case c.errorLine == 0 && e.ErrorLine != nil:
				t.Errorf("error_line %d, want none", *e.ErrorLine)
			case c.errorLine != 0 && (e.ErrorLine == nil || *e.ErrorLine != c.errorLine):
				t.Errorf("error_line %v, want %d", e.ErrorLine, c.errorLine)
			}
			if c.errorType != "" && !strings.Contains(e.Stderr, c.errorType) {
				t.Errorf("stderr lacks the traceback: %q", e.Stderr)
			}
			if strings.Contains(e.Stderr, "bootstrap") || strings.Contains(e.Stderr, ".pyexec") {
				t.Errorf("the traceback shows pyexec's bootstrap: %q", e.Stderr)
			}
		})
	}
}

func TestVerdictInputs(t *testing.T) {
	s := sharedServer(t)

	t.Run("env_vars script_args stdin", func(t *testing.T) {
		code := "import json, os, sys\n" +
			"print(json.dumps({'argv': sys.argv[1:], 'foo': os.environ.get('FOO'), 'empty': os.environ.get('EMPTY'),\n" +
			"    'eq': os.environ.get('EQ'), 'stdin': sys.stdin.read(), 'argv0': sys.argv[0]}))\n"
		meta := api.Metadata{
			Entrypoint: "main.py",
			EnvVars:    []string{"FOO=bar baz", "EMPTY=", "EQ=a=b=c"},
			ScriptArgs: []string{"one", "two words", "--flag=x", "ü", ""},
			Stdin:      "line1\nline2 with 'quotes' and \"double\"\n\n",
		}
		e := s.execSyncOK(t, mainPy(code), meta)
		if e.ExitCode == nil || *e.ExitCode != 0 {
			t.Fatalf("got %s", describe(e))
		}
		var got struct {
			Argv  []string `json:"argv"`
			Argv0 string   `json:"argv0"`
			Foo   *string  `json:"foo"`
			Empty *string  `json:"empty"`
			Eq    *string  `json:"eq"`
			Stdin string   `json:"stdin"`
		}
		if err := json.Unmarshal([]byte(e.Stdout), &got); err != nil {
			t.Fatalf("stdout %q: %v", e.Stdout, err)
		}
		if strings.Join(got.Argv, "|") != strings.Join(meta.ScriptArgs, "|") || len(got.Argv) != len(meta.ScriptArgs) {
			t.Errorf("argv %q, want %q", got.Argv, meta.ScriptArgs)
		}
		if !strings.HasSuffix(got.Argv0, "main.py") {
			t.Errorf("argv[0] %q, want the entrypoint", got.Argv0)
		}
		for name, c := range map[string]struct {
			got  *string
			want string
		}{
			"FOO": {got.Foo, "bar baz"}, "EMPTY": {got.Empty, ""}, "EQ": {got.Eq, "a=b=c"},
		} {
			if c.got == nil || *c.got != c.want {
				t.Errorf("$%s = %v, want %q", name, c.got, c.want)
			}
		}
		if got.Stdin != meta.Stdin {
			t.Errorf("stdin %q, want %q", got.Stdin, meta.Stdin)
		}
	})

	t.Run("pre_commands", func(t *testing.T) {
		e := s.execSyncOK(t, mainPy("print('python read', open('/work/pre.txt').read().strip())"), api.Metadata{
			Entrypoint:  "main.py",
			PreCommands: []string{"echo pre > /work/pre.txt", "echo from-shell"},
		})
		wantRun(t, e, "from-shell\npython read pre\n")
	})

	t.Run("failing pre_command", func(t *testing.T) {
		e := s.execSyncOK(t, mainPy("print('python ran')"), api.Metadata{
			Entrypoint:  "main.py",
			PreCommands: []string{"echo started", "echo oops >&2; exit 7", "echo never"},
		})
		if e.ExitCode == nil || *e.ExitCode != 7 {
			t.Errorf("exit code %v, want 7 (the pre_command's): %s", e.ExitCode, describe(e))
		}
		if e.Status != api.StatusFailed || !strings.Contains(e.Error, "exit 7") {
			t.Errorf("got %s; want failed with an error naming the command", describe(e))
		}
		if e.Stdout != "started\n" || !strings.Contains(e.Stderr, "oops") {
			t.Errorf("stdout %q stderr %q; want the commands' output up to the failure", e.Stdout, e.Stderr)
		}
	})
}
