package mcptools

import (
	"log/slog"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Implementation is the name the MCP servers give in their handshake.
const Implementation = "pyexec"

// instructions tell a client's model what the server is for (sent in the
// initialize result).
const instructions = "pyexec runs Python code in a fresh, isolated sandbox for each call " +
	"(no network unless the server allows it, limited memory, CPU and time). " +
	"Use run_python to compute, test code, or inspect data; nothing persists between its calls. " +
	"When the server offers session_create, a session keeps variables, imports and files between session_run calls."

// Tool adds one tool, or one family of tools, to an MCP server.
type Tool func(*mcp.Server)

// Options of New. The zero value is ready to use.
type Options struct {
	// Version is the server's version in the handshake. Empty: "dev".
	Version string
	// Logger receives the SDK's logs. If nil, they are discarded.
	Logger *slog.Logger
}

// New returns an MCP server, named Implementation, with tools. Serve it
// with the SDK's transports (mcp.NewStreamableHTTPHandler, or Run with
// an mcp.IOTransport on stdio).
func New(opts Options, tools ...Tool) *mcp.Server {
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := mcp.NewServer(&mcp.Implementation{Name: Implementation, Title: "pyexec Python sandbox", Version: opts.Version},
		&mcp.ServerOptions{Instructions: instructions, Logger: opts.Logger})
	for _, add := range tools {
		add(s)
	}
	return s
}
