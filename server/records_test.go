package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// bombTar is a gzip-compressed tar of a few KB that expands to size
// bytes of zeros in zeros.bin, and a main.py.
func bombTar(t *testing.T, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		size int64
	}{{"main.py", 8}, {"zeros.bin", size}} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: f.size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		data := make([]byte, f.size)
		if f.name == "main.py" {
			copy(data, "print(1)")
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestQueuedUploadsSpooled: a queued upload holds its archive as it
// arrived, not its expanded tree, and its job gets every file when it
// starts.
func TestQueuedUploadsSpooled(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{MaxConcurrent: 1, RecordsDir: t.TempDir()}, runner)
	s.submit(t)
	runner.waitStarted(t)

	bomb := bombTar(t, 8<<20)
	res := s.postExec(t, "/api/v1/exec/async", bomb, `{"entrypoint":"main.py"}`)
	if res.status != http.StatusAccepted {
		t.Fatalf("upload: %d %s", res.status, res.body)
	}
	var acc api.Accepted
	res.decode(t, &acc)
	q, ok := s.disp.lookup(acc.ExecutionID)
	if !ok {
		t.Fatal("the upload is not queued")
	}
	if q.job.Files != nil || q.job.archive == nil || q.queued > int64(len(bomb))+1024 {
		t.Errorf("the queued job holds %d files and %d bytes, want none and about the %d bytes uploaded",
			len(q.job.Files), q.queued, len(bomb))
	}

	close(runner.release)
	if e := s.execution(t, acc.ExecutionID+"?wait=5"); e.Status != api.StatusCompleted {
		t.Fatalf("the upload's job: %+v", e)
	}
}

func TestSpooledUploadFiles(t *testing.T) {
	got := make(chan Job, 1)
	runner := &fakeRunner{fn: func(_ context.Context, job Job) (Outcome, error) {
		got <- job
		return Outcome{Stdout: []byte("ok")}, nil
	}}
	s := newTestServer(t, Options{RecordsDir: t.TempDir()}, runner)
	archive := makeTar(t,
		tarEntry{name: "reqs.txt", body: "numpy\n"},
		tarEntry{name: "requirements.txt", typ: tar.TypeLink, linkname: "reqs.txt"},
		tarEntry{name: "main.py", body: "print(1)"},
		tarEntry{name: "pkg/data.bin", body: strings.Repeat("d", 5000)},
	)
	res := s.postExec(t, "/api/v1/exec/sync", gzipped(t, archive), `{"entrypoint":"main.py"}`)
	if res.status != http.StatusOK {
		t.Fatalf("%d %s", res.status, res.body)
	}
	job := <-got
	files := map[string]string{}
	for _, f := range job.Files {
		files[f.Path] = string(f.Data)
	}
	want := map[string]string{"reqs.txt": "numpy\n", "requirements.txt": "numpy\n", "main.py": "print(1)", "pkg": "", "pkg/data.bin": strings.Repeat("d", 5000)}
	for p, data := range want {
		if files[p] != data {
			t.Errorf("file %s: %.20q, want %.20q", p, files[p], data)
		}
	}
	if job.Requirements.Text() != "numpy\n" {
		t.Errorf("requirements from a hard-linked requirements.txt = %q", job.Requirements.Text())
	}
}

// TestQueueByteBudget: past MaxQueuedBytes a submission gets 429 with
// Retry-After; an empty queue takes any job, and one that drained takes
// new ones.
func TestQueueByteBudget(t *testing.T) {
	runner := newBlockingRunner()
	s := newTestServer(t, Options{MaxConcurrent: 1, MaxQueuedBytes: 1 << 20, RecordsDir: t.TempDir()}, runner)
	s.submit(t)
	runner.waitStarted(t)
	stdin := strings.Repeat("s", 400<<10)
	body := fmt.Sprintf(`{"code":"print(1)","stdin":%q}`, stdin)
	evals := make(chan response, 3)
	for range 2 {
		go func() { evals <- s.postJSON(t, "/api/v1/eval", body) }()
	}
	eventually(t, "two queued evals", func() bool { _, q := s.disp.counts(); return q == 2 })

	res := s.postJSON(t, "/api/v1/eval", body)
	if res.status != http.StatusTooManyRequests || res.header.Get("Retry-After") != "1" {
		t.Fatalf("third eval: %d Retry-After %q %s", res.status, res.header.Get("Retry-After"), res.body)
	}
	if msg := res.errorMsg(t); !strings.Contains(msg, "1 MiB") {
		t.Errorf("message %q does not name the limit", msg)
	}
	// A small one still fits.
	go func() { evals <- s.postJSON(t, "/api/v1/eval", `{"code":"print(2)"}`) }()
	eventually(t, "a small queued eval", func() bool { _, q := s.disp.counts(); return q == 3 })

	close(runner.release)
	for range 3 {
		if r := <-evals; r.status != http.StatusOK {
			t.Errorf("queued eval: %d %s", r.status, r.body)
		}
	}
	if r := s.postJSON(t, "/api/v1/eval", body); r.status != http.StatusOK {
		t.Errorf("after the queue drained: %d %s", r.status, r.body)
	}
	if s.disp.queuedBytes != 0 {
		t.Errorf("queued bytes = %d with nothing queued", s.disp.queuedBytes)
	}
}

// TestRecordsSurviveRestart: a server on the same records dir serves the
// same JSON for finished records; what was queued or running when the
// first stopped without ending it comes back failed.
func TestRecordsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("\x01", 1<<20)
	runner := &fakeRunner{fn: func(_ context.Context, job Job) (Outcome, error) {
		return Outcome{Stdout: []byte(big), Stderr: []byte("e\xff"), Duration: time.Millisecond, PythonVersion: "3.12.1"}, nil
	}}
	opts := Options{RecordsDir: dir, MaxConcurrent: 1}
	s1, err := New(opts, runner, &fakeInterps{})
	if err != nil {
		t.Fatal(err)
	}
	h := s1.Handler()

	res := serveJSON(h, http.MethodPost, "/api/v1/eval", `{"code":"print(1)"}`)
	if res.status != http.StatusOK {
		t.Fatalf("eval: %d %.200s", res.status, res.body)
	}
	var e api.Execution
	res.decode(t, &e)
	first := recordRequest(h, http.MethodGet, "/api/v1/executions/"+e.ExecutionID)
	if !bytes.Equal(first.body, res.body) {
		t.Errorf("GET differs from the eval's answer")
	}
	// A record left pending by a server that died: written, never ended.
	if _, err := s1.store.Put(api.Execution{ExecutionID: "exe_lost", Status: api.StatusPending, ExitCode: new(int)}); err != nil {
		t.Fatal(err)
	}
	if err := s1.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2, err := New(opts, runner, &fakeInterps{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	again := recordRequest(s2.Handler(), http.MethodGet, "/api/v1/executions/"+e.ExecutionID)
	if again.status != http.StatusOK || !bytes.Equal(again.body, first.body) {
		t.Errorf("after the restart: %d, %d bytes, same = %v", again.status, len(again.body), bytes.Equal(again.body, first.body))
	}
	lost := recordRequest(s2.Handler(), http.MethodGet, "/api/v1/executions/exe_lost")
	var l api.Execution
	lost.decode(t, &l)
	if l.Status != api.StatusFailed || l.Error != msgRestarted {
		t.Errorf("the record left pending: %s", lost.body)
	}
}

// serveJSON serves one request with a JSON body in process.
func serveJSON(h http.Handler, method, path, body string) response {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(rec, req)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// BenchmarkEvalRecords is a trivial /eval in process (a fake runner) with
// records in memory and on disk: the difference is what the durable store
// adds to a request (the final record's commit, fdatasync included).
// With a run of 3 ms (a warm jail's), the writes of the pending and
// running records overlap the run and only the final one is waited for.
func BenchmarkEvalRecords(b *testing.B) {
	for _, c := range []struct {
		mode string
		run  time.Duration
	}{{"memory", 0}, {"disk", 0}, {"memory", 3 * time.Millisecond}, {"disk", 3 * time.Millisecond}} {
		b.Run(fmt.Sprintf("%s/run=%v", c.mode, c.run), func(b *testing.B) {
			opts := Options{MaxConcurrent: 4}
			if c.mode == "disk" {
				opts.RecordsDir = b.TempDir()
			}
			runner := &fakeRunner{fn: func(context.Context, Job) (Outcome, error) {
				time.Sleep(c.run)
				return Outcome{Stdout: []byte("1\n")}, nil
			}}
			s, err := New(opts, runner, &fakeInterps{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			defer s.Shutdown(context.Background())
			h := s.Handler()
			b.ResetTimer()
			for b.Loop() {
				if res := serveJSON(h, http.MethodPost, "/api/v1/eval", `{"code":"print(1)"}`); res.status != http.StatusOK {
					b.Fatalf("%d %s", res.status, res.body)
				}
			}
		})
	}
}
