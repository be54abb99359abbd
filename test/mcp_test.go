package test

// End-to-end tests of the MCP endpoints (ours): /mcp of the real pyexecd
// and `pyexec mcp` on stdio, each with two real clients: the official Go
// SDK's and the MCP Inspector's CLI (npm @modelcontextprotocol/inspector,
// which .ci/run installs and names in PYEXEC_MCP_INSPECTOR).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// mcpCode prints to both streams and ends in an expression.
const mcpCode = "import sys\nprint('hello from pyexec', 6 * 7)\nprint('a warning', file=sys.stderr)\nsum(range(10))\n"

// mcpFailing raises.
const mcpFailing = "x = 1\nprint('before')\n1 / 0\n"

// inspectorVersion is the Inspector that .ci/run installs.
const inspectorVersion = "2.12.0"

// toolTexts joins a tool result's text contents.
func toolTexts(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// checkMCPClient lists the tools and calls run_python through cs.
func checkMCPClient(t *testing.T, cs *mcp.ClientSession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// run_python first (by name); over /mcp the session tools follow (test/session_test.go).
	if len(tools.Tools) < 1 || tools.Tools[0].Name != "run_python" {
		t.Fatalf("tools: %+v", tools.Tools)
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": mcpCode}})
	if err != nil {
		t.Fatal(err)
	}
	got := toolTexts(res)
	if res.IsError || got != "stdout:\nhello from pyexec 42\n\nresult: 45\nstderr:\na warning\n" {
		t.Fatalf("run_python: isError %v, text %q", res.IsError, got)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{
		"code": "import helper\nprint(helper.greet(open('names.txt').read().strip()))\n",
		"files": []map[string]string{
			{"name": "helper.py", "content": "def greet(n):\n    return 'hi ' + n\n"},
			{"name": "names.txt", "content": "ada\n"},
		},
		"timeout": 10,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := toolTexts(res); res.IsError || got != "stdout:\nhi ada\n" {
		t.Fatalf("run_python with files: isError %v, text %q", res.IsError, got)
	}
	// output_files: a resource link with the file's download path.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{
		"code": "open('r.json', 'w').write('[1]')", "output_files": []string{"*.json"}}})
	if err != nil {
		t.Fatal(err)
	}
	var link *mcp.ResourceLink
	for _, c := range res.Content {
		if l, ok := c.(*mcp.ResourceLink); ok {
			link = l
		}
	}
	if res.IsError || link == nil || link.Name != "r.json" || !strings.HasPrefix(link.URI, "/api/v1/executions/exe_") ||
		!strings.HasSuffix(link.URI, "/files/r.json") || link.Size == nil || *link.Size != 3 {
		t.Fatalf("run_python with output_files: %+v", res.Content)
	}
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": mcpFailing}})
	if err != nil {
		t.Fatal(err)
	}
	got = toolTexts(res)
	if !res.IsError || !strings.Contains(got, "stdout:\nbefore\n") || !strings.Contains(got, "Traceback (most recent call last)") ||
		!strings.Contains(got, "ZeroDivisionError") || !strings.Contains(got, "error: ZeroDivisionError at line 3 (exit code 1)") {
		t.Fatalf("a failing run: isError %v, text %q", res.IsError, got)
	}
}

// TestMCPGoSDK: the Go SDK's client over /mcp (Streamable HTTP) and over
// `pyexec mcp` (stdio, forwarding to the same server).
func TestMCPGoSDK(t *testing.T) {
	s := sharedServer(t)
	eachMCPClient(t, s, func(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
		if info := cs.InitializeResult().ServerInfo; info.Name != "pyexec" {
			t.Fatalf("server info %+v", info)
		}
		checkMCPClient(t, cs)
	})
	// Not an MCP client: the endpoint says what it wants.
	res := s.do(t, http.MethodPost, "/mcp", "application/json", strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	if res.Status < 400 || res.Status >= 500 {
		t.Fatalf("POST /mcp without the MCP Accept header: %d %s", res.Status, res.Body)
	}
}

// eachMCPClient runs f, as a subtest each, with the Go SDK's client
// connected to s over /mcp (Streamable HTTP) and over `pyexec mcp` (stdio,
// forwarding to s), and a minute for it.
func eachMCPClient(t *testing.T, s *Server, f func(ctx context.Context, t *testing.T, cs *mcp.ClientSession)) {
	for _, tt := range []struct {
		name      string
		transport func() mcp.Transport
	}{
		{"http", func() mcp.Transport { return mcpHTTP(s) }},
		{"stdio", func() mcp.Transport {
			cmd := exec.Command(cliBin(t), "mcp", "--server", s.URL)
			cmd.Stderr = os.Stderr
			return &mcp.CommandTransport{Command: cmd}
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cs := mcpConnect(ctx, t, tt.transport())
			defer cs.Close()
			f(ctx, t, cs)
		})
	}
}

// mcpHTTP is the Streamable HTTP transport to s's /mcp.
func mcpHTTP(s *Server) mcp.Transport {
	return &mcp.StreamableClientTransport{Endpoint: s.URL + "/mcp", HTTPClient: httpClient, MaxRetries: -1}
}

// mcpConnect connects the Go SDK's client over tr; the caller closes the
// session.
func mcpConnect(ctx context.Context, t *testing.T, tr mcp.Transport) *mcp.ClientSession {
	t.Helper()
	c := mcp.NewClient(&mcp.Implementation{Name: "pyexec-e2e", Version: "1"}, nil)
	cs, err := c.Connect(ctx, tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// inspector returns the MCP Inspector's executable: PYEXEC_MCP_INSPECTOR,
// as .ci/run sets it. Without it the test is skipped, and fails under
// CI=true.
func inspector(t *testing.T) string {
	t.Helper()
	p := os.Getenv("PYEXEC_MCP_INSPECTOR")
	if p == "" {
		msg := "PYEXEC_MCP_INSPECTOR is not set: install the Inspector with " +
			"'npm install --prefix /tmp/insp @modelcontextprotocol/inspector@" + inspectorVersion +
			"' and set it to /tmp/insp/node_modules/.bin/mcp-inspector (.ci/run does)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg) // off CI only: under CI=true the t.Fatal above (.ci/run installs it)
	}
	return p
}

// runInspector runs the Inspector's CLI mode with args and decodes the
// JSON it prints.
func runInspector(t *testing.T, bin string, env []string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--cli"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("inspector %q: %v", args, err)
	}
	// The result is the first JSON document printed; a tool error adds a
	// second line about it.
	var v map[string]any
	if derr := json.NewDecoder(strings.NewReader(string(out))).Decode(&v); derr != nil {
		t.Fatalf("inspector %q: %v; stdout %q, stderr %q", args, derr, out, stderr.String())
	}
	return v
}

// inspectorText joins the text contents of a tools/call result.
func inspectorText(t *testing.T, v map[string]any) (string, bool) {
	t.Helper()
	content, _ := v["content"].([]any)
	var parts []string
	for _, c := range content {
		m, _ := c.(map[string]any)
		if m["type"] == "text" {
			s, _ := m["text"].(string)
			parts = append(parts, s)
		}
	}
	isErr, _ := v["isError"].(bool)
	return strings.Join(parts, "\n"), isErr
}

// TestMCPInspector: the MCP Inspector's CLI mode lists the tools and calls
// run_python over /mcp and over `pyexec mcp` on stdio. The commands are
// (--tool-arg takes every argument up to "--"):
//
//	mcp-inspector --cli --method tools/list http://HOST:PORT/mcp
//	mcp-inspector --cli --method tools/call --tool-name run_python --tool-arg 'code=...' -- http://HOST:PORT/mcp
//	mcp-inspector --cli -e PYEXEC_SERVER=http://HOST:PORT --method tools/list -- pyexec mcp
//	mcp-inspector --cli -e PYEXEC_SERVER=http://HOST:PORT --method tools/call --tool-name run_python --tool-arg 'code=...' -- pyexec mcp
func TestMCPInspector(t *testing.T) {
	bin := inspector(t)
	s := sharedServer(t)
	for _, tt := range []struct {
		name   string
		env    []string
		target []string
	}{
		{"http", nil, []string{"--", s.URL + "/mcp"}},
		{"stdio", []string{"PYEXEC_SERVER=" + s.URL}, []string{"--", cliBin(t), "mcp"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := func(a ...string) []string {
				var out []string
				for _, e := range tt.env {
					out = append(out, "-e", e)
				}
				return append(append(out, a...), tt.target...)
			}
			list := runInspector(t, bin, nil, args("--method", "tools/list")...)
			tools, _ := list["tools"].([]any)
			if len(tools) < 1 || tools[0].(map[string]any)["name"] != "run_python" { // then the session tools, over /mcp
				t.Fatalf("tools/list: %v", list)
			}
			call := runInspector(t, bin, nil, args("--method", "tools/call", "--tool-name", "run_python", "--tool-arg", "code="+mcpCode)...)
			text, isErr := inspectorText(t, call)
			if isErr || text != "stdout:\nhello from pyexec 42\n\nresult: 45\nstderr:\na warning\n" {
				t.Fatalf("tools/call: isError %v, text %q (%v)", isErr, text, call)
			}
			call = runInspector(t, bin, nil, args("--method", "tools/call", "--tool-name", "run_python", "--tool-arg", "code="+mcpFailing)...)
			text, isErr = inspectorText(t, call)
			if !isErr || !strings.Contains(text, "ZeroDivisionError") || !strings.Contains(text, "before") {
				t.Fatalf("failing tools/call: isError %v, text %q", isErr, text)
			}
		})
	}
}
