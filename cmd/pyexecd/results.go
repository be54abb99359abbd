package main

import (
	"os"

	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/server"
)

// resultLimits are the server's bounds of display items and output files.
func resultLimits(r configs.ResultsConfig) server.ResultLimits {
	return server.ResultLimits{
		DisplayItems: r.DisplayMaxItems, DisplayBytes: int64(r.DisplayMaxMB) << 20,
		Files: r.OutputFilesMaxCount, FileBytes: int64(r.OutputFilesMaxMB) << 20,
	}
}

// readOnlyFiles are the files every jail gets: the bootstrap, and
// the host's /etc/matplotlibrc when it has one (Debian's matplotlib does
// not import without it; jails see no other file of the host's /etc).
func readOnlyFiles() map[string][]byte {
	files := map[string][]byte{interpreters.BootstrapPath: interpreters.Bootstrap}
	if b, err := os.ReadFile("/etc/matplotlibrc"); err == nil && len(b) < 1<<20 {
		files["/etc/matplotlibrc"] = b
	}
	return files
}
