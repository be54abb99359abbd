package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/server/mcptools"
)

// bearer adds a token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// mcpSession connects the SDK's client to ts's /mcp, with token when not
// empty.
func mcpSession(t *testing.T, ts *testServer, token string) (*mcp.ClientSession, error) {
	t.Helper()
	hc := &http.Client{Timeout: 30 * time.Second}
	if token != "" {
		hc.Transport = bearer{token: token, next: http.DefaultTransport}
	}
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: hc, MaxRetries: -1}, nil)
	if err == nil {
		t.Cleanup(func() { cs.Close() })
	}
	return cs, err
}

func toolText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestMCPEndpoint: the SDK's client lists run_python and calls it over
// /mcp; the job is the one POST /api/v1/eval would make.
func TestMCPEndpoint(t *testing.T) {
	fr := &fakeRunner{}
	ts := newTestServer(t, Options{Version: "v9"}, fr)
	cs, err := mcpSession(t, ts, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := cs.InitializeResult().ServerInfo; got.Name != mcptools.Implementation || got.Version != "v9" {
		t.Fatalf("server info %+v", got)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) != 1 || tools.Tools[0].Name != "run_python" || !strings.Contains(tools.Tools[0].Description, "sandbox") {
		t.Fatalf("tools %+v", tools.Tools)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{
		"code": "print('ok')", "python_version": "3.11", "timeout": 7,
		"files": []map[string]string{{"name": "data/x.txt", "content": "x"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || toolText(res) != "stdout:\nok\n\n" {
		t.Fatalf("result %+v: %q", res, toolText(res))
	}
	jobs := fr.Jobs()
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
	j := jobs[0]
	if j.Entrypoint != "main.py" || !j.EvalLastExpr || j.Interpreter.Series != "3.11" || j.Limits.Timeout != 7*time.Second {
		t.Fatalf("job %+v", j)
	}
	var paths []string
	for _, f := range j.Files {
		paths = append(paths, f.Path)
	}
	if got := strings.Join(paths, ","); !strings.Contains(got, "main.py") || !strings.Contains(got, "data/x.txt") {
		t.Fatalf("files %q", paths)
	}
	// A request the server refuses is an error result with its reason.
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{
		"code": "1", "python_version": "2.7",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || !strings.Contains(toolText(res), "available") {
		t.Fatalf("bad version: %+v %q", res, toolText(res))
	}
}

// TestMCPAuth: /mcp is behind the API's tokens, and a call counts
// against its caller's quota like /eval.
func TestMCPAuth(t *testing.T) {
	fr := &fakeRunner{}
	ts := newTestServer(t, Options{Tokens: Tokens{User: []string{"secret-user"}}}, fr)
	if _, err := mcpSession(t, ts, ""); err == nil {
		t.Fatal("connected without a token")
	}
	if _, err := mcpSession(t, ts, "wrong"); err == nil {
		t.Fatal("connected with a wrong token")
	}
	res := do(t, http.MethodPost, ts.URL+"/mcp", "application/json", strings.NewReader(`{}`))
	if res.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d %s", res.status, res.body)
	}
	cs, err := mcpSession(t, ts, "secret-user")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": "print(1)"}}); err != nil {
		t.Fatal(err)
	}
	jobs := fr.Jobs()
	if len(jobs) != 1 || jobs[0].caller == "" {
		t.Fatalf("the job does not name its caller: %+v", jobs)
	}
}
