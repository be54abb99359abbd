package test

// End-to-end tests of live output (ours): GET /api/v1/executions/{id}/events
// and POST /api/v1/eval with "Accept: text/event-stream" on the real
// pyexecd, the Go client's streaming calls and `pyexec run --stream`.

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// tickCode prints five lines half a second apart, each with the wall
// clock at the print (the jail shares the host's realtime clock).
const tickCode = `import time
for i in range(5):
    print("tick", i, repr(time.time()), flush=True)
    time.sleep(0.5)
`

// stuckReaderCode writes ~12 MB over ~1.5 s, more than a reader's buffer and
// the loopback socket's together, then "end".
const stuckReaderCode = `import sys, time
line = "x" * 9999 + "\n"
for i in range(1200):
    sys.stdout.write(line)
    if i % 100 == 0:
        sys.stdout.flush()
        time.sleep(0.1)
print("end", flush=True)
`

// tick is one line of tickCode's output as it arrived.
type tick struct {
	i       int
	printed time.Time // the clock in the jail at the print
	arrived time.Time // the clock here when the event came
}

// parseTicks reads "tick i t" lines out of text, stamping them arrived.
func parseTicks(t testing.TB, text string, arrived time.Time) []tick {
	t.Helper()
	var out []tick
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) != 3 || f[0] != "tick" {
			t.Fatalf("unexpected output line %q", line)
		}
		i, err1 := strconv.Atoi(f[1])
		sec, err2 := strconv.ParseFloat(f[2], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("unexpected output line %q", line)
		}
		out = append(out, tick{i: i, printed: time.Unix(0, int64(sec*1e9)), arrived: arrived})
	}
	return out
}

// checkLive checks that each tick arrived before the next one was
// printed, that is while the code still ran, half a second apart, and
// logs how long after its print each arrived.
func checkLive(t *testing.T, ticks []tick, done time.Time) {
	t.Helper()
	if len(ticks) != 5 {
		t.Fatalf("got %d ticks, want 5: %+v", len(ticks), ticks)
	}
	var lat []string
	for k, tk := range ticks {
		if tk.i != k {
			t.Fatalf("tick %d out of order: %+v", k, ticks)
		}
		lat = append(lat, tk.arrived.Sub(tk.printed).Round(100*time.Microsecond).String())
		if k+1 < len(ticks) && !tk.arrived.Before(ticks[k+1].printed) {
			t.Errorf("tick %d arrived at %s, after tick %d was printed (%s): not live",
				k, tk.arrived.Format(time.StampMicro), k+1, ticks[k+1].printed.Format(time.StampMicro))
		}
	}
	if first := ticks[0].arrived; done.Sub(first) < time.Second {
		t.Errorf("the first tick came %s before the end of a ~2.5 s run: not live", done.Sub(first))
	}
	t.Logf("print-to-event latency of ticks 0..4: %s; first event %s before the final record",
		strings.Join(lat, " "), done.Sub(ticks[0].arrived).Round(time.Millisecond))
}

// collectTicks is an EventFunc that stamps each tick with the arrival of
// the chunk that ended its line (a print may come in several chunks).
type collectTicks struct {
	t       testing.TB
	mu      sync.Mutex
	ticks   []tick
	events  []string
	partial string
}

func (c *collectTicks) add(ev client.Event) error {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev.Name)
	if ev.Name == api.EventStdout {
		text := c.partial + ev.Text
		cut := strings.LastIndexByte(text, '\n') + 1
		c.partial = text[cut:]
		c.ticks = append(c.ticks, parseTicks(c.t, text[:cut], now)...)
	}
	return nil
}

func newClient(t testing.TB, s *Server) *client.Client {
	t.Helper()
	c, err := client.New(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEventsLive: the ticks of a running program arrive as they are
// printed, for a streamed sync eval (pooled jail), an async exec followed
// by GET .../events (a cold jail: PYTHON* variables keep it off the
// pool), and a streamed sync exec; then the final record, whose stdout
// is the events' stdout.
func TestEventsLive(t *testing.T) {
	s := sharedServer(t)
	c := newClient(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	project := func() io.Reader {
		return strings.NewReader(string(tarFiles(t, map[string]string{"main.py": tickCode})))
	}
	md := api.Metadata{Entrypoint: "main.py", EnvVars: []string{"PYTHONDONTWRITEBYTECODE=1"}}
	for _, tt := range []struct {
		name string
		run  func(fn client.EventFunc) (*api.Execution, error)
	}{
		{"eval stream", func(fn client.EventFunc) (*api.Execution, error) {
			return c.EvalStream(ctx, api.EvalRequest{Code: tickCode}, fn)
		}},
		{"async exec, events", func(fn client.EventFunc) (*api.Execution, error) {
			id, err := c.ExecAsync(ctx, project(), md)
			if err != nil {
				return nil, err
			}
			return c.Events(ctx, id, fn)
		}},
		{"exec sync stream", func(fn client.EventFunc) (*api.Execution, error) {
			return c.ExecSyncStream(ctx, project(), md, fn)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			col := &collectTicks{t: t}
			rec, err := tt.run(col.add)
			done := time.Now()
			if err != nil {
				t.Fatal(err)
			}
			if rec.Status != api.StatusCompleted || !strings.HasPrefix(rec.Stdout, "tick 0 ") {
				t.Fatalf("record: %s", describe(*rec))
			}
			if got := len(strings.Split(strings.TrimSpace(rec.Stdout), "\n")); got != 5 {
				t.Fatalf("record stdout has %d lines", got)
			}
			if col.events[0] != api.EventStatus || col.events[len(col.events)-1] != api.EventDone {
				t.Fatalf("events %q", col.events)
			}
			checkLive(t, col.ticks, done)
		})
	}
	// A finished execution's stream is its output and record at once.
	rec := s.eval(t, api.EvalRequest{Code: "print('late')"})
	var got []string
	final, err := c.Events(ctx, rec.ExecutionID, func(ev client.Event) error {
		got = append(got, ev.Name+":"+ev.Text)
		return nil
	})
	if err != nil || final.Stdout != "late\n" || strings.Join(got, ",") != "status:,stdout:late\n,done:" {
		t.Fatalf("events of a finished run: %q, %v", got, err)
	}
}

// TestEventsStuckReader: readers that stop reading (an async run's
// follower, and the client of a streamed eval) do not stall the run: it
// ends on time and completed while they read nothing; then they get the
// "dropped" count and the final record.
func TestEventsStuckReader(t *testing.T) {
	s := sharedServer(t)
	c := newClient(t, s)
	code := stuckReaderCode
	cfg := &api.Config{MaxOutputBytes: ptr(int64(16 << 20)), TimeoutSeconds: ptr(60)}
	for _, tt := range []struct {
		name  string
		start func(t *testing.T) (id string, body *bufio.Reader, closeBody func())
	}{
		{"async follower", func(t *testing.T) (string, *bufio.Reader, func()) {
			id := s.execAsync(t, map[string]string{"main.py": code}, api.Metadata{Entrypoint: "main.py", Config: cfg})
			resp := openStream(t, s, http.MethodGet, "/api/v1/executions/"+id+"/events", "")
			return id, bufio.NewReader(resp.Body), func() { resp.Body.Close() }
		}},
		{"streamed eval", func(t *testing.T) (string, *bufio.Reader, func()) {
			resp := openStream(t, s, http.MethodPost, "/api/v1/eval", jsonOf(t, api.EvalRequest{Code: code, Config: cfg}))
			br := bufio.NewReader(resp.Body)
			// The first event names the execution; then read nothing more.
			ev, data := readEvent(t, br)
			if ev != api.EventStatus {
				t.Fatalf("first event %q", ev)
			}
			st := decode[api.StatusEvent](t, []byte(data))
			return st.ExecutionID, br, func() { resp.Body.Close() }
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id, br, closeBody := tt.start(t)
			defer closeBody()
			// Nothing is read from the stream until the run is over.
			ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
			defer cancel()
			rec, err := c.Wait(ctx, id, nil)
			if err != nil {
				t.Fatalf("the run did not end while a reader was stuck: %v", err)
			}
			if rec.Status != api.StatusCompleted || !strings.HasSuffix(rec.Stdout, "end\n") {
				t.Fatalf("record: %s", describe(*rec))
			}
			t.Logf("run of %d bytes took %d ms with a stuck reader", len(rec.Stdout), rec.DurationMS)
			// Now the reader catches up: it missed bytes and is told so.
			final := decode[api.Execution](t, []byte(readMissed(t, br)))
			if final.ExecutionID != id || final.Status != api.StatusCompleted {
				t.Fatalf("final record %s", describe(final))
			}
		})
	}
}

// readMissed reads a stuck reader's stream to its end: it must have been
// told that it missed stdout bytes. It returns the "done" event's data.
func readMissed(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var dropped *api.DroppedEvent
	for {
		ev, data := readEvent(t, br)
		switch ev {
		case api.EventDropped:
			d := decode[api.DroppedEvent](t, []byte(data))
			dropped = &d
		case api.EventDone:
			if dropped == nil || dropped.StdoutBytes == 0 {
				t.Fatalf("no dropped bytes reported: %+v", dropped)
			}
			t.Logf("the stuck reader missed %d bytes of stdout", dropped.StdoutBytes)
			return data
		}
	}
}

// openStream sends a request asking for an event stream.
func openStream(t *testing.T, s *Server, method, path, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		resp.Body.Close()
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	return resp
}

// readEvent reads the next event of a stream: its name and data.
func readEvent(t *testing.T, br *bufio.Reader) (name, data string) {
	t.Helper()
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("event stream ended: %v", err)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "" && name != "":
			return name, data
		case strings.HasPrefix(line, "event: "):
			name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = strings.TrimPrefix(line, "data: ")
		}
	}
}

// TestCLIStream: `pyexec run --stream` prints each tick as it is printed,
// and exits with the script's code.
func TestCLIStream(t *testing.T) {
	s := sharedServer(t)
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"main.py": tickCode + "raise SystemExit(3)\n"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cliBin(t), "--server", s.URL, "run", "--stream", dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var ticks []tick
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		ticks = append(ticks, parseTicks(t, sc.Text()+"\n", time.Now())...)
	}
	err = cmd.Wait()
	done := time.Now()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("pyexec run --stream: %v, stderr %q", err, stderr.String())
	}
	checkLive(t, ticks, done)
}
