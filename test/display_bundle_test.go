package test

// _repr_mimebundle_ and SVG over MCP (ours).

import (
	"context"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

// bundleCode's last value offers an SVG and HTML through
// _repr_mimebundle_ (its HTML wins over _repr_html_'s) and Markdown
// through a method.
const bundleCode = `class M:
    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="2" height="2"/></svg>',
                "text/html": "<b>bundle</b>", "text/plain": "M", "application/x-other": "z"}
    def _repr_html_(self):
        return "<i>method</i>"
    def _repr_markdown_(self):
        return "*md*"
M()
`

// TestDisplayMimebundle: /eval offers a _repr_mimebundle_'s entries of
// the types it knows, the methods filling the rest; run_python over /mcp
// returns the well-formed SVG as image content of its type.
func TestDisplayMimebundle(t *testing.T) {
	s := sharedServer(t)
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err := c.Eval(ctx, api.EvalRequest{Code: bundleCode, EvalLastExpr: true})
	if err != nil {
		t.Fatal(err)
	}
	var mimes []string
	got := map[string]string{}
	for _, d := range rec.Display {
		b, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		mimes = append(mimes, d.Mime)
		got[d.Mime] = string(b)
	}
	if len(mimes) != 3 || mimes[0] != api.MimeSVG || got[api.MimeHTML] != "<b>bundle</b>" || got[api.MimeMarkdown] != "*md*" {
		t.Fatalf("display %v %q: %s", mimes, got, describe(*rec))
	}

	cs := mcpConnect(ctx, t, mcpHTTP(s))
	defer cs.Close()
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": bundleCode}})
	if err != nil {
		t.Fatalf("run_python: %v", err)
	}
	if res.IsError {
		t.Fatalf("run_python failed: %s", toolTexts(res))
	}
	var svg, html bool
	for _, c := range res.Content {
		switch c := c.(type) {
		case *mcp.ImageContent:
			svg = c.MIMEType == api.MimeSVG && string(c.Data) == got[api.MimeSVG]
		case *mcp.TextContent:
			html = html || c.Text == "text/html:\n<b>bundle</b>"
		}
	}
	if !svg || !html {
		t.Errorf("svg image %v, html text %v: %s", svg, html, toolTexts(res))
	}
}
