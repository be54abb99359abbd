// Package deploy holds the systemd units that run pyexecd, pyexec.service
// (as root) and pyexec-rootless.service (as an ordinary user). The files in
// this directory are the canonical copies, embedded here so that `pyexecd
// setup` prints the unit to install.
package deploy

import (
	_ "embed"
	"fmt"
	"strings"
)

// RootUnit is pyexec.service: pyexecd run by systemd as root.
//
//go:embed pyexec.service
var RootUnit string

//go:embed pyexec-rootless.service
var rootlessUnit string

// RootlessUnit returns pyexec-rootless.service with its placeholders
// filled in: the service user, the command line (ExecStart=, an absolute
// path to pyexecd and its arguments) and the cgroup parent setup
// delegated. A value holding a newline, or an empty one, is an error.
func RootlessUnit(user, command, cgroupParent string) (string, error) {
	for name, v := range map[string]string{"user": user, "command": command, "cgroup parent": cgroupParent} {
		if v == "" || strings.ContainsAny(v, "\n\r") {
			return "", fmt.Errorf("rootless unit: %s %q: want one non-empty line", name, v)
		}
	}
	return strings.NewReplacer("@USER@", user, "@PYEXECD@", command, "@CGROUP_PARENT@", cgroupParent).Replace(rootlessUnit), nil
}
