package main

import (
	"fmt"
	"runtime/debug"
)

// buildVersion is set at link time: -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion string

// version returns the version of this binary: the link-time one, else the
// module version when installed with go install, else "dev".
func version() string {
	if buildVersion != "" {
		return buildVersion
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func (c *cli) cmdVersion(pos, rest []string) int {
	fmt.Fprintf(c.stdout, "pyexec %s\n", version())
	return exitOK
}
