package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMCPStdio: `pyexec mcp` serves run_python on its stdin and stdout,
// forwarding each call to the server's /eval, and ends when stdin closes.
func TestMCPStdio(t *testing.T) {
	f := newFakeServer(t)
	f.reply = func() (int, any) { return 200, completed("hi\n", "", 0) }
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr strings.Builder
	code := make(chan int, 1)
	go func() {
		code <- run(context.Background(), []string{"--server", f.srv.URL, "mcp"}, inR, outW, &stderr, nil)
		outW.Close()
	}()
	c := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	cs, err := c.Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil || len(tools.Tools) != 6 || tools.Tools[0].Name != "run_python" { // and the five session tools
		t.Fatalf("tools: %+v, %v", tools, err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "run_python", Arguments: map[string]any{"code": "print('hi')"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError || len(res.Content) != 1 || res.Content[0].(*mcp.TextContent).Text != "stdout:\nhi\n" {
		t.Fatalf("result %+v", res)
	}
	if f.evalReq.Code != "print('hi')" || !f.evalReq.EvalLastExpr {
		t.Fatalf("forwarded %+v", f.evalReq)
	}
	cs.Close()
	if got := <-code; got != 0 || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", got, stderr.String())
	}
}
