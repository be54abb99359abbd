package main

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// parseArgs runs the two passes of run() without doing anything.
func parseArgs(args []string, environ ...string) (cmd string, o *opts, pos, rest []string, err error) {
	o = newOpts(environ)
	cmd, args = findCommand(o.flags(""), args)
	pos, rest, err = o.flags(cmd).parse(args)
	return cmd, o, pos, rest, err
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		cmd       string
		pos, rest []string
		check     func(*opts) bool
	}{
		{"global before", []string{"--server", "http://x:1", "--timeout", "5", "run", "a.py"}, "run", []string{"a.py"}, nil,
			func(o *opts) bool { return o.g.server == "http://x:1" && o.g.timeout == 5 }},
		{"global after", []string{"run", "a.py", "--memory=256", "-q", "--network"}, "run", []string{"a.py"}, nil,
			func(o *opts) bool { return o.g.memoryMB == 256 && o.g.quiet && o.g.network }},
		{"script args after --", []string{"run", "--cpu", "512", "a.py", "--", "-v", "--timeout", "9"}, "run", []string{"a.py"}, []string{"-v", "--timeout", "9"},
			func(o *opts) bool { return o.g.cpu == 512 && !o.g.verbose && o.g.timeout == 0 }},
		{"short cluster", []string{"-qv", "eval", "1+1"}, "eval", []string{"1+1"}, nil,
			func(o *opts) bool { return o.g.quiet && o.g.verbose }},
		{"env forms", []string{"-e", "A=1", "run", "-eB", "-e=C=3", "--env", "D", "-qe", "E"}, "run", nil, nil,
			func(o *opts) bool {
				return reflect.DeepEqual(o.p.env, []string{"A=1", "B", "C=3", "D", "E"}) && o.g.quiet
			}},
		{"single dash long", []string{"-server", "http://y", "submit", "-timeout=3"}, "submit", nil, nil,
			func(o *opts) bool { return o.g.server == "http://y" && o.g.timeout == 3 }},
		{"files repeat and comma", []string{"run", "--file", "a.py,b.py", "--file=c.py"}, "run", nil, nil,
			func(o *opts) bool { return reflect.DeepEqual(o.p.files, []string{"a.py", "b.py", "c.py"}) }},
		{"bool false", []string{"--network=false", "--async=true", "run"}, "run", nil, nil,
			func(o *opts) bool { return !o.g.network && o.g.async }},
		{"eval flags", []string{"eval", "--python", "3.11", "--no-result", "x"}, "eval", []string{"x"}, nil,
			func(o *opts) bool { return o.e.python == "3.11" && o.e.noResult }},
		{"value flag before command", []string{"--image", "run", "follow", "exe_1"}, "follow", []string{"exe_1"}, nil,
			func(o *opts) bool { return o.g.image == "run" }},
		{"dash is positional", []string{"run", "-", "--python", "3.13"}, "run", []string{"-"}, nil,
			func(o *opts) bool { return o.p.python == "3.13" }},
		{"env server", []string{"kill", "exe_1"}, "kill", []string{"exe_1"}, nil,
			func(o *opts) bool { return o.g.server == "http://from-env" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, o, pos, rest, err := parseArgs(tt.args, "PYEXEC_SERVER=http://from-env")
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if cmd != tt.cmd || !reflect.DeepEqual(pos, tt.pos) || !reflect.DeepEqual(rest, tt.rest) {
				t.Errorf("got cmd %q pos %q rest %q; want %q %q %q", cmd, pos, rest, tt.cmd, tt.pos, tt.rest)
			}
			if !tt.check(o) {
				t.Errorf("options not as expected: %+v", *o)
			}
		})
	}
}

func TestParseFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"run", "--nope"}, "unknown flag --nope"},
		{[]string{"run", "-x"}, "unknown flag -x"},
		{[]string{"run", "--timeout"}, "flag --timeout needs a value"},
		{[]string{"run", "--timeout", "soon"}, `flag --timeout: want an integer, got "soon"`},
		{[]string{"run", "--network=maybe"}, "flag --network: want true or false"},
		{[]string{"eval", "--entrypoint", "x.py"}, "unknown flag --entrypoint"},
		{[]string{"follow", "--no-result"}, "unknown flag --no-result"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, _, _, err := parseArgs(tt.args)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want a usage error with %q", err, tt.want)
			}
		})
	}
}

func TestDefaultServer(t *testing.T) {
	if o := newOpts(nil); o.g.server != "http://localhost:8080" {
		t.Errorf("default server = %q", o.g.server)
	}
	if o := newOpts([]string{"PYEXEC_SERVER="}); o.g.server != "http://localhost:8080" {
		t.Errorf("empty PYEXEC_SERVER: server = %q", o.g.server)
	}
}

func TestPythonFromImage(t *testing.T) {
	for image, want := range map[string]string{
		"python:3.11-slim": "3.11", "python:3.12": "3.12", "python:3.10-bookworm": "3.10",
		"docker.io/library/python:3.13.1-alpine": "3.13",
	} {
		if got, err := pythonFromImage(image); err != nil || got != want {
			t.Errorf("pythonFromImage(%q) = %q, %v; want %q", image, got, err, want)
		}
	}
	for _, bad := range []string{"python", "python:latest", "python:3", "python:.1"} {
		if got, err := pythonFromImage(bad); err == nil {
			t.Errorf("pythonFromImage(%q) = %q, want an error", bad, got)
		}
	}
}
