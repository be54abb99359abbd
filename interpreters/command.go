package interpreters

import (
	_ "embed"
	"path"
	"path/filepath"
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
}

// Command returns the argv that runs r with in inside a jail.
func (in Interpreter) Command(r Run) []string {
	argv := []string{in.Executable, "-u", BootstrapPath, "-r", "3"}
	if r.EvalLastExpr {
		argv = append(argv, "-e")
	}
	for _, c := range r.PreCommands {
		argv = append(argv, "-p", c)
	}
	for _, d := range r.Layers {
		argv = append(argv, "-d", d)
	}
	argv = append(argv, "--", path.Join(WorkDir, r.Entrypoint))
	return append(argv, r.Args...)
}

// Path returns the PATH for code run with in: its own bin directory first,
// so `python` and `pip` are this interpreter.
func (in Interpreter) Path() string {
	return filepath.Dir(in.Executable) + ":/usr/local/bin:/usr/bin:/bin"
}
