package main

import (
	"fmt"
	"io"
	"strings"
)

const runHelp = `Run Python code on the server and wait for its result.

The code comes from:
  - a .py file:        pyexec run script.py          (it is the entrypoint)
  - a directory:       pyexec run ./project/          (tarred; __pycache__ and .git left out)
  - a tar archive:     pyexec run project.tar         (.tar, .tar.gz or .tgz, sent as is)
  - --file flags:      pyexec run --file a.py --file b.py
  - standard input:    echo 'print(1)' | pyexec run   (becomes main.py)

Without --entrypoint, the file run is main.py, else __main__.py, else the
first .py file in sorted order. Arguments after -- go to the script's
sys.argv. The script's stdout and stderr are printed as they are, and
pyexec exits with the script's exit code: 124 when it timed out, 137 when
it was killed, 1 when it failed without one, 2 on usage or server errors.
On a terminal the output is printed as the code writes it (pyexec's live
output); --stream does so elsewhere too, --no-stream waits for the end.

Examples:
  pyexec run script.py -- --verbose input.txt
  pyexec run --requirements requirements.txt ./project/
  pyexec run -e API_KEY -e DEBUG=true --timeout 30 script.py`

const submitHelp = `Submit code like run, print the execution id and exit at once.

Follow the execution with 'pyexec follow ID', or stop it with 'pyexec kill ID'.

Example:
  ID=$(pyexec submit long_task.py) && pyexec follow "$ID"`

const followHelp = `Wait until an execution is finished, then print its output and exit
with its exit code, like run.`

const killHelp = `Kill a running execution. An execution that is already finished is left as
it is, and its status is printed.`

const evalHelp = `Evaluate Python code, REPL style, through the JSON API: stdout is printed,
then the repr() of the last expression, if the code ends in one that is not
None, on its own line.

The code comes from the argument or from standard input. Like run, eval
prints the output as the code writes it on a terminal (--stream,
--no-stream).

Examples:
  pyexec eval '2 + 2'
  echo 'import sys; sys.version' | pyexec eval --python 3.11
  pyexec eval --no-result 'print("hello"); 42'`

// usage prints the overview of the commands and global flags.
func (c *cli) usage(w io.Writer) {
	fmt.Fprintf(w, "pyexec runs Python code on a pyexec (or python-executor) server.\n\n")
	fmt.Fprintf(w, "Usage:\n  pyexec [flags] COMMAND [args]\n\nCommands:\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", cmd.name, cmd.short)
	}
	fmt.Fprintf(w, "\nGlobal flags (before or after the command):\n")
	printFlags(w, (&opts{}).globalFlags())
	fmt.Fprintf(w, "\nRun 'pyexec help COMMAND' for the flags of a command.\n")
}

// commandUsage prints the help of one command.
func (c *cli) commandUsage(w io.Writer, cmd command) {
	fmt.Fprintf(w, "Usage:\n  pyexec %s %s\n\n", cmd.name, cmd.args)
	if cmd.long != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.long)
	} else {
		fmt.Fprintf(w, "%s.\n\n", upperFirst(cmd.short))
	}
	global := (&opts{}).globalFlags()
	own := (&opts{}).flags(cmd.name)
	own.defs = own.defs[len(global.defs):]
	if len(own.defs) > 0 {
		fmt.Fprintf(w, "Flags:\n")
		printFlags(w, own)
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Global flags:\n")
	printFlags(w, global)
}

func printFlags(w io.Writer, fs *flagSet) {
	for _, d := range fs.defs {
		name := "    --" + d.long
		if d.short != "" {
			name = "-" + d.short + ", --" + d.long
		}
		if d.arg != "" {
			name += " " + d.arg
		}
		fmt.Fprintf(w, "  %-26s %s\n", name, d.usage)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// cmdHelp prints the overview, or the help of the command named.
func (c *cli) cmdHelp(pos, rest []string) int {
	if len(pos) == 0 {
		c.usage(c.stdout)
		return exitOK
	}
	cmd, ok := findCmd(pos[0])
	if !ok {
		return c.fail(usageErrorf("unknown command %q", pos[0]))
	}
	c.commandUsage(c.stdout, cmd)
	return exitOK
}
