package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/pyexec/pyexec/api"
)

func withResult(rec api.Execution, result string) api.Execution {
	rec.Result = json.RawMessage(result)
	return rec
}

func TestEval(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		stdin  string
		rec    api.Execution
		code   int
		stdout string
		check  func(api.EvalRequest) bool
	}{
		{"arg", []string{"eval", "print('hi'); 2 + 2"}, "", withResult(completed("hi\n", "", 0), `"4"`), 0, "hi\n4\n",
			func(r api.EvalRequest) bool { return r.Code == "print('hi'); 2 + 2" && r.EvalLastExpr }},
		{"stdin", []string{"eval", "--python", "3.11"}, "x = 5\nx * 2\n", withResult(completed("", "", 0), `"10"`), 0, "10\n",
			func(r api.EvalRequest) bool { return r.Code == "x = 5\nx * 2\n" && r.PythonVersion == "3.11" }},
		{"null result", []string{"eval", "None"}, "", withResult(completed("", "", 0), `null`), 0, "",
			func(api.EvalRequest) bool { return true }},
		{"no-result", []string{"eval", "--no-result", "print('a'); 42"}, "", completed("a\n", "", 0), 0, "a\n",
			func(r api.EvalRequest) bool { return !r.EvalLastExpr }},
		{"quiet prefers result", []string{"-q", "eval", "print('a'); 42"}, "", withResult(completed("a\n", "", 0), `"42"`), 0, "42\n",
			func(api.EvalRequest) bool { return true }},
		{"image gives version", []string{"eval", "--image", "python:3.10-slim", "--timeout", "3", "1"}, "", completed("", "", 0), 0, "",
			func(r api.EvalRequest) bool {
				return r.PythonVersion == "3.10" && r.Config != nil && *r.Config.TimeoutSeconds == 3 && *r.Config.NetworkDisabled
			}},
		{"error exit", []string{"eval", "1/0"}, "", completed("", "ZeroDivisionError\n", 1), 1, "",
			func(api.EvalRequest) bool { return true }},
		{"code after --", []string{"eval", "--", "-1"}, "", withResult(completed("", "", 0), `"-1"`), 0, "-1\n",
			func(r api.EvalRequest) bool { return r.Code == "-1" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeServer(t)
			f.reply = func() (int, any) { return 200, tt.rec }
			r := runCLI(t, f, tt.stdin, nil, tt.args...)
			if r.code != tt.code || r.stdout != tt.stdout {
				t.Errorf("got %+v; want code %d stdout %q", r, tt.code, tt.stdout)
			}
			if !tt.check(f.evalReq) {
				t.Errorf("request = %+v", f.evalReq)
			}
		})
	}
}

func TestEvalInputs(t *testing.T) {
	f := newFakeServer(t)
	in := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(in, []byte("line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, f, "", nil, "eval", "--stdin-file", in, "input()"); r.code != 0 || f.evalReq.Stdin != "line\n" {
		t.Errorf("stdin file: %+v, request %+v", r, f.evalReq)
	}
	for name, args := range map[string][]string{
		"two args":         {"eval", "2", "+ 2"},
		"empty":            {"eval"},
		"bad image":        {"eval", "--image", "python:latest", "1"},
		"stdin twice":      {"eval", "--stdin-file", "-"},
		"missing req file": {"eval", "--requirements", filepath.Join(t.TempDir(), "nope.txt"), "1"},
	} {
		t.Run(name, func(t *testing.T) {
			stdin := ""
			if name == "stdin twice" {
				stdin = "input()"
			}
			if r := runCLI(t, f, stdin, nil, args...); r.code != 2 {
				t.Errorf("got %+v, want exit 2", r)
			}
		})
	}
}
