package interpreters

import (
	_ "embed"
	"path"
	"path/filepath"
	"strconv"
)

// Bootstrap is the script that runs user code inside a jail. The jail
// makes it readable at BootstrapPath.
//
//go:embed bootstrap.py
var Bootstrap []byte

// BootstrapPath is where jails see the bootstrap.
const BootstrapPath = "/.pyexec/bootstrap.py"

// WorkDir is the jail's working directory, holding the user's files.
const WorkDir = "/work"

// ReportFD is the descriptor the bootstrap writes its JSON report to.
const ReportFD = 3

// Run describes one run of user code.
type Run struct {
	Entrypoint   string   // slash-separated, relative to WorkDir
	Args         []string // appended to sys.argv
	EvalLastExpr bool
	PreCommands  []string // run with /bin/sh -c before Python's code
	// Layers are directories inside the jail holding installed packages,
	// added to sys.path like site-packages (their .pth files run).
	Layers []string
	// Display bounds the rich results and figures the run offers (see
	// Report.Display); a zero Count offers none.
	Display Bounds
	// OutputFiles are glob patterns relative to WorkDir ("**" spans
	// directories) of files the run sends back at its end (Report.Files),
	// within OutputBounds.
	OutputFiles  []string
	OutputBounds Bounds
}

// Bounds cap what a run sends back: a number of items and their bytes
// together.
type Bounds struct {
	Count int
	Bytes int64
}

func (b Bounds) String() string {
	return strconv.Itoa(b.Count) + ":" + strconv.FormatInt(b.Bytes, 10)
}

// Command returns the argv that runs r with in inside a jail.
func (in Interpreter) Command(r Run) []string {
	argv := []string{in.Executable, "-u", BootstrapPath, "-r", "3", "-t", strconv.Itoa(ColdStatusFD)}
	if r.EvalLastExpr {
		argv = append(argv, "-e")
	}
	for _, c := range r.PreCommands {
		argv = append(argv, "-p", c)
	}
	for _, d := range r.Layers {
		argv = append(argv, "-d", d)
	}
	if r.Display.Count > 0 {
		argv = append(argv, "-D", r.Display.String())
	}
	if len(r.OutputFiles) > 0 {
		for _, p := range r.OutputFiles {
			argv = append(argv, "-o", p)
		}
		argv = append(argv, "-O", r.OutputBounds.String())
	}
	argv = append(argv, "--", path.Join(WorkDir, r.Entrypoint))
	return append(argv, r.Args...)
}

// Path returns the PATH for code run with in: its own bin directory first,
// so `python` and `pip` are this interpreter.
func (in Interpreter) Path() string {
	return filepath.Dir(in.Executable) + ":/usr/local/bin:/usr/bin:/bin"
}

// ControlFD is the descriptor a warm bootstrap reads its request from.
const ControlFD = 4

// WarmReady is what a warm bootstrap writes to ReportFD when it waits.
const WarmReady = "ready\n"

// WarmCommand returns the argv of a bootstrap started ahead of a request:
// once ready it writes WarmReady to ReportFD, then blocks reading the
// request (EncodeRequest) from ControlFD.
func (in Interpreter) WarmCommand() []string {
	return []string{in.Executable, "-u", BootstrapPath, "-r", "3", "-w", "4", "-t", strconv.Itoa(WarmStatusFD)}
}

// ColdStatusFD and WarmStatusFD are where a cold or warm bootstrap writes
// how its code ended ("exit N", one line) before its own exit: its code
// process when the program ends, else its pid 1 once the code is reaped
// (jail.Spec.Status: after the report pipe, and a warm jail's control
// pipe).
const (
	ColdStatusFD = 4
	WarmStatusFD = 5
)

// ZygoteCommand returns the argv of a bootstrap in zygote mode: the init
// of a template jail that forks one run per request read from ControlFD
// (a SOCK_SEQPACKET socket; EncodeRequest and the jail's own fields), each
// run loading the seccomp program read once from SeccompFD.
func (in Interpreter) ZygoteCommand() []string {
	return []string{in.Executable, "-u", BootstrapPath, "-r", "3", "-z", "4", "-s", "5"}
}

// SeccompFD is where a zygote reads its runs' seccomp program.
const SeccompFD = 5

// EncodeRequest is what a warm bootstrap reads from ControlFD: r and the
// environment, in the same field format as the report.
func EncodeRequest(r Run, env []string) []byte {
	var b []byte
	field := func(name, value string) {
		b = append(b, name...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(len(value)), 10)
		b = append(b, '\n')
		b = append(b, value...)
	}
	field("entry", path.Join(WorkDir, r.Entrypoint))
	for _, a := range r.Args {
		field("arg", a)
	}
	for _, kv := range env {
		field("env", kv)
	}
	if r.EvalLastExpr {
		field("eval", "1")
	}
	for _, c := range r.PreCommands {
		field("pre", c)
	}
	for _, d := range r.Layers {
		field("layer", d)
	}
	if r.Display.Count > 0 {
		field("disp", r.Display.String())
	}
	if len(r.OutputFiles) > 0 {
		for _, p := range r.OutputFiles {
			field("out", p)
		}
		field("outmax", r.OutputBounds.String())
	}
	return b
}
