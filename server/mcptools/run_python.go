package mcptools

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

// Evaluator runs one /api/v1/eval request to its end and returns the
// final record. A record whose code failed is not an error; an error is a
// request the server refused (its message is shown to the model as is)
// or one that could not reach it. client.Client implements it over HTTP;
// pyexecd implements it in process.
type Evaluator interface {
	Eval(ctx context.Context, req api.EvalRequest) (*api.Execution, error)
}

// RunPythonName is the name of the run_python tool.
const RunPythonName = "run_python"

// mainFile is the file the code of run_python becomes.
const mainFile = "main.py"

var runPythonTool = &mcp.Tool{
	Name:  RunPythonName,
	Title: "Run Python",
	Description: `Run a Python program in a fresh, isolated sandbox and return what it printed.

Each call starts from scratch: variables, imports and files do not persist between calls, so put everything a computation needs in one program. The program runs as main.py in /work (writable; other files given in "files" sit beside it) with no network access, and within memory, CPU-time and wall-clock limits.

The result holds the program's stdout and stderr, each as text, and, like a notebook cell, the repr() of the last line when that line is an expression (so "import math\nmath.factorial(20)" returns result: 2432902008176640000 without a print). When the program raises, exits with a non-zero status, or hits a limit, the result is marked as an error and holds the traceback or the reason.

Figures: matplotlib figures still open when the program ends, or passed to plt.show(), come back as PNG images (when the server's Python has matplotlib; it draws off-screen, so plt.show() never blocks). When the last expression has rich forms (_repr_html_, _repr_markdown_, _repr_svg_, _repr_json_, _repr_png_, as in a notebook), they come back too: PNG and SVG as images, the others as text.

Files the program writes are gone after the call unless you name them in "output_files" (glob patterns such as "*.csv"): the matches are kept on the server and come back as resource links with their download paths.

Third-party packages: imports are detected and installed automatically when the server can; name others (or pin versions) in "requirements". Prefer the standard library when it is enough.`,
	Annotations: &mcp.ToolAnnotations{
		Title:           "Run Python",
		ReadOnlyHint:    false,
		DestructiveHint: ptr(false), // nothing outside the sandbox changes
		IdempotentHint:  false,
		OpenWorldHint:   ptr(false), // no network unless the server allows it
	},
}

// runPythonInput is run_python's arguments; the jsonschema tags are the
// descriptions a model reads.
type runPythonInput struct {
	Code          string      `json:"code" jsonschema:"The Python program to run (the contents of main.py). Print what you want to see; the value of a final expression is returned as result."`
	Files         []inputFile `json:"files,omitempty" jsonschema:"Extra text files placed in the working directory next to main.py before the program starts: modules it imports, input data, configuration. Paths are relative (subdirectories allowed)."`
	PythonVersion string      `json:"python_version,omitempty" jsonschema:"Python version to run, such as 3.12 or 3.11. Leave it out for the server's default; an unsupported version is refused with the list of available ones."`
	Requirements  string      `json:"requirements,omitempty" jsonschema:"Packages to pip-install before the program runs, in requirements.txt format, one per line (for example numpy==2.1.0). Imports of well-known packages are detected without this; use it for versions or packages whose import name differs."`
	Timeout       int         `json:"timeout,omitempty" jsonschema:"Wall-clock limit in seconds; the program is stopped and the call reports a timeout when it runs longer. Leave it out for the server's default. Values above the server's maximum are lowered to it."`
	OutputFiles   []string    `json:"output_files,omitempty" jsonschema:"Glob patterns relative to /work of files the code writes that you want back, such as *.csv or out/**/*.png (** spans directories). When the call ends the matching files are kept on the server (bounded in count and total size) and listed in the result as resource links whose URI is the file's download path on the pyexec server (GET it with the same credentials)."`
}

// inputFile is one entry of run_python's files.
type inputFile struct {
	Name    string `json:"name" jsonschema:"Relative path of the file, such as data.csv or pkg/util.py."`
	Content string `json:"content" jsonschema:"The file's text."`
}

// request builds the /eval request of in: main.py first (the entrypoint),
// then the other files.
func (in runPythonInput) request() (api.EvalRequest, error) {
	if strings.TrimSpace(in.Code) == "" {
		return api.EvalRequest{}, errors.New(`"code" is empty: give the Python program to run`)
	}
	req := api.EvalRequest{
		PythonVersion:   in.PythonVersion,
		RequirementsTxt: in.Requirements,
		EvalLastExpr:    true,
		OutputFiles:     in.OutputFiles,
	}
	if in.Timeout < 0 {
		return api.EvalRequest{}, errors.New(`"timeout" must be a positive number of seconds`)
	}
	if in.Timeout > 0 {
		req.Config = &api.Config{TimeoutSeconds: ptr(in.Timeout)}
	}
	if len(in.Files) == 0 {
		req.Code = in.Code
		return req, nil
	}
	req.Entrypoint = mainFile
	req.Files = append(req.Files, api.File{Name: mainFile, Content: in.Code})
	for _, f := range in.Files {
		if strings.TrimPrefix(f.Name, "./") == mainFile {
			return api.EvalRequest{}, fmt.Errorf(`"files" must not hold %s: the program in "code" is %s`, mainFile, mainFile)
		}
		req.Files = append(req.Files, api.File{Name: f.Name, Content: f.Content})
	}
	return req, nil
}

// RunPython is the run_python tool: it runs the code through ev and
// returns the record as the tool's result (see recordResult).
func RunPython(ev Evaluator) Tool {
	return func(s *mcp.Server) {
		mcp.AddTool(s, runPythonTool, func(ctx context.Context, _ *mcp.CallToolRequest, in runPythonInput) (*mcp.CallToolResult, any, error) {
			req, err := in.request()
			if err != nil {
				return errorResult(err.Error()), nil, nil
			}
			rec, err := ev.Eval(ctx, req)
			if err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err() // the call was cancelled: nobody reads a result
				}
				return errorResult("pyexec did not run the code: " + err.Error()), nil, nil
			}
			return recordResult(rec), nil, nil
		})
	}
}

// recordResult turns a finished record into a tool result: one text
// content each for stdout, the last expression's value and stderr (those
// that are not empty), then rich content (figures), and for a run that did
// not complete with exit code 0 an error result ending in why.
func recordResult(rec *api.Execution) *mcp.CallToolResult {
	var content []mcp.Content
	text := func(s string) { content = append(content, &mcp.TextContent{Text: s}) }
	if rec.Stdout != "" {
		text("stdout:\n" + rec.Stdout + truncatedNote(rec.StdoutTruncated))
	}
	if repr, ok := rec.ResultString(); ok {
		text("result: " + repr)
	}
	if rec.Stderr != "" {
		text("stderr:\n" + rec.Stderr + truncatedNote(rec.StderrTruncated))
	}
	content = append(content, richContent(rec)...)
	content = append(content, fileContent(rec)...)
	why := failure(rec)
	switch {
	case why != "":
		text("error: " + why)
	case len(content) == 0:
		text("The program ran to its end (exit code 0) and printed nothing.")
	}
	return &mcp.CallToolResult{Content: content, IsError: why != ""}
}

// richContent is a record's display list as MCP content: each image/png
// (a figure, a _repr_png_) and each well-formed SVG an image content;
// HTML, Markdown, JSON and SVG that does not parse a text content naming
// its type; then the note on what the server left out, if any.
func richContent(rec *api.Execution) []mcp.Content {
	var out []mcp.Content
	for _, d := range rec.Display {
		b, err := d.Bytes()
		if err != nil {
			continue
		}
		if d.Mime == api.MimePNG || (d.Mime == api.MimeSVG && validSVG(b)) {
			out = append(out, &mcp.ImageContent{MIMEType: d.Mime, Data: b})
			continue
		}
		out = append(out, &mcp.TextContent{Text: d.Mime + ":\n" + string(b)})
	}
	if rec.DisplayNote != "" {
		out = append(out, &mcp.TextContent{Text: "note: " + rec.DisplayNote})
	}
	return out
}

// failure says why a record is a failed run, or "" when its code ran to
// its end with exit code 0.
func failure(rec *api.Execution) string {
	exit := 0
	if rec.ExitCode != nil {
		exit = *rec.ExitCode
	}
	switch {
	case rec.Status == api.StatusCompleted && exit == 0:
		return ""
	case rec.Error != "":
		return rec.Error
	case rec.Status == api.StatusKilled:
		return "the execution was killed"
	case rec.ErrorType != "" && rec.ErrorLine != nil:
		return fmt.Sprintf("%s at line %d (exit code %d); the traceback is in stderr", rec.ErrorType, *rec.ErrorLine, exit)
	case rec.ErrorType != "":
		return fmt.Sprintf("%s (exit code %d); the traceback is in stderr", rec.ErrorType, exit)
	}
	return fmt.Sprintf("the program exited with code %d", exit)
}

func truncatedNote(truncated bool) string {
	if !truncated {
		return ""
	}
	return "\n[truncated: the program wrote more than the server keeps; print less, or summarise]"
}

// errorResult is a tool error with one text.
func errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: msg}}, IsError: true}
}

func ptr[T any](v T) *T { return &v }
