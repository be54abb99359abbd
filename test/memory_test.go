package test

// The server's memory has a budget: queued uploads stay compressed on
// disk, finished records keep their output on disk, and a GET of a large
// record streams it (issue 12).

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// Bounds of the assertions below: far above what a bounded server uses,
// far below what the attacks cost without the budget (2.9 GiB, 3.4 GiB,
// a 201 MB buffer).
const (
	uploadFloodMaxGrowth = 256 << 20
	recordFloodMaxRSS    = 384 << 20
	streamedGETMaxGrowth = 64 << 20
)

// memStat is one reading of a process's memory (from /proc/<pid>/status).
type memStat struct{ rss, hwm int64 }

func (m memStat) String() string {
	return fmt.Sprintf("rss %d MiB, peak %d MiB", m.rss>>20, m.hwm>>20)
}

// mem reads the server's resident set and its peak since the last
// resetPeak.
func (s *Server) mem(t testing.TB) memStat {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("server memory: %v", err)
	}
	var m memStat
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			t.Fatalf("server memory: %q: %v", line, err)
		}
		if k == "VmRSS" {
			m.rss = kb << 10
		} else {
			m.hwm = kb << 10
		}
	}
	return m
}

// resetPeak starts a new peak (VmHWM) of the server's resident set.
func (s *Server) resetPeak(t testing.TB) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", s.cmd.Process.Pid), []byte("5"), 0); err != nil {
		t.Fatalf("resetting the server's peak RSS: %v", err)
	}
}

// bombTar is a gzip-compressed tar (about 100 KB) that expands to a
// 99 MiB file of zeros and a main.py that prints the file's size.
func bombTar(t testing.TB) []byte {
	t.Helper()
	const size = 99 << 20
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	main := "import os\nprint(os.path.getsize('zeros.bin'))\n"
	for _, f := range []struct {
		name string
		size int64
		data io.Reader
	}{
		{"main.py", int64(len(main)), strings.NewReader(main)},
		{"zeros.bin", size, io.LimitReader(zeroReader{}, size)},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: f.size, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, f.data); err != nil {
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

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// TestQueuedUploadFloodMemory queues 20 gzip uploads of 100 KB that each
// expand to 99 MiB behind a job that holds the only slot: the server's
// resident set stays bounded (they wait compressed, on disk), and a queued
// upload still runs with its whole tree once it gets the slot.
func TestQueuedUploadFloodMemory(t *testing.T) {
	s := startServer(t, "PYEXEC_EXECUTION_MAX_CONCURRENT=1")
	hold := s.execAsync(t, mainPy(tagged("e2e-hold", "import time\nprint('holding', flush=True)\ntime.sleep(120)")), entry)
	waitRunning(t, s, hold)
	bomb := bombTar(t)
	body, ct := multipartBody(t, part{name: "tar", filename: "bomb.tar.gz", data: bomb}, metaPart(t, entry))

	time.Sleep(200 * time.Millisecond)
	before := s.mem(t)
	s.resetPeak(t)
	var ids []string
	for i := range 20 {
		r := s.do(t, http.MethodPost, "/api/v1/exec/async", ct, bytes.NewReader(body))
		if r.Status != http.StatusAccepted {
			t.Fatalf("upload %d: status %d, want 202: %s", i, r.Status, r.Body)
		}
		ids = append(ids, decode[api.Accepted](t, r.Body).ExecutionID)
	}
	after := s.mem(t)
	t.Logf("20 queued uploads of %d bytes (99 MiB each expanded): server before %v; after %v; growth of the peak %d MiB",
		len(bomb), before, after, (after.hwm-before.rss)>>20)
	if growth := after.hwm - before.rss; growth > uploadFloodMaxGrowth {
		t.Errorf("the queued uploads grew the server's peak RSS by %d MiB, want at most %d MiB", growth>>20, uploadFloodMaxGrowth>>20)
	}

	// The first queued upload runs with its 99 MiB file; the rest go.
	for _, id := range ids[1:] {
		if r := s.kill(t, id); r.Status != http.StatusOK {
			t.Fatalf("DELETE %s: %d %s", id, r.Status, r.Body)
		}
	}
	s.kill(t, hold)
	e := s.waitDone(t, ids[0])
	wantRun(t, e, strconv.Itoa(99<<20)+"\n")
}

// floodCode writes 16 MiB of \x01 to stdout and to stderr: 32 MiB of
// output that is 201 MB as JSON (each byte is \u0001).
const floodCode = "import sys\nb = b'\\x01' * (16 << 20)\nsys.stdout.buffer.write(b)\nsys.stderr.buffer.write(b)\n"

// TestRecordFloodMemory keeps 30 finished records with 2 x 16 MiB of
// output each: the server's resident set stays bounded (the output is on
// disk), and a GET of one such record (201 MB of JSON) streams it.
func TestRecordFloodMemory(t *testing.T) {
	s := startServer(t, "PYEXEC_EXECUTION_MAX_CONCURRENT=2", "PYEXEC_LIMITS_MAX_MAX_OUTPUT_BYTES=16777216")
	const n = 30
	meta := api.Metadata{Entrypoint: "main.py", Config: &api.Config{MaxOutputBytes: ptr(int64(16 << 20))}}
	body, ct := multipartBody(t, tarPart(tarFiles(t, mainPy(floodCode))), metaPart(t, meta))

	before := s.mem(t)
	s.resetPeak(t)
	var ids []string
	for i := range n {
		r := s.do(t, http.MethodPost, "/api/v1/exec/async", ct, bytes.NewReader(body))
		if r.Status != http.StatusAccepted {
			t.Fatalf("submission %d: status %d: %s", i, r.Status, r.Body)
		}
		ids = append(ids, decode[api.Accepted](t, r.Body).ExecutionID)
	}
	// Wait by the metrics, not by GETs of 201 MB each.
	deadline := time.Now().Add(3 * time.Minute)
	for metric(s.metrics(t), `pyexec_executions_total{status="completed"}`) < n {
		if time.Now().After(deadline) {
			t.Fatalf("the %d runs did not complete within 3 minutes:\n%s", n, s.metrics(t))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // what the runs freed may go back to the kernel
	after := s.mem(t)
	t.Logf("%d finished records of 2 x 16 MiB output: server before %v; after %v", n, before, after)
	if after.rss > recordFloodMaxRSS {
		t.Errorf("the finished records hold %d MiB of the server's RSS, want at most %d MiB", after.rss>>20, recordFloodMaxRSS>>20)
	}

	t.Run("GET streams", func(t *testing.T) {
		before := s.mem(t)
		s.resetPeak(t)
		size, e := s.streamRecord(t, ids[0])
		after := s.mem(t)
		t.Logf("GET of a record of %d bytes of JSON: server before %v; peak during the GET +%d MiB", size, before, (after.hwm-before.rss)>>20)
		want := strings.Repeat("\x01", 16<<20)
		if e.Status != api.StatusCompleted || e.Stdout != want || e.Stderr != want || e.StdoutTruncated {
			t.Errorf("record: status %s, %d bytes of stdout, %d of stderr, want completed with 16 MiB each", e.Status, len(e.Stdout), len(e.Stderr))
		}
		if growth := after.hwm - before.rss; growth > streamedGETMaxGrowth {
			t.Errorf("the GET grew the server's peak RSS by %d MiB, want at most %d MiB (a streamed answer)", growth>>20, streamedGETMaxGrowth>>20)
		}
	})

	t.Run("concurrent GETs", func(t *testing.T) {
		before := s.mem(t)
		s.resetPeak(t)
		var wg sync.WaitGroup
		for _, id := range ids[:4] {
			wg.Go(func() { s.streamRecord(t, id) })
		}
		wg.Wait()
		after := s.mem(t)
		t.Logf("4 concurrent GETs of such records: peak +%d MiB", (after.hwm-before.rss)>>20)
		if growth := after.hwm - before.rss; growth > streamedGETMaxGrowth {
			t.Errorf("4 GETs grew the server's peak RSS by %d MiB, want at most %d MiB", growth>>20, streamedGETMaxGrowth>>20)
		}
	})
}

// streamRecord GETs a record, decoding the answer as it arrives, and
// returns the size of the JSON and the record.
func (s *Server) streamRecord(t testing.TB, id string) (int64, api.Execution) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.URL+"/api/v1/executions/"+url.PathEscape(id), nil)
	if err != nil {
		t.Error(err)
		return 0, api.Execution{}
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", id, err)
		return 0, api.Execution{}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("GET %s: status %d: %s", id, resp.StatusCode, b)
		return 0, api.Execution{}
	}
	cr := &countingReader{r: bufio.NewReaderSize(resp.Body, 1<<20)}
	var e api.Execution
	if err := json.NewDecoder(cr).Decode(&e); err != nil {
		t.Errorf("GET %s: decoding: %v", id, err)
	}
	_, _ = io.Copy(io.Discard, cr)
	return cr.n, e
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// TestQueueByteBudget: past execution.queue_max_mb of waiting uploads, a
// submission gets 429 with Retry-After; once the queue drains it is taken.
func TestQueueByteBudget(t *testing.T) {
	s := startServer(t, "PYEXEC_EXECUTION_MAX_CONCURRENT=1", "PYEXEC_EXECUTION_QUEUE_MAX_MB=1")
	hold := s.execAsync(t, mainPy(tagged("e2e-hold", "import time\nprint('holding', flush=True)\ntime.sleep(120)")), entry)
	waitRunning(t, s, hold)
	files := mainPy("print('queued')")
	files["data.bin"] = strings.Repeat("d", 700<<10) // an uncompressed upload of 700 KiB
	body, ct := multipartBody(t, tarPart(tarFiles(t, files)), metaPart(t, entry))

	first := s.do(t, http.MethodPost, "/api/v1/exec/async", ct, bytes.NewReader(body))
	if first.Status != http.StatusAccepted {
		t.Fatalf("first upload: %d %s", first.Status, first.Body)
	}
	r := s.do(t, http.MethodPost, "/api/v1/exec/async", ct, bytes.NewReader(body))
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("second upload: %d Retry-After %q %s, want 429 with Retry-After", r.Status, r.Header.Get("Retry-After"), r.Body)
	}
	t.Logf("past the budget: %s", errorBody(t, r, http.StatusTooManyRequests))

	s.kill(t, hold)
	if e := s.waitDone(t, decode[api.Accepted](t, first.Body).ExecutionID); e.Stdout != "queued\n" {
		t.Errorf("the queued upload: %s", describe(e))
	}
	if r := s.do(t, http.MethodPost, "/api/v1/exec/sync", ct, bytes.NewReader(body)); r.Status != http.StatusOK {
		t.Errorf("after the queue drained: %d %s", r.Status, r.Body)
	}
}
