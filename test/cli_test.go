package test

// End-to-end tests of the pyexec CLI (cmd/pyexec): the binary runs as a
// real subprocess against a real pyexecd, and its stdout, stderr and exit
// code are checked.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	cliOnce sync.Once
	cliPath string // the pyexec CLI under test
	cliDir  string // the temp dir it was built in, removed by removeCLI
	cliErr  error
)

// cliBin returns the CLI binary: PYEXEC_CLI_BIN, else one built once per
// test process (CGO_ENABLED=0, as it is shipped).
func cliBin(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		if p := os.Getenv("PYEXEC_CLI_BIN"); p != "" {
			cliPath, cliErr = filepath.Abs(p)
			return
		}
		if cliDir, cliErr = os.MkdirTemp("", "pyexec-e2e-cli-"); cliErr != nil {
			return
		}
		cliPath = filepath.Join(cliDir, "pyexec")
		cmd := exec.Command("go", "build", "-o", cliPath, "../cmd/pyexec")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("building cmd/pyexec: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// removeCLI removes the CLI built by cliBin; TestMain calls it.
func removeCLI() {
	if cliDir != "" {
		os.RemoveAll(cliDir)
	}
}

// cliRun is one invocation of the CLI.
type cliRun struct {
	args  []string // after "--server URL"
	stdin string
	env   []string // added to the test's environment
	// envServer passes the server as PYEXEC_SERVER instead of --server.
	envServer bool
}

type cliOut struct {
	stdout, stderr string
	code           int
}

func (o cliOut) String() string {
	return fmt.Sprintf("exit %d, stdout %q, stderr %q", o.code, o.stdout, o.stderr)
}

// cli runs the CLI against server url and returns what it printed and its
// exit code. A CLI that does not exit within two minutes fails the test.
func cli(t *testing.T, url string, r cliRun) cliOut {
	t.Helper()
	args := r.args
	env := append(os.Environ(), r.env...)
	if r.envServer {
		env = append(env, "PYEXEC_SERVER="+url)
	} else {
		args = append([]string{"--server", url}, args...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin(t), args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(r.stdin) // a pipe: /dev/null would look like a terminal
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	out := cliOut{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("pyexec %q did not exit within 2 minutes; stdout %q, stderr %q", args, out.stdout, out.stderr)
	case errors.As(err, &ee):
		out.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("pyexec %q: %v", args, err)
	}
	return out
}

// want checks the exit code and the exact stdout; stderr is exact unless
// errParts are given, when it must contain each of them instead.
func (o cliOut) want(t *testing.T, code int, stdout, stderr string, errParts ...string) {
	t.Helper()
	ok := o.code == code && o.stdout == stdout
	if len(errParts) == 0 {
		ok = ok && o.stderr == stderr
	}
	for _, p := range errParts {
		ok = ok && strings.Contains(o.stderr, p)
	}
	if !ok {
		if len(errParts) > 0 {
			stderr = fmt.Sprintf("containing %q", errParts)
		} else {
			stderr = fmt.Sprintf("%q", stderr)
		}
		t.Errorf("got %v\nwant exit %d, stdout %q, stderr %s", o, code, stdout, stderr)
	}
}

// writeTree writes files (slash paths) under dir.
func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func gzipped(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A project in a directory: an entrypoint that is not the one that would
// be detected, and a package in a subdirectory with a relative import.
var dirProject = map[string]string{
	"proj/a_first.py":        "print('wrong entrypoint')\n",
	"proj/start.py":          "import sys\nfrom pkg.util import greet\nprint(greet(sys.argv[1]))\n",
	"proj/pkg/__init__.py":   "",
	"proj/pkg/util.py":       "from .names import PREFIX\n\ndef greet(who):\n    return PREFIX + who\n",
	"proj/pkg/names.py":      "PREFIX = 'hello from '\n",
	"proj/__pycache__/x.pyc": "not python",
}

// tarProjectFiles is sent as a .tar and as a .tar.gz.
var tarProjectFiles = map[string]string{
	"main.py":   "import helper\nprint(helper.NAME)\n",
	"helper.py": "NAME = 'tar project'\n",
	"other.py":  "print('wrong entrypoint')\n",
}

func TestCLIRun(t *testing.T) {
	s := sharedServer(t)
	dir := t.TempDir()
	writeTree(t, dir, dirProject)
	writeTree(t, dir, map[string]string{
		"script.py":               "print('from a file')\n",
		"auto_main/main.py":       "print('main.py')\n",
		"auto_main/__main__.py":   "print('__main__.py')\n",
		"auto_main/a.py":          "print('a.py')\n",
		"auto_dunder/__main__.py": "print('__main__.py')\n",
		"auto_dunder/a.py":        "print('a.py')\n",
		"auto_first/b.py":         "print('b.py')\n",
		"auto_first/a.py":         "print('a.py')\n",
		"files/main.py":           "from lib import VALUE\nprint(VALUE)\n",
		"files/src/lib.py":        "VALUE = 'lib at the root'\n",
	})
	tarBytes := tarFiles(t, tarProjectFiles)
	writeTree(t, dir, map[string]string{"p.tar": string(tarBytes), "p.tar.gz": string(gzipped(t, tarBytes))})
	at := func(name string) string { return filepath.Join(dir, filepath.FromSlash(name)) }
	const version = "import sys\nprint(sys.version_info[:2])\n"

	cases := []struct {
		name string
		run  cliRun
		code int
		out  string
		err  string
	}{
		{name: "stdin quiet", run: cliRun{args: []string{"run", "-q"}, stdin: "print(1)\n"}, out: "1\n"},
		{name: "stdin PYEXEC_SERVER", run: cliRun{args: []string{"run"}, stdin: "print(2)\n", envServer: true}, out: "2\n"},
		{name: "file", run: cliRun{args: []string{"run", at("script.py")}}, out: "from a file\n"},
		{name: "dir with entrypoint", run: cliRun{args: []string{"run", "--entrypoint", "start.py", at("proj") + "/", "--", "dir"}}, out: "hello from dir\n"},
		{name: "tar", run: cliRun{args: []string{"run", at("p.tar")}}, out: "tar project\n"},
		{name: "tar.gz", run: cliRun{args: []string{"run", at("p.tar.gz")}}, out: "tar project\n"},
		{name: "auto main.py", run: cliRun{args: []string{"run", at("auto_main")}}, out: "main.py\n"},
		{name: "auto __main__.py", run: cliRun{args: []string{"run", at("auto_dunder")}}, out: "__main__.py\n"},
		{name: "auto first .py", run: cliRun{args: []string{"run", at("auto_first")}}, out: "a.py\n"},
		{name: "script args", run: cliRun{args: []string{"run", "--", "--verbose", "two words", "-x", ""},
			stdin: "import sys\nprint(sys.argv[1:])\n"}, out: "['--verbose', 'two words', '-x', '']\n"},
		{name: "env", run: cliRun{args: []string{"run", "-e", "FROM_CLI", "--env", "LITERAL=a=b c", "-e", "EMPTY="},
			env:   []string{"FROM_CLI=from the CLI's environment"},
			stdin: "import os\nprint(os.environ['FROM_CLI'])\nprint(os.environ['LITERAL'])\nprint(repr(os.environ['EMPTY']))\n"},
			out: "from the CLI's environment\na=b c\n''\n"},
		{name: "repeated --file", run: cliRun{args: []string{"run", "--file", at("files/src/lib.py"), "--file", at("files/main.py")}},
			out: "lib at the root\n"},
		{name: "streams", run: cliRun{args: []string{"run"},
			stdin: "import sys\nprint('out 1')\nprint('err 1', file=sys.stderr)\nprint('out 2')\nsys.stderr.write('err 2\\n')\n"},
			out: "out 1\nout 2\n", err: "err 1\nerr 2\n"},
		{name: "sys.exit(3)", run: cliRun{args: []string{"run"}, stdin: "import sys\nprint('before')\nsys.exit(3)\n"},
			code: 3, out: "before\n"},
		{name: "exception", run: cliRun{args: []string{"run"}, stdin: "print('before')\nraise ValueError('boom')\n"},
			code: 1, out: "before\n", err: "Traceback (most recent call last):\n  File \"/work/main.py\", line 2, in <module>\n" +
				"    raise ValueError('boom')\nValueError: boom\n"},
		// -q prints only stdout, and only on success.
		{name: "exception quiet", run: cliRun{args: []string{"run", "-q"}, stdin: "print('before')\nraise ValueError('boom')\n"},
			code: 1},
		{name: "timeout", run: cliRun{args: []string{"run", "--timeout", "1"},
			stdin: "import time\nprint('before', flush=True)\ntime.sleep(30)\n"},
			code: 124, out: "before\n", err: "pyexec: execution timed out after 1s\n"},
		// The jail is OOM-killed: the record is failed with oom_killed, and
		// the CLI exits 137 (SIGKILL) with the server's error on stderr.
		{name: "memory", run: cliRun{args: []string{"run", "--memory", "32"},
			stdin: "print('start', flush=True)\ndata = b'x' * (200 << 20)\nprint('survived')\n"},
			code: 137, out: "start\n", err: "pyexec: memory limit of 32 MB exceeded\n"},
		{name: "--image", run: cliRun{args: []string{"run", "--image", "python:3.11-slim"}, stdin: version}, out: "(3, 11)\n"},
		{name: "--python", run: cliRun{args: []string{"run", "--python", "3.10"}, stdin: version}, out: "(3, 10)\n"},
		{name: "--python wins over --image", run: cliRun{args: []string{"run", "--image", "python:3.11-slim", "--python", "3.12"}, stdin: version},
			out: "(3, 12)\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cli(t, s.URL, c.run).want(t, c.code, c.out, c.err)
		})
	}
}

// TestCLINetwork checks --network against a listener of the test on the
// host's 127.0.0.1: without the flag the jail has its own loopback.
func TestCLINetwork(t *testing.T) {
	s := sharedServer(t)
	// With network a run has an interface besides loopback (the NAT's);
	// the host's loopback stays out of reach either way.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code := fmt.Sprintf("import socket\nprint(len(socket.if_nameindex()) > 1)\ntry:\n"+
		"    socket.create_connection(('127.0.0.1', %d), timeout=5)\n"+
		"    print('reached the host')\n"+
		"except OSError as e:\n    print('no connection')\n", ln.Addr().(*net.TCPAddr).Port)
	t.Run("default", func(t *testing.T) {
		cli(t, s.URL, cliRun{args: []string{"run"}, stdin: code}).want(t, 0, "False\nno connection\n", "")
	})
	t.Run("--network", func(t *testing.T) {
		cli(t, s.URL, cliRun{args: []string{"run", "--network"}, stdin: code}).want(t, 0, "True\nno connection\n", "")
	})
}
