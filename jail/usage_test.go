package jail_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUsageUnreadable: a run that finished keeps its output and exit code
// when its cgroup's usage cannot be read afterwards (here: the group is
// gone); the usage reads as zero, the run is no internal error.
func TestUsageUnreadable(t *testing.T) {
	e := testEnv(t)
	j, err := e.m.Start(e.python(t, "3.12", "print('done', flush=True)\nimport sys; sys.exit(4)"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.HasSuffix(j.Output().Stdout, "done\n") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// Once the code has exited, its groups are empty and can go.
	var removed int
	for time.Now().Before(deadline) && removed == 0 {
		// v1 and hybrid: one dir per hierarchy; v2: the one group.
		parent := testCgroupParent("pyexec-test")
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent + "/" + j.ID())
		if v2, err := os.Stat("/sys/fs/cgroup/" + parent + "/" + j.ID()); err == nil && v2.IsDir() {
			dirs = append(dirs, "/sys/fs/cgroup/"+parent+"/"+j.ID())
		}
		for _, d := range dirs {
			if os.Remove(d) == nil {
				removed++
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if removed == 0 {
		t.Fatal("could not remove the run's cgroups")
	}
	res, err := j.Wait()
	if err != nil {
		t.Fatalf("Wait: %v, want the run's result", err)
	}
	if res.ExitCode != 4 || string(res.Stdout) != "done\n" || res.Usage.CPU != 0 {
		t.Errorf("result %+v", res)
	}
}
