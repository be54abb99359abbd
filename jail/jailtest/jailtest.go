// Package jailtest holds what the tests that start real jails share.
package jailtest

import (
	"os"
	"testing"
)

// Require skips tb on a machine that cannot start jails (no root), and
// fails it under CI=true, where jails must run. what names the tests, as
// in "jail tests".
func Require(tb testing.TB, what string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		tb.Fatalf("%s need root to start jails; CI=true runs them as root, so this is a failure", what)
	}
	tb.Skipf("%s need root, user namespaces and cgroups: skipped off CI (under CI=true they fail)", what)
}
