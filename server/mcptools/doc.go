// Package mcptools is pyexec's Model Context Protocol server: the tools an
// AI agent calls to run Python in pyexec's jails, built with the official
// Go SDK (github.com/modelcontextprotocol/go-sdk).
//
// The package owns what a model sees: each tool's name, its description
// and input schema (written for a model to read), and how a finished
// execution record becomes the tool's result (text content for stdout,
// stderr and the value of the last expression; an error result, isError,
// with the traceback when the code failed). It owns no transport and runs
// no code itself: a tool runs on the narrow interface it declares
// ([Evaluator] for run_python), which pyexecd implements in process for
// its Streamable HTTP endpoint /mcp (server.Server) and the Go client
// implements over HTTP for `pyexec mcp` on stdio (client.Client).
//
// Tools are added with [New] and [Tool] values, one constructor per tool
// or family of tools ([RunPython]); later families (sessions) add their
// own constructor over their own interface, and the callers list them.
package mcptools
