package test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// The seed cases of python-executor's scripts/benchmark.py, named as there,
// each with its exact output asserted.

// execSyncOK runs files with /exec/sync and returns the record of a 200.
func (s *Server) execSyncOK(t testing.TB, files map[string]string, meta api.Metadata) api.Execution {
	t.Helper()
	status, raw := s.execSync(t, files, meta)
	if status != http.StatusOK {
		t.Fatalf("POST /api/v1/exec/sync: status %d, want 200: %s", status, raw)
	}
	return decode[api.Execution](t, raw)
}

func mainPy(code string) map[string]string { return map[string]string{"main.py": code} }

var entry = api.Metadata{Entrypoint: "main.py"}

func TestSeedBasic(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name, code, stdout string
	}{
		{"basic_print", `print("hello")`, "hello\n"},
		{"basic_computation", "def fib(n):\n    if n <= 1:\n        return n\n    return fib(n-1) + fib(n-2)\n\nresult = fib(20)\nprint(f\"fib(20) = {result}\")\n", "fib(20) = 6765\n"},
		{"basic_memory", "data = list(range(1_000_000))\nprint(f\"Allocated {len(data)} integers\")\n", "Allocated 1000000 integers\n"},
		{"basic_empty", "", ""},
		{"sync_simple", `print("sync test")`, "sync test\n"},
		{"deps_none", `print("no deps")`, "no deps\n"},
		{"resource_default", `print("default resources")`, "default resources\n"},
		{"eval_vs_exec", "result = 2 + 2\nprint(result)", "4\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.execSyncOK(t, mainPy(c.code), entry)
			wantRun(t, e, c.stdout)
			if e.Stderr != "" {
				t.Errorf("stderr %q, want none", e.Stderr)
			}
		})
	}
}

func TestSeedAsync(t *testing.T) {
	s := sharedServer(t)
	t.Run("async_simple", func(t *testing.T) {
		// Poll the way python-executor's client does: plain GETs.
		id := s.execAsync(t, mainPy(`print("async test")`), entry)
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, e := s.get(t, id, 0)
			if status != http.StatusOK {
				t.Fatalf("GET: status %d", status)
			}
			if e.Finished() {
				wantRun(t, e, "async test\n")
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("not finished after 30s: %s", describe(e))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("async_long_poll", func(t *testing.T) {
		id := s.execAsync(t, mainPy(`print("fast poll test")`), entry)
		wantRun(t, s.waitDone(t, id), "fast poll test\n")
	})
}

func TestSeedMultifile(t *testing.T) {
	s := sharedServer(t)
	ten := map[string]string{
		"main.py": "results = []\n" +
			"from module1 import func1\nresults.append(func1())\n" +
			"from module2 import func2\nresults.append(func2())\n" +
			"from module3 import func3\nresults.append(func3())\n" +
			"from sub.module4 import func4\nresults.append(func4())\n" +
			"from sub.deep.module5 import func5\nresults.append(func5())\n" +
			"import sub.deep.module6 as m6\nresults.append(m6.func6())\n" +
			"print(f'Loaded {len(results)} modules: {results}')\n",
		"module1.py":             "def func1():\n    return 'module1'\n",
		"module2.py":             "from module1 import func1\ndef func2():\n    return func1().replace('1', '2')\n",
		"module3.py":             "def func3():\n    return 'module3'\n",
		"sub/__init__.py":        "",
		"sub/module4.py":         "from .deep.module5 import func5\ndef func4():\n    return func5().replace('5', '4')\n",
		"sub/deep/__init__.py":   "",
		"sub/deep/module5.py":    "def func5():\n    return 'module5'\n",
		"sub/deep/module6.py":    "from ..module4 import func4\ndef func6():\n    return func4().replace('4', '6')\n",
		"sub/deep/data_table.py": "TABLE = {}\n",
	}
	cases := []struct {
		name   string
		files  map[string]string
		stdout string
	}{
		{"multifile_two", map[string]string{
			"main.py":   "from helper import greet\ngreet()",
			"helper.py": "def greet():\n    print('Hello from helper')",
		}, "Hello from helper\n"},
		{"multifile_five", map[string]string{
			"main.py":         "from utils import add, multiply\nfrom config import VALUE\nfrom pkg.data import get_data\nfrom pkg import format_output\n\nresult = multiply(add(VALUE, 5), 2)\nprint(format_output(result, get_data()))\n",
			"utils.py":        "def add(a, b):\n    return a + b\n\ndef multiply(a, b):\n    return a * b\n",
			"config.py":       "VALUE = 10",
			"pkg/__init__.py": "def format_output(result, data):\n    return f'Result: {result}, Data: {data}'\n",
			"pkg/data.py":     "def get_data():\n    return {'items': [1, 2, 3]}",
		}, "Result: 30, Data: {'items': [1, 2, 3]}\n"},
		{"multifile_ten", ten, "Loaded 6 modules: ['module1', 'module2', 'module3', 'module4', 'module5', 'module6']\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if n := len(c.files); n != map[string]int{"multifile_two": 2, "multifile_five": 5, "multifile_ten": 10}[c.name] {
				t.Fatalf("the case has %d files", n)
			}
			wantRun(t, s.execSyncOK(t, c.files, entry), c.stdout)
		})
	}
}

func TestSeedVersions(t *testing.T) {
	s := sharedServer(t)
	for _, series := range []string{"3.10", "3.11", "3.12"} {
		t.Run("version_"+strings.ReplaceAll(series, ".", ""), func(t *testing.T) {
			e := s.execSyncOK(t, mainPy("import sys\nprint('%d.%d.%d' % sys.version_info[:3])"),
				api.Metadata{Entrypoint: "main.py", DockerImage: "python:" + series + "-slim"})
			if !strings.HasPrefix(e.PythonVersion, series+".") {
				t.Errorf("python_version %q, want %s.x", e.PythonVersion, series)
			}
			wantRun(t, e, e.PythonVersion+"\n")
		})
	}
}

func TestSeedResources(t *testing.T) {
	s := sharedServer(t)
	// 100 MB of real, written memory.
	const alloc = "data = 'x' * (100 * 1024 * 1024)\nprint(len(data))"
	for _, mb := range []int{256, 2048} {
		t.Run(fmt.Sprintf("memory_%d", mb), func(t *testing.T) {
			e := s.execSyncOK(t, mainPy(alloc), api.Metadata{Entrypoint: "main.py", Config: &api.Config{MemoryMB: ptr(mb)}})
			wantRun(t, e, "104857600\n")
			if e.OOMKilled {
				t.Error("oom_killed set")
			}
			if e.Usage != nil && e.Usage.MemoryPeakBytes < 100<<20 {
				t.Errorf("memory_peak_bytes %d, want >= 100 MiB", e.Usage.MemoryPeakBytes)
			}
		})
	}
}

func TestSeedIO(t *testing.T) {
	s := sharedServer(t)
	stdin100 := strings.Repeat("héllo, wörld\n", 7)[:98] + "!\n" // 100 bytes, some UTF-8
	if len(stdin100) != 100 {
		t.Fatalf("stdin is %d bytes", len(stdin100))
	}
	big := strings.Repeat("x", 100_000)
	cases := []struct {
		name, code, stdin, stdout string
	}{
		{"io_no_stdin", "import sys\nprint(repr(sys.stdin.read()))", "", "''\n"},
		{"io_small_stdin", "import sys\nsys.stdout.write(sys.stdin.read())", stdin100, stdin100},
		{"io_large_stdout", "output = 'x' * 100_000\nprint(output)", "", big + "\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.execSyncOK(t, mainPy(c.code), api.Metadata{Entrypoint: "main.py", Stdin: c.stdin})
			wantRun(t, e, c.stdout)
			if len(e.Stdout) != len(c.stdout) || e.StdoutTruncated {
				t.Errorf("stdout is %d bytes (truncated %v), want %d", len(e.Stdout), e.StdoutTruncated, len(c.stdout))
			}
		})
	}
}

func TestSeedConcurrent(t *testing.T) {
	s := sharedServer(t)
	for _, n := range []int{2, 5, 10} {
		t.Run(fmt.Sprintf("concurrent_%d", n), func(t *testing.T) {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = s.execAsync(t, mainPy(fmt.Sprintf("import time\ntime.sleep(0.2)\nprint('concurrent test %d/%d')", i, n)), entry)
			}
			for i, id := range ids {
				wantRun(t, s.waitDone(t, id), fmt.Sprintf("concurrent test %d/%d\n", i, n))
			}
		})
	}
}

func TestSeedEval(t *testing.T) {
	s := sharedServer(t)
	cases := []struct {
		name, code, result, stdout string
	}{
		{"eval_simple", "2 + 2", "4", ""},
		{"eval_multiline", "x = 5\ny = 10\nx + y", "15", ""},
		{"eval_import", "import math\nmath.sqrt(16)", "4.0", ""},
		{"eval_no_result", `print("hello")`, "<null>", "hello\n"},
		{"eval_complex", "[x**2 for x in range(5)]", "[0, 1, 4, 9, 16]", ""},
		{"eval_none", "x = 1\nNone", "<null>", ""},
		{"eval_string", "'a' + 'b'", "'ab'", ""},
		// Output that looks like a result marker is only output.
		{"fake_marker_no_expr", "print('{\"result\": \"999\"}')\nprint('__PYEXEC_RESULT__ 999')\nx = 1", "<null>",
			"{\"result\": \"999\"}\n__PYEXEC_RESULT__ 999\n"},
		{"fake_marker_then_expr", "import sys\nprint('{\"result\": \"999\"}')\nsys.stderr.write('{\"result\": \"998\"}\\n')\n1 + 1", "2",
			"{\"result\": \"999\"}\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := s.eval(t, api.EvalRequest{Code: c.code, EvalLastExpr: true})
			wantRun(t, e, c.stdout)
			if got := resultOf(e); got != c.result {
				t.Errorf("result %s (raw %s), want %s", got, e.Result, c.result)
			}
		})
	}
	t.Run("without eval_last_expr", func(t *testing.T) {
		e := s.eval(t, api.EvalRequest{Code: "2 + 2"})
		wantRun(t, e, "")
		if len(e.Result) != 0 && string(e.Result) != "null" {
			t.Errorf("result %s without eval_last_expr", e.Result)
		}
	})
}
