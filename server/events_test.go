package server

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

// fakeFeed is a Feed over output pushed by a test, kept like a jail's.
type fakeFeed struct {
	mu             sync.Mutex
	stdout, stderr []byte
	subs           map[int]func(Chunk)
	nextID         int
}

func (f *fakeFeed) Subscribe(fn func(Chunk)) (Output, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.subs == nil {
		f.subs = map[int]func(Chunk){}
	}
	id := f.nextID
	f.nextID++
	f.subs[id] = fn
	return Output{Stdout: string(f.stdout), Stderr: string(f.stderr)}, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.subs, id)
	}
}

// write keeps data and pushes it to the subscribers, as a capture does.
func (f *fakeFeed) write(stderr bool, data string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if stderr {
		f.stderr = append(f.stderr, data...)
	} else {
		f.stdout = append(f.stdout, data...)
	}
	for _, fn := range f.subs {
		fn(Chunk{Stderr: stderr, Data: []byte(data)})
	}
}

// streamingRunner hands the server a fakeFeed and runs script with it.
type streamingRunner struct {
	script func(ctx context.Context, f *fakeFeed)
}

func (r *streamingRunner) Run(ctx context.Context, job Job) (Outcome, error) {
	f := &fakeFeed{}
	job.Stream(f)
	r.script(ctx, f)
	return Outcome{
		Stdout: f.stdout, Stderr: f.stderr,
		Killed: ctx.Err() != nil, Duration: time.Millisecond,
	}, nil
}

// collect gathers a stream's events with their arrival times.
type collect struct {
	mu     sync.Mutex
	events []client.Event
	at     []time.Time
}

func (c *collect) add(ev client.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	c.at = append(c.at, time.Now())
	return nil
}

func (c *collect) text(name string) string {
	var b strings.Builder
	for _, ev := range c.events {
		if ev.Name == name {
			b.WriteString(ev.Text)
		}
	}
	return b.String()
}

func newTestClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEventsStreamWhileRunning: chunks written 100 ms apart arrive as they
// are written, before the run ends, in order, then the record.
func TestEventsStreamWhileRunning(t *testing.T) {
	r := &streamingRunner{script: func(ctx context.Context, f *fakeFeed) {
		for _, s := range []string{"0\n", "1\n", "2\n"} {
			f.write(false, s)
			time.Sleep(100 * time.Millisecond)
		}
		f.write(true, "warn\n")
	}}
	ts := newTestServer(t, Options{}, r)
	c := newTestClient(t, ts.URL)
	var col collect
	start := time.Now()
	rec, err := c.EvalStream(context.Background(), api.EvalRequest{Code: "print(1)"}, col.add)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	if rec.Status != api.StatusCompleted || rec.Stdout != "0\n1\n2\n" || rec.Stderr != "warn\n" {
		t.Fatalf("record: %+v", rec)
	}
	if got := col.text(api.EventStdout); got != rec.Stdout {
		t.Fatalf("stdout events %q, record %q", got, rec.Stdout)
	}
	if got := col.text(api.EventStderr); got != rec.Stderr {
		t.Fatalf("stderr events %q, record %q", got, rec.Stderr)
	}
	first := -1
	for i, ev := range col.events {
		if ev.Name == api.EventStdout {
			first = i
			break
		}
	}
	if col.events[0].Name != api.EventStatus || first < 0 {
		t.Fatalf("events %+v", col.events)
	}
	// The first chunk came well before the end (the run lasts ~300 ms).
	if early, total := col.at[first].Sub(start), end.Sub(start); early > total/2 {
		t.Fatalf("first stdout after %s of %s: not streamed", early, total)
	}
	if last := col.events[len(col.events)-1]; last.Name != api.EventDone || last.Execution.ExecutionID != rec.ExecutionID {
		t.Fatalf("last event %+v", last)
	}
}

// TestEventsSlowReader: a reader that takes nothing does not hold the run
// back; it is told what it missed and still gets the final record.
func TestEventsSlowReader(t *testing.T) {
	ran := make(chan time.Duration, 1)
	line := strings.Repeat("x", 1023) + "\n"
	r := &streamingRunner{script: func(ctx context.Context, f *fakeFeed) {
		start := time.Now()
		for range 8 << 10 { // 8 MiB
			f.write(false, line)
		}
		ran <- time.Since(start)
	}}
	ts := newTestServer(t, Options{}, r)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/eval", strings.NewReader(`{"code":"x"}`))
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Read nothing until the run has ended.
	select {
	case d := <-ran:
		t.Logf("8 MiB written in %s with a reader that reads nothing", d)
	case <-time.After(10 * time.Second):
		t.Fatal("the run is stalled by a reader that does not read")
	}
	var dropped, done bool
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		switch sc.Text() {
		case "event: dropped":
			dropped = true
		case "event: done":
			done = true
		}
	}
	if !dropped || !done {
		t.Fatalf("dropped event %v, done event %v", dropped, done)
	}
}

// TestEventsFinishedAndUnknown: a finished execution streams its record's
// output and the record at once; an unknown id is a JSON 404.
func TestEventsFinishedAndUnknown(t *testing.T) {
	ts := newTestServer(t, Options{}, nil) // fakeRunner: prints "ok", no Feed
	c := newTestClient(t, ts.URL)
	rec, err := c.Eval(context.Background(), api.EvalRequest{Code: "print('ok')"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		get  func(fn client.EventFunc) (*api.Execution, error)
	}{
		{"finished", func(fn client.EventFunc) (*api.Execution, error) {
			return c.Events(context.Background(), rec.ExecutionID, fn)
		}},
		{"eval without a feed", func(fn client.EventFunc) (*api.Execution, error) {
			return c.EvalStream(context.Background(), api.EvalRequest{Code: "print('ok')"}, fn)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var col collect
			got, err := tt.get(col.add)
			if err != nil {
				t.Fatal(err)
			}
			if got.Stdout != "ok\n" || col.text(api.EventStdout) != "ok\n" {
				t.Fatalf("record %+v, events %+v", got, col.events)
			}
		})
	}
	res := ts.get(t, "/api/v1/executions/exe_nope/events")
	if res.status != http.StatusNotFound || res.errorMsg(t) != "execution not found" {
		t.Fatalf("unknown id: %d %s", res.status, res.body)
	}
}

// TestEventsAsync follows an async run from before it runs to its end,
// with two readers at once.
func TestEventsAsync(t *testing.T) {
	release := make(chan struct{})
	r := &streamingRunner{script: func(ctx context.Context, f *fakeFeed) {
		f.write(false, "before\n")
		<-release
		f.write(false, "after\n")
	}}
	ts := newTestServer(t, Options{}, r)
	c := newTestClient(t, ts.URL)
	res := ts.postExec(t, "/api/v1/exec/async", makeTar(t, tarEntry{name: "main.py", body: "x"}), `{"entrypoint":"main.py"}`)
	var acc api.Accepted
	res.decode(t, &acc)
	var wg sync.WaitGroup
	cols := make([]collect, 2)
	for i := range cols {
		wg.Go(func() {
			rec, err := c.Events(context.Background(), acc.ExecutionID, cols[i].add)
			if err != nil || rec.Stdout != "before\nafter\n" {
				t.Errorf("reader %d: %v %+v", i, err, rec)
			}
		})
	}
	// Both readers see the first line while the run waits.
	eventually(t, "both readers saw the first line", func() bool {
		for i := range cols {
			cols[i].mu.Lock()
			s := cols[i].text(api.EventStdout)
			cols[i].mu.Unlock()
			if s != "before\n" {
				return false
			}
		}
		return true
	})
	close(release)
	wg.Wait()
	for i := range cols {
		if s := cols[i].text(api.EventStdout); s != "before\nafter\n" {
			t.Fatalf("reader %d: %q", i, s)
		}
	}
}

// TestEventsClientGoneKillsEval: a streamed eval whose client leaves is
// killed, like a sync one.
func TestEventsClientGoneKillsEval(t *testing.T) {
	b := newBlockingRunner()
	ts := newTestServer(t, Options{}, b)
	c := newTestClient(t, ts.URL)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := c.EvalStream(ctx, api.EvalRequest{Code: "x"}, nil)
		errc <- err
	}()
	id := b.waitStarted(t)
	cancel()
	<-errc
	eventually(t, "the job killed", func() bool { return b.cause(id) != nil })
	if got := b.cause(id); got != errClientGone {
		t.Fatalf("cause %v", got)
	}
}

func TestCompleteUTF8(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"a\xc3", 1},        // first byte of é
		{"a\xc3\xa9", 3},    // é
		{"\xe2\x82", 0},     // two of the three bytes of €
		{"\xf0\x9f\x98", 0}, // three of four
		{"ab\xff", 3},       // invalid, complete
		{"\x80\x80\x80", 3}, // stray continuation bytes
	} {
		if got := completeUTF8([]byte(tt.in)); got != tt.want {
			t.Errorf("completeUTF8(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

// TestEventsSplitCharacter: a character split between two chunks arrives
// whole.
func TestEventsSplitCharacter(t *testing.T) {
	r := &streamingRunner{script: func(ctx context.Context, f *fakeFeed) {
		f.write(false, "caf\xc3")
		time.Sleep(50 * time.Millisecond)
		f.write(false, "\xa9\n")
	}}
	ts := newTestServer(t, Options{}, r)
	c := newTestClient(t, ts.URL)
	var col collect
	if _, err := c.EvalStream(context.Background(), api.EvalRequest{Code: "x"}, col.add); err != nil {
		t.Fatal(err)
	}
	for _, ev := range col.events {
		if strings.ContainsRune(ev.Text, '\uFFFD') {
			t.Fatalf("a chunk split a character: %+v", col.events)
		}
	}
	if got := col.text(api.EventStdout); got != "café\n" {
		t.Fatalf("stdout %q", got)
	}
}

func TestWantsEvents(t *testing.T) {
	for _, tt := range []struct {
		accept string
		want   bool
	}{
		{"", false},
		{"application/json", false},
		{"*/*", false},
		{"text/event-stream", true},
		{"application/json, text/event-stream;q=0.5", true},
		{"Text/Event-Stream", true},
	} {
		r, _ := http.NewRequest(http.MethodGet, "/", nil)
		if tt.accept != "" {
			r.Header.Set("Accept", tt.accept)
		}
		if got := wantsEvents(r); got != tt.want {
			t.Errorf("Accept %q: %v, want %v", tt.accept, got, tt.want)
		}
	}
}
