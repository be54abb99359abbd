package test

import (
	"archive/tar"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// serverCPU is the CPU time pyexecd has used so far (user + system).
func serverCPU(t *testing.T, s *Server) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	// The fields after the command's closing parenthesis: utime and stime
	// are the 12th and 13th of them, in clock ticks (100 per second here).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// TestDeepTree: issue 12's deep-tree attack. A 4 KB request naming a path
// 2000 directories deep cost ~37 s of server CPU before (every prefix
// resolved again for each mkdir/chown/open); now a path deeper than 64
// directories is refused with a 400 that names the limit, before any work,
// and trees at the limit are placed in linear time. The server's CPU for
// each case is logged (no timed assertion).
func TestDeepTree(t *testing.T) {
	s := startServer(t)
	deep := strings.Repeat("a/", 2000) + "f.txt"
	main := "print('ran')\n"
	for _, tc := range []struct {
		name string
		send func() response
	}{
		{"exec tar", func() response {
			return s.postMultipart(t, "/api/v1/exec/sync", tarPart(tarOf(t, []*tar.Header{
				{Name: "main.py", Mode: 0o644, Size: int64(len(main)), Typeflag: tar.TypeReg},
				{Name: deep, Mode: 0o644, Size: 1, Typeflag: tar.TypeReg},
			}, map[string]string{"main.py": main, deep: "x"})), metaPart(t, api.Metadata{Entrypoint: "main.py"}))
		}},
		{"eval files", func() response {
			status, raw := s.postJSON(t, "/api/v1/eval", map[string]any{
				"code": main, "files": []map[string]string{{"name": deep, "content": "x"}},
			})
			return response{Status: status, Body: raw}
		}},
	} {
		t.Run("2000 deep/"+tc.name, func(t *testing.T) {
			before := serverCPU(t, s)
			r := tc.send()
			cpu := serverCPU(t, s) - before
			t.Logf("a 2000-deep path: %d in server CPU %v (was ~37 s)", r.Status, cpu)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "more than 64 directories deep") {
				t.Errorf("got %d %s; want 400 naming the depth limit", r.Status, r.Body)
			}
		})
	}
	// At the limit: 150 files, each 63 directories deep, in 150 distinct
	// chains (9,450 directories, under the 10,000 entries a request may
	// imply), read back by the code.
	t.Run("at the limit", func(t *testing.T) {
		files := map[string]string{}
		const n = 150
		for i := range n {
			files[fmt.Sprintf("d%d/%sf.txt", i, strings.Repeat("a/", 62))] = "x"
		}
		files["main.py"] = fmt.Sprintf("import glob\nprint(len(glob.glob('d*/%s*.txt')))\n", strings.Repeat("a/", 62))
		before := serverCPU(t, s)
		start := time.Now()
		status, raw := s.execSync(t, files, api.Metadata{Entrypoint: "main.py"})
		cpu := serverCPU(t, s) - before
		e := decode[api.Execution](t, raw)
		t.Logf("%d files 63 deep (%d dirs): %d in %v, server CPU %v, run %s", n, n*63, status, time.Since(start).Round(time.Millisecond), cpu, describe(e))
		if status != http.StatusOK || e.Stdout != fmt.Sprintf("%d\n", n) {
			t.Errorf("got %d %s", status, describe(e))
		}
	})
}
