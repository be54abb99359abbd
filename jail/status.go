package jail

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// runStatus is the first line of a run's status pipe: how its code ended,
// as the code process itself or its pid 1 wrote it ("exit N", "signal N",
// the bootstrap's _finish and _init), or why a zygote run's setup failed
// ("setup ..."). The code holds the pipe, so the line may be forged: it
// tells only the run's own verdict, never more.
type runStatus struct {
	ok     bool        // a well-formed line was read
	exit   int         // the exit code (128+N for a signal N)
	signal unix.Signal // the signal that ended the code, if one did
	setup  string      // a failed setup's line ("" otherwise)
}

// parseStatus reads the first line of b.
func parseStatus(b []byte) runStatus {
	line, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	kind, arg, _ := strings.Cut(line, " ")
	n, err := strconv.Atoi(arg)
	switch {
	case kind == "exit" && err == nil && n >= 0 && n <= 255:
		return runStatus{ok: true, exit: n}
	case kind == "signal" && err == nil && n > 0 && n < 65:
		return runStatus{ok: true, exit: 128 + n, signal: unix.Signal(n)}
	case kind == "setup":
		return runStatus{ok: true, setup: line}
	}
	return runStatus{}
}
