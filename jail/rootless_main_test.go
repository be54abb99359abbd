package jail_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pyexec/pyexec/jail"
)

// The jail tests as an unprivileged user (test/rootless-jail.sh sets these
// up with `pyexecd setup`): the test binary re-executes itself into a user
// namespace mapped from the user's sub-id range, as a rootless pyexecd
// does, and runs every test there, with its managers' cgroup parents below
// the user's delegated group and their state in a dir of the user's.
const (
	rootlessTestEnv  = "PYEXEC_JAIL_TEST_ROOTLESS"  // "1": run rootless
	rootlessCgroup   = "PYEXEC_JAIL_TEST_CGROUP"    // the delegated group
	rootlessState    = "PYEXEC_JAIL_TEST_STATE"     // a dir of the user's
	rootlessSetupDir = "PYEXEC_JAIL_TEST_SETUP_DIR" // setup's (interpreter copies)
)

// rootlessIDs is how many ids each test Manager takes when rootless: the
// user's 65536 sub-ids, in three ranges (shared, crash, network).
const rootlessIDs = 21000

var (
	rootless bool
	// The id ranges of this package's Managers: apart from the server's
	// (200000) so that parallel test packages do not see each other's
	// jails; rootless, ranges of the user's namespace.
	testIDBase, crashIDBase, netIDBase = 300000, 400000, 500000
	idRange                            = 65536
)

// enterRootlessTests runs this test binary again in a rootless namespace
// and returns its exit code.
func enterRootlessTests() int {
	ids, err := jail.LookupRootlessIDs()
	if err == nil {
		var code int
		if code, err = jail.EnterRootless(ids, os.Args, os.Environ()); err == nil {
			return code
		}
	}
	fmt.Fprintln(os.Stderr, "rootless jail tests:", err)
	return 1
}

// setUpRootlessTests runs inside the namespace: the id ranges, and the
// interpreters setup copied, mounted at their build prefixes as pyexecd
// does (cmd/pyexecd/rootless.go).
func setUpRootlessTests() error {
	rootless = true
	testIDBase, crashIDBase, netIDBase, idRange = 1, 1+rootlessIDs, 1+2*rootlessIDs, rootlessIDs
	for _, k := range []string{rootlessCgroup, rootlessState, rootlessSetupDir} {
		if os.Getenv(k) == "" {
			return errors.New(k + " is not set")
		}
	}
	var rels []struct{ Prefix, Path string }
	b, err := os.ReadFile(filepath.Join(os.Getenv(rootlessSetupDir), "interpreters", "manifest.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &rels); err != nil {
		return err
	}
	var overlays []jail.Overlay
	for _, r := range rels {
		overlays = append(overlays, jail.Overlay{Prefix: r.Prefix, Source: r.Path})
		relocated = append(relocated, filepath.Join(r.Prefix, "bin", "python3"))
	}
	return jail.PrepareRootlessMounts(overlays)
}

// relocated are the interpreters setUpRootlessTests mounted, for discovery.
var relocated []string

// testCgroupParent is the cgroup parent of a test Manager named name.
func testCgroupParent(name string) string {
	if rootless {
		return os.Getenv(rootlessCgroup) + "/" + name
	}
	return name
}

// testStateDir is the state dir of a test Manager named name.
func testStateDir(name string) string {
	if rootless {
		return filepath.Join(os.Getenv(rootlessState), name)
	}
	return filepath.Join("/run", name)
}

// idCount is the HostIDCount of a test Manager (zero: the default).
func idCount() int {
	if rootless {
		return rootlessIDs
	}
	return 0
}
