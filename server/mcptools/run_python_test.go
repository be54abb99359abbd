package mcptools

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

func intp(v int) *int { return &v }

func TestRecordResult(t *testing.T) {
	for _, tt := range []struct {
		name    string
		rec     api.Execution
		texts   []string
		isError bool
	}{
		{"stdout and result", api.Execution{Status: api.StatusCompleted, ExitCode: intp(0), Stdout: "hi\n", Result: json.RawMessage(`"42"`)},
			[]string{"stdout:\nhi\n", "result: 42"}, false},
		{"nothing", api.Execution{Status: api.StatusCompleted, ExitCode: intp(0), Result: json.RawMessage(`null`)},
			[]string{"The program ran to its end (exit code 0) and printed nothing."}, false},
		{"traceback", api.Execution{Status: api.StatusCompleted, ExitCode: intp(1), Stderr: "Traceback ...\nNameError: x\n", ErrorType: "NameError", ErrorLine: intp(2)},
			[]string{"stderr:\nTraceback ...\nNameError: x\n", "error: NameError at line 2 (exit code 1); the traceback is in stderr"}, true},
		{"exit code", api.Execution{Status: api.StatusCompleted, ExitCode: intp(3)},
			[]string{"error: the program exited with code 3"}, true},
		{"timeout", api.Execution{Status: api.StatusFailed, ExitCode: intp(137), Stdout: "a", TimedOut: true, Error: "execution timed out after 2s"},
			[]string{"stdout:\na", "error: execution timed out after 2s"}, true},
		{"killed", api.Execution{Status: api.StatusKilled, ExitCode: intp(137)},
			[]string{"error: the execution was killed"}, true},
		{"truncated", api.Execution{Status: api.StatusCompleted, ExitCode: intp(0), Stdout: "xx", StdoutTruncated: true},
			[]string{"stdout:\nxx\n[truncated: the program wrote more than the server keeps; print less, or summarise]"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := recordResult(&tt.rec)
			var texts []string
			for _, c := range res.Content {
				texts = append(texts, c.(*mcp.TextContent).Text)
			}
			if strings.Join(texts, "|") != strings.Join(tt.texts, "|") || res.IsError != tt.isError {
				t.Fatalf("got %q isError %v, want %q isError %v", texts, res.IsError, tt.texts, tt.isError)
			}
		})
	}
}

func TestRunPythonRequest(t *testing.T) {
	for _, tt := range []struct {
		name string
		in   runPythonInput
		want api.EvalRequest
		err  string
	}{
		{"code only", runPythonInput{Code: "1", PythonVersion: "3.11", Requirements: "rich"},
			api.EvalRequest{Code: "1", PythonVersion: "3.11", RequirementsTxt: "rich", EvalLastExpr: true}, ""},
		{"files", runPythonInput{Code: "import a", Files: []inputFile{{"a.py", "x=1"}}, Timeout: 5},
			api.EvalRequest{Entrypoint: "main.py", Files: []api.File{{Name: "main.py", Content: "import a"}, {Name: "a.py", Content: "x=1"}},
				EvalLastExpr: true, Config: &api.Config{TimeoutSeconds: intp(5)}}, ""},
		{"empty", runPythonInput{Code: " \n"}, api.EvalRequest{}, `"code" is empty`},
		{"main.py in files", runPythonInput{Code: "1", Files: []inputFile{{"./main.py", ""}}}, api.EvalRequest{}, `must not hold main.py`},
		{"negative timeout", runPythonInput{Code: "1", Timeout: -1}, api.EvalRequest{}, `"timeout"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.in.request()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if err != nil || string(g) != string(w) {
				t.Fatalf("got %s, %v; want %s", g, err, w)
			}
		})
	}
}

type fakeEvaluator struct {
	rec *api.Execution
	err error
	got api.EvalRequest
}

func (f *fakeEvaluator) Eval(_ context.Context, req api.EvalRequest) (*api.Execution, error) {
	f.got = req
	return f.rec, f.err
}

// TestRunPythonTool calls the tool through an in-memory MCP connection.
func TestRunPythonTool(t *testing.T) {
	ev := &fakeEvaluator{err: errors.New("server returned 400: unsupported python version")}
	srv := New(Options{}, RunPython(ev))
	st, ct := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "t"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	if cs.InitializeResult().Instructions == "" {
		t.Error("no instructions for the model")
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: RunPythonName, Arguments: map[string]any{"code": "1", "python_version": "2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || res.Content[0].(*mcp.TextContent).Text != "pyexec did not run the code: server returned 400: unsupported python version" {
		t.Fatalf("result %+v", res)
	}
	// Arguments that do not match the schema never reach the evaluator.
	ev.got = api.EvalRequest{}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: RunPythonName, Arguments: map[string]any{"code": 5}})
	if err == nil && !res.IsError {
		t.Fatalf("a number as code was accepted: %+v", res)
	}
	if ev.got.Code != "" {
		t.Fatalf("evaluator called with %+v", ev.got)
	}
}

// TestFileContent: output files come back as a text listing and one
// resource link each, with their download paths (escaped); the note on
// what was left out is kept.
func TestFileContent(t *testing.T) {
	rec := &api.Execution{ExecutionID: "exe_1", OutputFiles: []api.OutputFile{{Path: "out/a b.json", Size: 4}, {Path: "plot.png", Size: 9}},
		OutputFilesNote: "2 more files were left out"}
	got := fileContent(rec)
	if len(got) != 3 {
		t.Fatalf("content %+v", got)
	}
	text, ok := got[0].(*mcp.TextContent)
	if !ok || !strings.Contains(text.Text, "out/a b.json: /api/v1/executions/exe_1/files/out/a%20b.json (4 bytes)") || !strings.Contains(text.Text, "note: 2 more files") {
		t.Fatalf("listing %+v", got[0])
	}
	for i, want := range []struct{ uri, mime string }{
		{"/api/v1/executions/exe_1/files/out/a%20b.json", "application/json"},
		{"/api/v1/executions/exe_1/files/plot.png", "image/png"},
	} {
		l, ok := got[i+1].(*mcp.ResourceLink)
		if !ok || l.URI != want.uri || l.MIMEType != want.mime || l.Size == nil || *l.Size != rec.OutputFiles[i].Size || l.Name != rec.OutputFiles[i].Path {
			t.Errorf("link %d: %+v", i, got[i+1])
		}
	}
	if got := fileContent(&api.Execution{OutputFilesNote: "the store is full"}); len(got) != 1 {
		t.Errorf("note only: %+v", got)
	}
	if got := fileContent(&api.Execution{}); got != nil {
		t.Errorf("no files: %+v", got)
	}
	req, err := runPythonInput{Code: "x", OutputFiles: []string{"*.csv"}}.request()
	if err != nil || len(req.OutputFiles) != 1 || req.OutputFiles[0] != "*.csv" {
		t.Errorf("output_files in the request: %+v %v", req, err)
	}
}
