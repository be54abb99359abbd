package server

import (
	"context"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

// fakeSessions starts fakeSession jails.
type fakeSessions struct {
	mu      sync.Mutex
	started []*fakeSession
	// gate, when set, holds a "gate" cell between its stdout "a" and "b"
	// until it is closed, or the cell's context ends (then it is killed).
	gate chan struct{}
}

func (f *fakeSessions) StartSession(_ context.Context, spec SessionSpec) (SessionJail, error) {
	j := &fakeSession{spec: spec, done: make(chan struct{}), files: map[string][]byte{}, gate: f.gate,
		cell: make(chan struct{}, 1)}
	f.mu.Lock()
	f.started = append(f.started, j)
	f.mu.Unlock()
	return j, nil
}

// fakeSession echoes a cell's code as its stdout; "exit" ends it.
type fakeSession struct {
	spec  SessionSpec
	mu    sync.Mutex
	files map[string][]byte
	done  chan struct{}
	end   SessionEnd
	once  sync.Once
	gate  chan struct{}
	cell  chan struct{} // cells run one at a time, as a jail's
}

func (f *fakeSession) Cell(ctx context.Context, req CellRequest) (CellOutcome, error) {
	select {
	case <-f.done:
		return CellOutcome{}, ErrSessionEnded
	default:
	}
	select { // wait for the running cell, or ctx
	case f.cell <- struct{}{}:
	case <-ctx.Done():
		return CellOutcome{}, ctx.Err()
	}
	defer func() { <-f.cell }()
	if req.Started != nil {
		req.Started()
	}
	code := req.Code
	if string(code) == "gate" {
		req.Output(Chunk{Data: []byte("a")})
		select {
		case <-f.gate:
		case <-ctx.Done():
			return CellOutcome{Outcome: Outcome{Stdout: []byte("a"), Killed: true}}, nil
		}
		req.Output(Chunk{Data: []byte("b")})
		return CellOutcome{Outcome: Outcome{Stdout: []byte("ab")}}, nil
	}
	if string(code) == "exit" {
		f.stop(SessionEnd{ExitCode: 3})
		return CellOutcome{Outcome: Outcome{ExitCode: 3}, Ended: true}, nil
	}
	if req.Output != nil {
		req.Output(Chunk{Data: code})
	}
	if string(code) == "slow" {
		time.Sleep(300 * time.Millisecond)
	}
	r := "'" + string(code) + "'"
	o := Outcome{Stdout: code, HasResult: req.EvalLast, Result: &r, Duration: req.Timeout}
	if len(req.OutputFiles) > 0 { // /work holds out.txt (the code) and other.txt
		o.Files = []FileData{{Path: "out.txt", Data: code}, {Path: "other.txt", Data: []byte("x")}}
	}
	return CellOutcome{Outcome: o}, nil
}

func (f *fakeSession) PutFile(_ context.Context, path string, _ fs.FileMode, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[path] = data
	return nil
}

func (f *fakeSession) GetFile(_ context.Context, path string, _ int64) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.files[path]
	if !ok {
		return nil, &SessionRefusal{Msg: "no such file"}
	}
	return b, nil
}

func (f *fakeSession) ListFiles(context.Context) ([]api.SessionFile, error) { return nil, nil }
func (f *fakeSession) Usage() api.Usage                                     { return api.Usage{CPUMS: 1} }
func (f *fakeSession) Kill(reason string) {
	f.stop(SessionEnd{Killed: true, Reason: reason, ExitCode: 137})
}
func (f *fakeSession) Done() <-chan struct{} { return f.done }
func (f *fakeSession) End() SessionEnd {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.end
}

func (f *fakeSession) stop(e SessionEnd) {
	f.once.Do(func() {
		f.mu.Lock()
		f.end = e
		f.mu.Unlock()
		close(f.done)
	})
}

func sessionServer(t *testing.T, o SessionOptions) (*testServer, *fakeSessions) {
	t.Helper()
	f := &fakeSessions{}
	if o.MaxLive == 0 {
		o = SessionOptions{MaxLive: 2, IdleDefault: time.Minute, IdleMax: time.Hour, Grace: time.Second, MaxLifetime: time.Hour}
	}
	o.Runner = f
	return newTestServer(t, Options{Sessions: o, MemoryBudgetMB: 1024, Max: limits.Values{MemoryMB: 1024},
		Results: ResultLimits{DisplayItems: 4, DisplayBytes: 1 << 20, Files: 4, FileBytes: 1 << 20}}, nil), f
}

func TestSessionEndpoints(t *testing.T) {
	s, f := sessionServer(t, SessionOptions{})
	res := s.postJSON(t, "/api/v1/sessions", `{"files":[{"name":"a.txt","content":"x"}],"config":{"memory_mb":256,"idle_timeout_seconds":30}}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	var ses api.Session
	res.decode(t, &ses)
	if !strings.HasPrefix(ses.SessionID, "ses_") || ses.State != api.SessionIdle || ses.Limits.MemoryMB != 256 ||
		ses.Limits.IdleTimeoutSeconds != 30 || len(f.started[0].spec.Files) != 1 {
		t.Fatalf("session %+v spec %+v", ses, f.started[0].spec)
	}
	if got := f.started[0].spec.Limits.Timeout; got != time.Hour {
		t.Errorf("the jail's life is %v, want the max lifetime", got)
	}
	base := "/api/v1/sessions/" + ses.SessionID
	res = s.postJSON(t, base+"/eval", `{"code":"x + 1"}`)
	var cell api.CellResult
	res.decode(t, &cell)
	if got, _ := cell.ResultString(); res.status != 200 || got != "'x + 1'" || cell.Cell != 1 || cell.SessionState != api.SessionIdle || cell.Status != api.StatusCompleted {
		t.Fatalf("cell: %d %s", res.status, res.body)
	}
	if res = s.postJSON(t, base+"/eval", `{"code":"y","eval_last_expr":false}`); strings.Contains(string(res.body), `"result"`) {
		t.Errorf("eval_last_expr false: %s", res.body)
	}

	if res = do(t, http.MethodPut, s.URL+base+"/files/d/f.txt", "", strings.NewReader("data")); res.status != 200 {
		t.Fatalf("put: %d %s", res.status, res.body)
	}
	if res = s.get(t, base+"/files/d/f.txt"); res.status != 200 || string(res.body) != "data" {
		t.Fatalf("get: %d %s", res.status, res.body)
	}
	if res = s.get(t, base+"/files/nope"); res.status != 404 {
		t.Errorf("missing file: %d %s", res.status, res.body)
	}
	for _, p := range []string{"/files/../x", "/files/%2e%2e/x", "/files//etc/passwd"} {
		if res = s.get(t, base+p); res.status != 400 && res.status != 404 && res.status != 301 {
			t.Errorf("get %s: %d %s", p, res.status, res.body)
		}
	}
	if res = s.get(t, base+"/files"); res.status != 200 || !strings.Contains(string(res.body), `"files":[]`) {
		t.Errorf("list: %d %s", res.status, res.body)
	}

	// Bad input is a clear 4xx.
	for _, c := range []struct{ body, want string }{
		{`{"config":{"idle_timeout_seconds":99999}}`, "idle_timeout_seconds"},
		{`{"config":{"network_disabled":false}}`, "network"},
		{`{"python_version":"2.7"}`, "unsupported"},
		{`{"files":[{"name":"../x","content":""}]}`, "invalid file name"},
	} {
		if res = s.postJSON(t, "/api/v1/sessions", c.body); res.status != 400 || !strings.Contains(res.errorMsg(t), c.want) {
			t.Errorf("create %s: %d %s", c.body, res.status, res.body)
		}
	}
	if res = s.postJSON(t, base+"/eval", `{}`); res.status != 400 {
		t.Errorf("no code: %d", res.status)
	}
	if res = s.get(t, "/api/v1/sessions/ses_nope"); res.status != 404 {
		t.Errorf("unknown: %d", res.status)
	}

	// Max live: 429; a session that ends frees its place.
	if res = s.postJSON(t, "/api/v1/sessions", `{"config":{"memory_mb":64}}`); res.status != http.StatusCreated {
		t.Fatalf("second session: %d %s", res.status, res.body)
	}
	if res = s.postJSON(t, "/api/v1/sessions", `{"config":{"memory_mb":64}}`); res.status != http.StatusTooManyRequests ||
		!strings.Contains(res.errorMsg(t), "maximum of 2 live sessions") {
		t.Fatalf("third session: %d %s", res.status, res.body)
	}
	res = s.postJSON(t, base+"/eval", `{"code":"exit"}`)
	res.decode(t, &cell)
	if cell.SessionState != api.SessionExited || *cell.ExitCode != 3 {
		t.Fatalf("exit cell: %s", res.body)
	}
	if res = s.postJSON(t, base+"/eval", `{"code":"1"}`); res.status != http.StatusGone {
		t.Errorf("cell of an ended session: %d %s", res.status, res.body)
	}
	eventually(t, "a place frees", func() bool {
		return s.postJSON(t, "/api/v1/sessions", `{"config":{"memory_mb":64}}`).status == http.StatusCreated
	})
	var list api.Sessions
	s.get(t, "/api/v1/sessions").decode(t, &list)
	if len(list.Sessions) != 3 {
		t.Errorf("list: %+v", list)
	}
	res = do(t, http.MethodDelete, s.URL+"/api/v1/sessions/"+list.Sessions[1].SessionID, "", nil)
	res.decode(t, &ses)
	if ses.State != api.SessionClosed {
		t.Errorf("delete: %s", res.body)
	}
}

func TestSessionIdleAndMemory(t *testing.T) {
	s, f := sessionServer(t, SessionOptions{MaxLive: 8, IdleDefault: time.Minute, IdleMax: time.Hour, Grace: time.Second, MaxLifetime: time.Hour})
	res := s.postJSON(t, "/api/v1/sessions", `{"config":{"idle_timeout_seconds":1,"memory_mb":1000}}`)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	// The budget (1024 MB) holds the live session's 1000 MB.
	if res = s.postJSON(t, "/api/v1/sessions", `{"config":{"memory_mb":100}}`); res.status != http.StatusTooManyRequests || !strings.Contains(res.errorMsg(t), "memory") {
		t.Fatalf("past the budget: %d %s", res.status, res.body)
	}
	select {
	case <-f.started[0].done:
	case <-time.After(5 * time.Second):
		t.Fatal("the idle session did not end")
	}
	var ses api.Session
	eventually(t, "expired", func() bool {
		s.get(t, "/api/v1/sessions/"+sesID(t, s)).decode(t, &ses)
		return ses.State == api.SessionExpired
	})
	eventually(t, "memory back", func() bool {
		return s.postJSON(t, "/api/v1/sessions", `{"config":{"memory_mb":100}}`).status == http.StatusCreated
	})
}

func sesID(t *testing.T, s *testServer) string {
	var list api.Sessions
	s.get(t, "/api/v1/sessions").decode(t, &list)
	return list.Sessions[0].SessionID
}

func TestSessionsRefusedWithoutRunner(t *testing.T) {
	s := newTestServer(t, Options{Sessions: SessionOptions{Unavailable: "sessions run on zygote jails, which are off"}}, nil)
	res := s.postJSON(t, "/api/v1/sessions", `{}`)
	if res.status != http.StatusServiceUnavailable || !strings.Contains(res.errorMsg(t), "zygote") {
		t.Fatalf("%d %s", res.status, res.body)
	}
}

// The MCP session tools drive the session endpoints in process.
func TestSessionMCPTools(t *testing.T) {
	s, f := sessionServer(t, SessionOptions{})
	cs, err := mcpSession(t, s, "")
	if err != nil {
		t.Fatal(err)
	}
	tools, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
	}
	if strings.Join(names, ",") != "run_python,session_close,session_create,session_get_file,session_list_files,session_run" {
		t.Fatalf("tools: %v", names)
	}
	call := func(name string, args map[string]any) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return res
	}
	res := call("session_create", map[string]any{"memory_mb": 128, "files": []map[string]string{{"name": "a.txt", "content": "x"}}})
	text := toolText(res)
	id, _, _ := strings.Cut(strings.TrimPrefix(text, "session_id: "), "\n")
	if res.IsError || !strings.HasPrefix(id, "ses_") || f.started[0].spec.Limits.MemoryBytes != 128<<20 {
		t.Fatalf("create: %q", text)
	}
	if res = call("session_run", map[string]any{"session_id": id, "code": "x + 1"}); res.IsError || !strings.Contains(toolText(res), "result: 'x + 1'") {
		t.Fatalf("run: %q", toolText(res))
	}
	f.started[0].files["out/r.txt"] = []byte("hello")
	if res = call("session_get_file", map[string]any{"session_id": id, "path": "out/r.txt"}); res.IsError || toolText(res) != "out/r.txt:\nhello\n" {
		t.Fatalf("get file: %q", toolText(res))
	}
	if res = call("session_get_file", map[string]any{"session_id": id, "path": "nope"}); !res.IsError || !strings.Contains(toolText(res), "no such file") {
		t.Fatalf("missing file: %q", toolText(res))
	}
	if res = call("session_run", map[string]any{"session_id": "ses_nope", "code": "1"}); !res.IsError || !strings.Contains(toolText(res), "no such session") {
		t.Fatalf("unknown session: %q", toolText(res))
	}
	if res = call("session_run", map[string]any{"session_id": id, "code": "exit"}); !strings.Contains(toolText(res), "The session has ended (exited)") {
		t.Fatalf("ending cell: %q", toolText(res))
	}
	if res = call("session_close", map[string]any{"session_id": id}); res.IsError || !strings.Contains(toolText(res), "is exited") {
		t.Fatalf("close: %q", toolText(res))
	}
}

// Sessions are behind the API's tokens, and each is seen only by the
// token that started it.
func TestSessionAuth(t *testing.T) {
	f := &fakeSessions{}
	s := newTestServer(t, Options{Tokens: Tokens{User: []string{"tok-a", "tok-b"}},
		Sessions: SessionOptions{Runner: f, MaxLive: 4, IdleDefault: time.Minute, IdleMax: time.Hour, Grace: time.Second, MaxLifetime: time.Hour}}, nil)
	as := func(tok, method, path, body string) response {
		t.Helper()
		req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	if r := as("", http.MethodPost, "/api/v1/sessions", `{}`); r.status != http.StatusUnauthorized {
		t.Fatalf("no token: %d", r.status)
	}
	r := as("tok-a", http.MethodPost, "/api/v1/sessions", `{"config":{"memory_mb":64}}`)
	var ses api.Session
	r.decode(t, &ses)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/v1/sessions/" + ses.SessionID, ""},
		{http.MethodPost, "/api/v1/sessions/" + ses.SessionID + "/eval", `{"code":"1"}`},
		{http.MethodGet, "/api/v1/sessions/" + ses.SessionID + "/files", ""},
		{http.MethodPut, "/api/v1/sessions/" + ses.SessionID + "/files/x", "x"},
		{http.MethodDelete, "/api/v1/sessions/" + ses.SessionID, ""},
	} {
		if r := as("tok-b", c.method, c.path, c.body); r.status != http.StatusNotFound {
			t.Errorf("another token's %s %s: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if r := as("tok-b", http.MethodGet, "/api/v1/sessions", ""); !strings.Contains(string(r.body), `"sessions":[]`) {
		t.Errorf("another token's list: %s", r.body)
	}
	if r := as("tok-a", http.MethodPost, "/api/v1/sessions/"+ses.SessionID+"/eval", `{"code":"1"}`); r.status != http.StatusOK {
		t.Errorf("its own token: %d %s", r.status, r.body)
	}
}
