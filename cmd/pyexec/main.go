package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"

	"github.com/pyexec/pyexec/client"
)

// Exit codes of the CLI. For run, follow and eval, the script's own exit
// code is passed through.
const (
	exitOK          = 0
	exitFailed      = 1   // the execution failed without an exit code
	exitUsage       = 2   // bad usage, unreadable input, or a server or connection error
	exitTimeout     = 124 // the execution timed out, like timeout(1)
	exitInterrupted = 130 // we were interrupted (Ctrl-C)
	exitKilled      = 137 // the execution was killed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Environ())
	stop()
	os.Exit(code)
}

// cli is one invocation: its I/O, environment and flags.
type cli struct {
	ctx     context.Context
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	environ []string
	opts
}

// command is one subcommand.
type command struct {
	name, args, short, long string
	run                     func(c *cli, pos, rest []string) int
}

// commands returns the subcommands in help order.
func commands() []command {
	return []command{
		{"run", "[file.py|dir|tar] [-- args]", "run code and wait for its result", runHelp, (*cli).cmdRun},
		{"submit", "[file.py|dir|tar] [-- args]", "submit code and print the execution id", submitHelp, (*cli).cmdSubmit},
		{"follow", "EXECUTION_ID", "wait for an execution and print its result", followHelp, (*cli).cmdFollow},
		{"kill", "EXECUTION_ID", "kill a running execution", killHelp, (*cli).cmdKill},
		{"eval", "[code]", "evaluate code, REPL style, and print the last expression", evalHelp, (*cli).cmdEval},
		{"mcp", "", "serve MCP tools (run_python) on stdio, forwarding to the server", mcpHelp, (*cli).cmdMCP},
		{"version", "", "print the version of this CLI", "", (*cli).cmdVersion},
		{"help", "[command]", "show help", "", (*cli).cmdHelp},
	}
}

func findCmd(name string) (command, bool) {
	for _, cmd := range commands() {
		if cmd.name == name {
			return cmd, true
		}
	}
	return command{}, false
}

// run is the whole CLI: it parses args, runs the command and returns the
// exit code. It touches no global state, so tests call it in-process.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, environ []string) int {
	c := &cli{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, environ: environ, opts: *newOpts(environ)}
	name, args := findCommand(c.flags(""), args)
	if name == "" {
		// Only flags: "pyexec --help" or nothing at all.
		pos, _, err := c.flags("").parse(args)
		if err == nil && c.g.help && len(pos) == 0 {
			c.usage(c.stdout)
			return exitOK
		}
		c.usage(c.stderr)
		return exitUsage
	}
	cmd, ok := findCmd(name)
	if !ok {
		fmt.Fprintf(c.stderr, "pyexec: unknown command %q\nRun 'pyexec help' for usage.\n", name)
		return exitUsage
	}
	pos, rest, err := c.flags(name).parse(args)
	if err != nil {
		return c.fail(err)
	}
	if c.g.help {
		c.commandUsage(c.stdout, cmd)
		return exitOK
	}
	return cmd.run(c, pos, rest)
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{fmt.Sprintf(format, a...)}
}

// fail prints err as one line on stderr and returns its exit code.
func (c *cli) fail(err error) int {
	var ue *usageError
	var ae *client.APIError
	var oe *net.OpError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "pyexec: %s\nRun 'pyexec help' for usage.\n", ue.msg)
	case errors.As(err, &ae):
		fmt.Fprintf(c.stderr, "pyexec: server said: %s (%d)\n", oneLine(ae.Message), ae.StatusCode)
	case errors.As(err, &oe) && oe.Op == "dial":
		fmt.Fprintf(c.stderr, "pyexec: cannot reach server %s: %s\n", c.g.server, oneLine(oe.Err.Error()))
	case c.ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintln(c.stderr, "pyexec: interrupted")
		return exitInterrupted
	default:
		fmt.Fprintf(c.stderr, "pyexec: %s\n", oneLine(err.Error()))
	}
	return exitUsage
}

// oneLine keeps a message on a single line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// newClient returns a client for --server.
func (c *cli) newClient() (*client.Client, error) {
	cl, err := client.New(c.g.server, client.WithUserAgent("pyexec-cli/"+version()), client.WithToken(c.g.token))
	if err != nil {
		return nil, usageErrorf("bad --server: %v", err)
	}
	return cl, nil
}

// readAll reads r whole.
func readAll(r io.Reader) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read stdin: %w", err)
	}
	return b, nil
}

// isTerminal reports whether v is a character device such as a terminal.
func isTerminal(v any) bool {
	f, ok := v.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
