package layers

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/pyexec/pyexec/jail"
)

// maxReason caps the length of a failure reason.
const maxReason = 300

// failureReason says why an install jail failed, for clients: the limit
// that stopped pip, the package pip could not find, or pip's first error.
func failureReason(res jail.Result, cfg Config) string {
	out := append(append([]byte(nil), res.Stdout...), res.Stderr...)
	switch {
	case res.TimedOut:
		return fmt.Sprintf("pip did not finish within the install time limit of %s", cfg.InstallTimeout)
	case res.OOMKilled:
		return fmt.Sprintf("pip ran out of memory (install limit %d MB)", cfg.InstallMemoryBytes>>20)
	case bytes.Contains(out, []byte("No space left on device")):
		return fmt.Sprintf("the packages do not fit the install disk limit of %d MB", cfg.InstallDiskBytes>>20)
	}
	// Compiled here, on failures only: a package-level regexp would be
	// compiled in every jail's init too.
	noMatch := regexp.MustCompile(`No matching distribution found for (\S+)`)
	if m := noMatch.FindSubmatch(out); m != nil {
		reason := "no matching distribution found for " + string(m[1]) + " on the package index"
		if !cfg.Index.SourceBuilds {
			reason += " (this server installs wheels only, it does not build source distributions)"
		}
		return reason
	}
	for _, line := range strings.Split(string(out), "\n") {
		if msg, ok := strings.CutPrefix(strings.TrimSpace(line), "ERROR: "); ok && msg != "" {
			return shorten(msg)
		}
	}
	return fmt.Sprintf("pip exited with code %d", res.ExitCode)
}

func shorten(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxReason {
		s = s[:maxReason-3] + "..."
	}
	return s
}
