package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRunStdin(t *testing.T) {
	f := newFakeServer(t)
	f.reply = func() (int, any) { return 200, completed("hi", "warn", 0) }
	r := runCLI(t, f, "print('hi')\n", nil, "run")
	if r.code != 0 || r.stdout != "hi" || r.stderr != "warn" {
		t.Errorf("got %+v; want exact output without added newlines", r)
	}
	if f.md.Entrypoint != "main.py" || f.files["main.py"] != "print('hi')\n" || len(f.files) != 1 {
		t.Errorf("sent %+v with files %q", f.md, f.files)
	}
	if f.md.Config == nil || f.md.Config.NetworkDisabled == nil || !*f.md.Config.NetworkDisabled {
		t.Errorf("network_disabled not sent as true: %+v", f.md.Config)
	}
	if r := runCLI(t, f, "", nil, "run"); r.code != 2 || !strings.Contains(r.stderr, "standard input is empty") {
		t.Errorf("empty stdin: %+v", r)
	}
}

func TestRunFileWithArgs(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"tool.py": "import sys; print(sys.argv)"})
	r := runCLI(t, f, "", nil, "run", filepath.Join(dir, "tool.py"), "--timeout", "7", "--", "-v", "--x=1", "in.txt")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	if f.md.Entrypoint != "tool.py" || !reflect.DeepEqual(f.md.ScriptArgs, []string{"-v", "--x=1", "in.txt"}) {
		t.Errorf("metadata = %+v", f.md)
	}
	if f.md.Config.TimeoutSeconds == nil || *f.md.Config.TimeoutSeconds != 7 {
		t.Errorf("config = %+v", f.md.Config)
	}
	if r := runCLI(t, f, "", nil, "run", "a.py", "b.py"); r.code != 2 {
		t.Errorf("two paths: %+v", r)
	}
}

func TestRunDirEntrypoint(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		args  []string
		want  string
	}{
		{"main.py", map[string]string{"main.py": "", "a.py": "", "__main__.py": ""}, nil, "main.py"},
		{"__main__.py", map[string]string{"z.py": "", "__main__.py": "", "README.md": ""}, nil, "__main__.py"},
		{"first sorted", map[string]string{"zeta.py": "", "alpha.py": "", "pkg/0.py": ""}, nil, "alpha.py"},
		{"flag wins", map[string]string{"main.py": "", "tools/cli.py": ""}, []string{"--entrypoint", "tools/cli.py"}, "tools/cli.py"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			dir := t.TempDir()
			writeFiles(t, dir, tt.files)
			writeFiles(t, dir, map[string]string{"__pycache__/x.pyc": "junk"})
			r := runCLI(t, f, "", nil, append([]string{"run", dir}, tt.args...)...)
			if r.code != 0 {
				t.Fatalf("got %+v", r)
			}
			if f.md.Entrypoint != tt.want {
				t.Errorf("entrypoint = %q, want %q", f.md.Entrypoint, tt.want)
			}
			if len(f.files) != len(tt.files) {
				t.Errorf("files sent = %q", f.files)
			}
		})
	}
	t.Run("no python", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"notes.txt": ""})
		r := runCLI(t, newFakeServer(t), "", nil, "run", dir)
		if r.code != 2 || !strings.Contains(r.stderr, "--entrypoint") {
			t.Errorf("got %+v", r)
		}
	})
}

func TestRunFiles(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"util.py": "U", "main.py": "M", "sub/data.txt": "D", "req.txt": "requests==2.0\n"})
	p := func(n string) string { return filepath.Join(dir, n) }
	r := runCLI(t, f, "", nil, "run", "--file", p("util.py")+","+p("sub/data.txt"), "--file", p("main.py"), "--requirements", p("req.txt"))
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	want := map[string]string{"util.py": "U", "main.py": "M", "data.txt": "D"}
	if !reflect.DeepEqual(f.files, want) || f.md.Entrypoint != "main.py" || f.md.RequirementsTxt != "requests==2.0\n" {
		t.Errorf("files %q, metadata %+v", f.files, f.md)
	}
	// A positional file with --file is added and is the entrypoint.
	r = runCLI(t, f, "", nil, "run", "--file", p("main.py"), p("util.py"))
	if r.code != 0 || f.md.Entrypoint != "util.py" || len(f.files) != 2 {
		t.Errorf("got %+v, files %q, entrypoint %q", r, f.files, f.md.Entrypoint)
	}
	if r := runCLI(t, f, "", nil, "run", "--file", p("main.py"), dir); r.code != 2 {
		t.Errorf("--file with a directory: %+v", r)
	}
}

func TestRunTarAsIs(t *testing.T) {
	f := newFakeServer(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{"./app/", "./app/__main__.py", "./setup.py"} {
		hdr := &tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	_ = tw.Close()
	_ = zw.Close()
	p := filepath.Join(t.TempDir(), "project.tgz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, f, "", nil, "run", p)
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	if !bytes.Equal(f.rawTar, buf.Bytes()) {
		t.Error("the archive was not sent as is")
	}
	if f.md.Entrypoint != "app/__main__.py" {
		t.Errorf("entrypoint = %q", f.md.Entrypoint)
	}
}

func TestRunEnvAndLimits(t *testing.T) {
	f := newFakeServer(t)
	r := runCLI(t, f, "print(1)", []string{"HOME=/h", "API_KEY=s3cret", "API_KEY=newer"},
		"--memory", "256", "--image", "python:3.11-slim", "run", "-e", "API_KEY", "-e", "DEBUG=a=b",
		"--disk=100", "--cpu", "512", "--network", "--python", "3.12")
	if r.code != 0 {
		t.Fatalf("got %+v", r)
	}
	if !reflect.DeepEqual(f.md.EnvVars, []string{"API_KEY=newer", "DEBUG=a=b"}) {
		t.Errorf("env_vars = %q", f.md.EnvVars)
	}
	c := f.md.Config
	if *c.MemoryMB != 256 || *c.DiskMB != 100 || *c.CPUShares != 512 || *c.NetworkDisabled || c.TimeoutSeconds != nil {
		t.Errorf("config = %+v", c)
	}
	if f.md.DockerImage != "python:3.11-slim" || f.md.PythonVersion != "3.12" {
		t.Errorf("metadata = %+v", f.md)
	}
	r = runCLI(t, f, "print(1)", nil, "run", "-e", "MISSING")
	if r.code != 2 || !strings.Contains(r.stderr, "MISSING is not set") {
		t.Errorf("unset variable: %+v", r)
	}
}

func TestExitCodes(t *testing.T) {
	seven, two := 7, 2
	tests := []struct {
		name       string
		rec        api.Execution
		wantCode   int
		wantStderr string
	}{
		{"exit code passes through", completed("", "Traceback...\n", 3), 3, "Traceback...\n"},
		{"timed_out", api.Execution{Status: api.StatusFailed, TimedOut: true, Error: "execution timed out after 5s"}, 124, "pyexec: execution timed out after 5s\n"},
		{"timeout in error", api.Execution{Status: api.StatusFailed, Error: "Execution timeout exceeded"}, 124, "pyexec: Execution timeout exceeded\n"},
		{"killed", api.Execution{Status: api.StatusKilled, ExitCode: &seven}, 137, "pyexec: execution was killed\n"},
		{"failed without exit code", api.Execution{Status: api.StatusFailed, Error: "requirements: no matching distribution for nopkg"}, 1, "pyexec: requirements: no matching distribution for nopkg\n"},
		{"failed with exit code", api.Execution{Status: api.StatusFailed, ExitCode: &two, Stderr: "sh: x: not found\n", Error: "pre_command failed"}, 2, "sh: x: not found\npyexec: pre_command failed\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.reply = func() (int, any) { return 200, tt.rec }
			r := runCLI(t, f, "pass", nil, "run")
			if r.code != tt.wantCode || r.stderr != tt.wantStderr {
				t.Errorf("got code %d stderr %q; want %d %q", r.code, r.stderr, tt.wantCode, tt.wantStderr)
			}
		})
	}
}

func TestServerError(t *testing.T) {
	f := newFakeServer(t)
	f.reply = func() (int, any) {
		return 400, api.Error{Error: "config.memory_mb must be between 16 and 8192"}
	}
	r := runCLI(t, f, "pass", nil, "run", "--memory", "99999")
	if r.code != 2 || r.stdout != "" || r.stderr != "pyexec: server said: config.memory_mb must be between 16 and 8192 (400)\n" {
		t.Errorf("got %+v", r)
	}
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	r = runCLI(t, nil, "pass", []string{"PYEXEC_SERVER=" + url}, "run")
	if r.code != 2 || !strings.HasPrefix(r.stderr, "pyexec: cannot reach server "+url+": ") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("connection refused: %+v", r)
	}
	r = runCLI(t, nil, "pass", nil, "run", "--server", "ftp://x")
	if r.code != 2 || !strings.Contains(r.stderr, "bad --server") {
		t.Errorf("bad server URL: %+v", r)
	}
}

func TestQuietAndVerbose(t *testing.T) {
	f := newFakeServer(t)
	rec := completed("out\n", "err\n", 0)
	rec.DurationMS, rec.PythonVersion = 12, "3.12.1"
	f.reply = func() (int, any) { return 200, rec }
	if r := runCLI(t, f, "pass", nil, "-q", "run"); r.code != 0 || r.stdout != "out\n" || r.stderr != "" {
		t.Errorf("quiet: %+v", r)
	}
	r := runCLI(t, f, "pass", nil, "run", "-v")
	for _, want := range []string{"Execution ID: exe_1\n", "Status: completed\n", "Duration: 12ms\n", "Python: 3.12.1\n", "---\nerr\n"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("verbose stderr %q lacks %q", r.stderr, want)
		}
	}
	if r.stdout != "out\n" {
		t.Errorf("verbose stdout = %q", r.stdout)
	}
	failed := completed("partial\n", "boom\n", 1)
	f.reply = func() (int, any) { return 200, failed }
	if r := runCLI(t, f, "pass", nil, "run", "--quiet"); r.code != 1 || r.stdout != "" || r.stderr != "" {
		t.Errorf("quiet failure: %+v", r)
	}
}

func TestSubmitFollowKill(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"job.py": "print('done')"})
	r := runCLI(t, f, "", nil, "submit", filepath.Join(dir, "job.py"))
	if r.code != 0 || r.stdout != "exe_async\n" || f.md.Entrypoint != "job.py" {
		t.Fatalf("submit: %+v, metadata %+v", r, f.md)
	}
	if r := runCLI(t, f, "pass", nil, "--async", "run"); r.code != 0 || r.stdout != "exe_async\n" {
		t.Errorf("run --async: %+v", r)
	}

	done := completed("done\n", "", 4)
	f.gets = []api.Execution{{ExecutionID: "exe_async", Status: api.StatusRunning}, done}
	f.requests = nil
	r = runCLI(t, f, "", nil, "follow", "exe_async")
	if r.code != 4 || r.stdout != "done\n" {
		t.Errorf("follow: %+v", r)
	}
	if len(f.requests) == 0 || !strings.HasPrefix(f.requests[0], "GET /api/v1/executions/exe_async?wait=") {
		t.Errorf("follow did not long-poll: %q", f.requests)
	}
	if r := runCLI(t, f, "", nil, "follow", "exe_nope"); r.code != 2 || r.stderr != "pyexec: server said: execution not found (404)\n" {
		t.Errorf("follow unknown: %+v", r)
	}
	if r := runCLI(t, f, "", nil, "follow"); r.code != 2 {
		t.Errorf("follow without id: %+v", r)
	}

	if r := runCLI(t, f, "", nil, "kill", "exe_async"); r.code != 0 || r.stdout != "Execution killed\n" {
		t.Errorf("kill: %+v", r)
	}
	if r := runCLI(t, f, "", nil, "kill", "exe_done"); r.code != 0 || r.stdout != "Execution not running (status: completed)\n" {
		t.Errorf("kill finished: %+v", r)
	}
	if r := runCLI(t, f, "", nil, "kill", "exe_nope"); r.code != 2 || !strings.Contains(r.stderr, "(404)") {
		t.Errorf("kill unknown: %+v", r)
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no args", nil, 2, "", "Usage:"},
		{"help", []string{"help"}, 0, "Commands:", ""},
		{"--help", []string{"--help"}, 0, "Commands:", ""},
		{"help run", []string{"help", "run"}, 0, "--entrypoint NAME", ""},
		{"run -h", []string{"run", "-h"}, 0, "pyexec run", ""},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"unknown flag", []string{"run", "--frob"}, 2, "", "unknown flag --frob"},
		{"version", []string{"version"}, 0, "pyexec ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", nil, tt.args...)
			if r.code != tt.code || !strings.Contains(r.stdout, tt.stdout) || !strings.Contains(r.stderr, tt.stderr) {
				t.Errorf("got %+v", r)
			}
		})
	}
}
