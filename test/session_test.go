package test

// Stateful sessions (/api/v1/sessions) against the real binary.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/jail/jailtest"
)

// newSession starts a session with req and asserts a 201.
func (s *Server) newSession(t testing.TB, req api.SessionRequest) api.Session {
	t.Helper()
	status, raw := s.postJSON(t, "/api/v1/sessions", req)
	if status != http.StatusCreated {
		t.Fatalf("POST /api/v1/sessions: %d %s", status, raw)
	}
	return decode[api.Session](t, raw)
}

// cell runs code in session id and asserts a 200.
func (s *Server) cell(t testing.TB, id, code string, timeout int) api.CellResult {
	t.Helper()
	req := api.CellRequest{Code: code}
	if timeout > 0 {
		req.TimeoutSeconds = &timeout
	}
	status, raw := s.postJSON(t, "/api/v1/sessions/"+id+"/eval", req)
	if status != http.StatusOK {
		t.Fatalf("cell %q: %d %s", code, status, raw)
	}
	return decode[api.CellResult](t, raw)
}

func (s *Server) session(t testing.TB, id string) api.Session {
	t.Helper()
	r := s.do(t, http.MethodGet, "/api/v1/sessions/"+id, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("GET session %s: %d %s", id, r.Status, r.Body)
	}
	return decode[api.Session](t, r.Body)
}

func (s *Server) closeSession(t testing.TB, id string) api.Session {
	t.Helper()
	r := s.do(t, http.MethodDelete, "/api/v1/sessions/"+id, "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("DELETE session %s: %d %s", id, r.Status, r.Body)
	}
	return decode[api.Session](t, r.Body)
}

func cellResult(c api.CellResult) string {
	r, ok := c.ResultString()
	if !ok {
		return "<none>"
	}
	return r
}

func TestSessionE2E(t *testing.T) {
	s := startServer(t)
	ses := s.newSession(t, api.SessionRequest{
		Files:  []api.File{{Name: "lib/helper.py", Content: "def twice(x):\n    return 2 * x\n"}},
		Config: &api.SessionConfig{Config: api.Config{MemoryMB: ptr(512)}},
	})
	id := ses.SessionID
	if !strings.HasPrefix(id, "ses_") || ses.State != api.SessionIdle {
		t.Fatalf("session: %+v", ses)
	}

	// State across cells.
	if c := s.cell(t, id, "x = 41", 0); c.Status != api.StatusCompleted {
		t.Fatalf("x = 41: %s", describeCell(c))
	}
	if c := s.cell(t, id, "x + 1", 0); cellResult(c) != "42" {
		t.Fatalf("x + 1: %s", describeCell(c))
	}
	if c := s.cell(t, id, "import sys; sys.path.insert(0, 'lib')\nfrom helper import twice\ntwice(x)", 0); cellResult(c) != "82" {
		t.Fatalf("import: %s", describeCell(c))
	}

	// A 5 MB structure built once, used again without rebuilding.
	build := s.cell(t, id, "import sys\ndata = {i: 'v%07d' % i for i in range(60000)}\nrows = [list(range(20)) for _ in range(2000)]\nsum(sys.getsizeof(v) for v in data.values()) + sys.getsizeof(data) > 5_000_000", 0)
	use := s.cell(t, id, "len(data) + len(rows)", 0)
	if cellResult(build) != "True" || cellResult(use) != "62000" {
		t.Fatalf("data: %s / %s", describeCell(build), describeCell(use))
	}
	t.Logf("5 MB structure: build cell %d ms (cpu %d ms), use cell %d ms (cpu %d ms)",
		build.DurationMS, build.Usage.CPUMS, use.DurationMS, use.Usage.CPUMS)

	// A file written in one cell, downloaded after the next; an upload read.
	s.cell(t, id, "open('out.txt', 'w').write('written by cell ' + str(x))", 0)
	s.cell(t, id, "y = 1", 0)
	if r := s.do(t, http.MethodGet, "/api/v1/sessions/"+id+"/files/out.txt", "", nil); r.Status != 200 || string(r.Body) != "written by cell 41" {
		t.Fatalf("download: %d %q", r.Status, r.Body)
	}
	if r := s.do(t, http.MethodPut, "/api/v1/sessions/"+id+"/files/in/data.csv", "", strings.NewReader("a,b\n1,2\n")); r.Status != 200 {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	if c := s.cell(t, id, "open('in/data.csv').read().splitlines()[1]", 0); cellResult(c) != "'1,2'" {
		t.Fatalf("read the upload: %s", describeCell(c))
	}
	s.cell(t, id, "import os\nos.symlink('/etc/passwd', 'pw')", 0)
	if r := s.do(t, http.MethodGet, "/api/v1/sessions/"+id+"/files/pw", "", nil); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "link") {
		t.Errorf("download through a link: %d %s", r.Status, r.Body)
	}
	if r := s.do(t, http.MethodGet, "/api/v1/sessions/"+id+"/files/..%2fetc/passwd", "", nil); r.Status != http.StatusBadRequest {
		t.Errorf("download ..: %d %s", r.Status, r.Body)
	}
	r := s.do(t, http.MethodGet, "/api/v1/sessions/"+id+"/files", "", nil)
	if list := decode[api.SessionFiles](t, r.Body); r.Status != 200 || len(list.Files) < 4 {
		t.Errorf("list: %d %s", r.Status, r.Body)
	}

	// A rich result comes back as a display item, as /eval's.
	c := s.cell(t, id, "class H:\n    def _repr_html_(self):\n        return '<b>hi</b>'\nH()", 0)
	var html string
	if len(c.Display) != 1 || c.Display[0].Mime != "text/html" || json.Unmarshal(c.Display[0].Data, &html) != nil || html != "<b>hi</b>" {
		t.Errorf("rich result: %s", describeCell(c))
	}

	// An exception is the cell's.
	if c := s.cell(t, id, "1 / 0", 0); c.ErrorType != "ZeroDivisionError" || *c.ExitCode != 1 || c.SessionState != api.SessionIdle {
		t.Fatalf("raising cell: %s", describeCell(c))
	}

	// A cell stuck in a loop is interrupted at its timeout; the state stays.
	start := time.Now()
	c = s.cell(t, id, "print('spinning', flush=True)\nwhile True:\n    pass", 1)
	if !c.TimedOut || c.ErrorType != "KeyboardInterrupt" || c.SessionState != api.SessionIdle || !strings.Contains(c.Stdout, "spinning") {
		t.Fatalf("looping cell: %s", describeCell(c))
	}
	t.Logf("the looping cell came back after %v: %s", time.Since(start).Round(time.Millisecond), c.Error)
	if c := s.cell(t, id, "x + y", 0); cellResult(c) != "42" {
		t.Fatalf("after the interrupt: %s", describeCell(c))
	}
	if got := s.session(t, id); got.CellsRun != 13 || got.State != api.SessionIdle || got.Usage == nil || got.Usage.CPUMS == 0 {
		t.Errorf("GET: %+v", got)
	}

	// A cell that ignores KeyboardInterrupt: the session is killed after the grace.
	c = s.cell(t, id, "import time\nwhile True:\n    try:\n        time.sleep(30)\n    except KeyboardInterrupt:\n        print('ignored', flush=True)", 1)
	if c.SessionState != api.SessionKilled || !strings.Contains(c.SessionReason, "did not stop within 2s") || !c.TimedOut {
		t.Fatalf("stubborn cell: %s", describeCell(c))
	}
	if status, raw := s.postJSON(t, "/api/v1/sessions/"+id+"/eval", api.CellRequest{Code: "x"}); status != http.StatusGone {
		t.Errorf("a cell after the kill: %d %s", status, raw)
	}
	if got := s.session(t, id); got.State != api.SessionKilled || got.EndedAt == nil {
		t.Errorf("GET after the kill: %+v", got)
	}
}

func describeCell(c api.CellResult) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func TestSessionEnds(t *testing.T) {
	s := startServer(t, "PYEXEC_SESSIONS_MAX_LIVE=3")
	t.Run("oom", func(t *testing.T) {
		ses := s.newSession(t, api.SessionRequest{Config: &api.SessionConfig{Config: api.Config{MemoryMB: ptr(64)}}})
		s.cell(t, ses.SessionID, "keep = bytearray(16 << 20)", 0)
		c := s.cell(t, ses.SessionID, "big = bytearray(300 << 20)", 0)
		if !c.OOMKilled || c.SessionState != api.SessionOOM || !strings.Contains(c.Error, "memory limit of 64 MB") {
			t.Fatalf("oom: %s", describeCell(c))
		}
		if got := s.session(t, ses.SessionID); got.State != api.SessionOOM {
			t.Fatalf("GET: %+v", got)
		}
	})
	t.Run("exit", func(t *testing.T) {
		ses := s.newSession(t, api.SessionRequest{})
		c := s.cell(t, ses.SessionID, "print('bye')\nexit(3)", 0)
		if c.SessionState != api.SessionExited || *c.ExitCode != 3 || c.Stdout != "bye\n" {
			t.Fatalf("exit: %s", describeCell(c))
		}
	})
	t.Run("idle", func(t *testing.T) {
		ses := s.newSession(t, api.SessionRequest{Config: &api.SessionConfig{IdleTimeoutSeconds: ptr(1)}})
		s.cell(t, ses.SessionID, "x = 1", 0)
		deadline := time.Now().Add(10 * time.Second)
		for s.session(t, ses.SessionID).State != api.SessionExpired {
			if time.Now().After(deadline) {
				t.Fatalf("still %+v", s.session(t, ses.SessionID))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	t.Run("max live", func(t *testing.T) {
		var ids []string
		for range 3 {
			ids = append(ids, s.newSession(t, api.SessionRequest{Config: &api.SessionConfig{Config: api.Config{MemoryMB: ptr(64)}}}).SessionID)
		}
		status, raw := s.postJSON(t, "/api/v1/sessions", api.SessionRequest{})
		if status != http.StatusTooManyRequests || !strings.Contains(string(raw), "maximum of 3 live sessions") {
			t.Fatalf("fourth session: %d %s", status, raw)
		}
		s.closeSession(t, ids[0])
		ids[0] = s.newSession(t, api.SessionRequest{}).SessionID
		for _, id := range ids {
			if got := s.closeSession(t, id); got.State != api.SessionClosed {
				t.Errorf("close: %+v", got)
			}
		}
	})
}

// Two sessions see neither the other's files nor its processes.
func TestSessionIsolation(t *testing.T) {
	s := sharedServer(t)
	a := s.newSession(t, api.SessionRequest{}).SessionID
	b := s.newSession(t, api.SessionRequest{}).SessionID
	defer s.closeSession(t, a)
	defer s.closeSession(t, b)
	s.cell(t, a, "import subprocess, os\nopen('/work/secret-a', 'w').write('a')\nopen('/tmp/secret-a', 'w').write('a')\np = subprocess.Popen(['sleep', '300'])\nmine = os.getpid()", 0)
	c := s.cell(t, b, `import os, glob
procs = sorted(open('/proc/%s/cmdline' % p).read().replace('\0', ' ').strip() for p in os.listdir('/proc') if p.isdigit())
[glob.glob('/work/*') + glob.glob('/tmp/*'), procs, os.path.exists('/work/secret-a')]`, 0)
	got := cellResult(c)
	if strings.Contains(got, "secret-a") || strings.Contains(got, "sleep") || strings.Contains(got, "True") {
		t.Fatalf("session b sees a's files or processes: %s", got)
	}
	t.Logf("session b sees: %s", got)
	if r := s.do(t, http.MethodGet, "/api/v1/sessions/"+b+"/files/secret-a", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("b's files: %d %s", r.Status, r.Body)
	}
	// And the uid is the sandbox's in both, in namespaces of their own.
	ua := cellResult(s.cell(t, a, "import os; (os.getuid(), os.readlink('/proc/self/ns/pid'), os.readlink('/proc/self/ns/mnt'))", 0))
	ub := cellResult(s.cell(t, b, "import os; (os.getuid(), os.readlink('/proc/self/ns/pid'), os.readlink('/proc/self/ns/mnt'))", 0))
	if ua == ub || !strings.HasPrefix(ua, "(1000,") {
		t.Errorf("namespaces: a %s b %s", ua, ub)
	}
}

// 100 sessions started, used and closed leave no process, group, mount or
// state behind; nor do live sessions after a SIGKILL of the server.
func TestSessionLeftovers(t *testing.T) {
	s := startServer(t, "PYEXEC_SESSIONS_MAX_LIVE=8", "PYEXEC_POOL_SIZES=3.12=0") // no pooled jails: every trace is a session's
	start := time.Now()
	for i := range 100 {
		id := s.newSession(t, api.SessionRequest{Files: []api.File{{Name: "f.txt", Content: "x"}}}).SessionID
		code := "import subprocess\nsubprocess.Popen(['sleep', '100'])\nn = %d"
		if i%2 == 1 {
			code = "n = %d\nn" // closed with a cell done, or with a child left
		}
		s.cell(t, id, fmt.Sprintf(code, i), 0)
		s.closeSession(t, id)
	}
	t.Logf("100 sessions started, used and closed in %v", time.Since(start).Round(time.Millisecond))
	if left := s.waitNoLeftovers(leftoverSettle, false); len(left) > 0 {
		t.Fatalf("after 100 sessions: %v", left)
	}

	// Live sessions (one in a cell) when the server is SIGKILLed.
	var ids []string
	for range 3 {
		ids = append(ids, s.newSession(t, api.SessionRequest{}).SessionID)
	}
	go func() {
		b, _ := json.Marshal(api.CellRequest{Code: "import time; time.sleep(60)"})
		_, _ = httpClient.Post(s.URL+"/api/v1/sessions/"+ids[0]+"/eval", "application/json", bytes.NewReader(b))
	}()
	time.Sleep(300 * time.Millisecond)
	if _, ok := s.signal(syscall.SIGKILL, 5*time.Second); !ok {
		t.Fatal("pyexecd did not die of SIGKILL")
	}
	if procs := rlWaitEmpty(s.serverProcs, 3*time.Second); len(procs) > 0 {
		t.Fatalf("session processes outlived the server: %v", procs)
	}
	// Its zygote and the sessions' groups below it are what it left.
	zygotes := jailtest.ZygoteTraces(s.StateDir, s.CgroupParent)
	if len(zygotes) == 0 {
		t.Fatal("the killed server left nothing: the sweep is not tested")
	}
	if err := s.start([]string{"PYEXEC_POOL_SIZES=3.12=0"}); err != nil {
		t.Fatal(err)
	}
	if left := s.waitNoLeftovers(leftoverSettle, false); len(left) > 0 {
		t.Fatalf("after the restart, still there: %v", left)
	}
	now := jailtest.ZygoteTraces(s.StateDir, s.CgroupParent)
	for _, z := range zygotes {
		if slices.Contains(now, z) {
			t.Errorf("the killed server's zygote or a session's group is still there after the restart: %s", z)
		}
	}
	if r := s.do(t, http.MethodGet, "/api/v1/sessions/"+ids[1], "", nil); r.Status != http.StatusNotFound {
		t.Errorf("a session of the killed server: %d %s", r.Status, r.Body)
	}
	// startServer's cleanup stops it and checks everything is gone.
}

// The MCP session tools over /mcp with the Go SDK's client: a session's
// state and files across calls, and its figures as images.
func TestSessionMCP(t *testing.T) {
	s := sharedServer(t)
	eachMCPClient(t, s, func(ctx context.Context, t *testing.T, cs *mcp.ClientSession) {
		checkSessionTools(ctx, t, cs, s)
	})
}

// checkSessionTools drives a session through cs's session tools.
func checkSessionTools(ctx context.Context, t *testing.T, cs *mcp.ClientSession, s *Server) {
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if !slices.Contains(names, "session_create") || !slices.Contains(names, "session_run") || !slices.Contains(names, "session_get_file") {
		t.Fatalf("tools: %v", names)
	}
	call := func(name string, args map[string]any) (*mcp.CallToolResult, string) {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res, toolTexts(res)
	}
	res, text := call("session_create", map[string]any{"files": []map[string]string{{"name": "n.txt", "content": "41"}}})
	id, _, _ := strings.Cut(strings.TrimPrefix(text, "session_id: "), "\n")
	if res.IsError || !strings.HasPrefix(id, "ses_") {
		t.Fatalf("session_create: %q", text)
	}
	if res, text = call("session_run", map[string]any{"session_id": id, "code": "x = int(open('n.txt').read())\nprint('loaded')"}); res.IsError || text != "stdout:\nloaded\n" {
		t.Fatalf("first cell: %q", text)
	}
	if res, text = call("session_run", map[string]any{"session_id": id, "code": "open('out.txt', 'w').write('x=%d' % x)\nx + 1"}); res.IsError || text != "result: 42" {
		t.Fatalf("second cell: %q", text)
	}
	if res, text = call("session_list_files", map[string]any{"session_id": id}); res.IsError || !strings.Contains(text, "out.txt (4 bytes)") {
		t.Fatalf("list: %q", text)
	}
	if res, text = call("session_get_file", map[string]any{"session_id": id, "path": "out.txt"}); res.IsError || text != "out.txt:\nx=41" {
		t.Fatalf("get: %q", text)
	}
	// output_files: resource links to the kept files (n.txt, out.txt, b.csv), downloadable.
	res, _ = call("session_run", map[string]any{"session_id": id, "code": "open('b.csv', 'w').write('b,c')", "output_files": []string{"*.txt", "*.csv"}})
	links := map[string]*mcp.ResourceLink{}
	for _, c := range res.Content {
		if l, ok := c.(*mcp.ResourceLink); ok {
			links[l.Name] = l
		}
	}
	out := links["out.txt"]
	if res.IsError || len(links) != 3 || links["b.csv"] == nil || links["n.txt"] == nil || out == nil || out.Size == nil || *out.Size != 4 {
		t.Fatalf("output_files: %+v", res.Content)
	}
	if got := s.do(t, http.MethodGet, out.URI, "", nil); got.Status != http.StatusOK || string(got.Body) != "x=41" {
		t.Fatalf("download of %s: %d %q", out.URI, got.Status, got.Body)
	}
	if res, text = call("session_run", map[string]any{"session_id": id, "code": "x / 0"}); !res.IsError || !strings.Contains(text, "ZeroDivisionError") {
		t.Fatalf("raising cell: %q", text)
	}
	if res, text = call("session_close", map[string]any{"session_id": id}); res.IsError || !strings.Contains(text, "is closed") {
		t.Fatalf("close: %q", text)
	}
	if res, text = call("session_run", map[string]any{"session_id": id, "code": "x"}); !res.IsError || !strings.Contains(text, "ended (closed)") {
		t.Fatalf("a cell after the close: %q", text)
	}
}

// Without zygotes a session request is refused, saying why.
func TestSessionWithoutZygotes(t *testing.T) {
	s := startServer(t, "PYEXEC_ZYGOTE_ENABLED=false", "PYEXEC_POOL_SIZES=3.12=0")
	status, raw := s.postJSON(t, "/api/v1/sessions", api.SessionRequest{})
	if status != http.StatusServiceUnavailable || !strings.Contains(string(raw), "zygote.enabled") {
		t.Fatalf("POST /api/v1/sessions without zygotes: %d %s", status, raw)
	}
}
