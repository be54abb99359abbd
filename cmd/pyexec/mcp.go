package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/server/mcptools"
)

const mcpHelp = `Serve the Model Context Protocol on standard input and output, for
desktop agents and editors that start MCP servers as a command: its tool
run_python runs code on the pyexec server given by --server (or
PYEXEC_SERVER), through the HTTP API, like 'pyexec eval'; the session
tools (session_create, session_run, session_list_files, session_get_file,
session_close) use its /api/v1/sessions.

The server is the one /mcp of pyexecd serves, with the same tools; use
this command where the agent speaks MCP only on stdio, or cannot reach
the server's /mcp. Messages are newline-delimited JSON-RPC; nothing else
is written to stdout, and errors go to stderr. It ends when stdin closes.

Example (an agent's MCP configuration):
  {"command": "pyexec", "args": ["mcp", "--server", "http://127.0.0.1:8080"]}`

// cmdMCP serves the MCP tools on stdio, forwarding to the server.
func (c *cli) cmdMCP(pos, rest []string) int {
	if len(pos)+len(rest) > 0 {
		return c.fail(usageErrorf("mcp takes no arguments"))
	}
	cl, err := c.newClient()
	if err != nil {
		return c.fail(err)
	}
	srv := mcptools.New(mcptools.Options{Version: version()}, mcptools.RunPython(cl), mcptools.SessionTools(cl))
	t := &mcp.IOTransport{Reader: io.NopCloser(c.stdin), Writer: nopWriteCloser{c.stdout}}
	err = srv.Run(c.ctx, t)
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, mcp.ErrConnectionClosed):
		return exitOK
	case c.ctx.Err() != nil && errors.Is(err, context.Canceled):
		return exitOK // interrupted: the agent stopped us
	}
	fmt.Fprintf(c.stderr, "pyexec: mcp: %s\n", oneLine(err.Error()))
	return exitFailed
}

// nopWriteCloser leaves stdout open when the transport closes.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
