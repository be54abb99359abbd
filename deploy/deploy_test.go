package deploy

import (
	"strings"
	"testing"
)

// TestUnits: the units keep what running pyexecd needs (Delegate=yes,
// KillMode=mixed, and no no_new_privs, which would break the setuid
// newuidmap), and the rootless one has every placeholder filled in.
func TestUnits(t *testing.T) {
	rootless, err := RootlessUnit("pyexec", "/usr/local/bin/pyexecd --config /etc/pyexec.yaml", "pyexec")
	if err != nil {
		t.Fatal(err)
	}
	for name, unit := range map[string]string{"pyexec.service": RootUnit, "pyexec-rootless.service": rootless} {
		lines := directives(unit)
		for _, want := range []string{"Delegate=yes", "KillMode=mixed", "Restart=on-failure", "WantedBy=multi-user.target"} {
			if !lines[want] {
				t.Errorf("%s: no %s", name, want)
			}
		}
		if lines["NoNewPrivileges=yes"] {
			t.Errorf("%s sets NoNewPrivileges=yes", name)
		}
		if strings.Contains(unit, "@") {
			t.Errorf("%s: a placeholder is left:\n%s", name, unit)
		}
	}
	lines := directives(rootless)
	for _, want := range []string{"User=pyexec", "ExecStart=/usr/local/bin/pyexecd --config /etc/pyexec.yaml",
		"Environment=PYEXEC_JAIL_CGROUP_PARENT=pyexec", "Environment=PYEXEC_JAIL_MODE=rootless"} {
		if !lines[want] {
			t.Errorf("rootless unit: no %s", want)
		}
	}
	if directives(RootUnit)["User=pyexec"] {
		t.Error("the root unit names a user")
	}
}

func TestRootlessUnitRefuses(t *testing.T) {
	for _, args := range [][3]string{{"", "/bin/pyexecd", "p"}, {"u", "/bin/pyexecd\nExecStartPre=/bin/evil", "p"}, {"u", "/x", ""}} {
		if _, err := RootlessUnit(args[0], args[1], args[2]); err == nil {
			t.Errorf("RootlessUnit%q accepted", args)
		}
	}
}

// directives returns the unit's non-comment lines.
func directives(unit string) map[string]bool {
	out := map[string]bool{}
	for _, l := range strings.Split(unit, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out[l] = true
		}
	}
	return out
}
