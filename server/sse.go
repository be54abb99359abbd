package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pyexec/pyexec/api"
)

// sseWriteTimeout bounds each write of an event stream: a client that
// takes nothing for this long is disconnected (its run goes on).
const sseWriteTimeout = 30 * time.Second

// wantsEvents reports whether the request's Accept header lists
// text/event-stream.
func wantsEvents(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err == nil && mt == "text/event-stream" {
				return true
			}
		}
	}
	return false
}

// eventWriter writes one Server-Sent Events response: events are
// buffered by event and sent by flush, each flush within
// sseWriteTimeout.
type eventWriter struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	buf bytes.Buffer
	// pending holds the incomplete UTF-8 character at the end of the last
	// chunk of each stream (stdout, stderr), sent with the next chunk.
	pending [2][]byte
}

// newEventWriter starts the response: status 200 and the event-stream
// headers. The request's body must have been read: the connection's read
// deadline is lifted, as the stream lasts as long as the run.
func newEventWriter(w http.ResponseWriter) *eventWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Accel-Buffering", "no") // proxies: do not hold events back
	rc := http.NewResponseController(w)
	// Writers without deadlines (httptest's recorder) have none to lift.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	w.WriteHeader(http.StatusOK)
	return &eventWriter{w: w, rc: rc}
}

// event queues one event whose data is v as JSON.
func (e *eventWriter) event(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil { // the event types always marshal
		b = []byte(`{}`)
	}
	fmt.Fprintf(&e.buf, "event: %s\ndata: %s\n\n", name, b)
}

// output queues data of one stream as stdout or stderr events, holding
// back an incomplete UTF-8 character at its end until the next call (or
// endOutput).
func (e *eventWriter) output(stderr bool, data []byte) {
	i := streamIndex(stderr)
	if len(e.pending[i]) > 0 {
		data = append(e.pending[i], data...)
		e.pending[i] = nil
	}
	cut := completeUTF8(data)
	if cut < len(data) {
		e.pending[i] = append([]byte(nil), data[cut:]...)
	}
	if cut > 0 {
		e.event(outputEventName(stderr), api.OutputEvent{Text: string(data[:cut])})
	}
}

// endOutput queues what output held back: the stream ended inside a
// character.
func (e *eventWriter) endOutput() {
	for i, p := range e.pending {
		if len(p) > 0 {
			e.event(outputEventName(i == 1), api.OutputEvent{Text: string(p)})
			e.pending[i] = nil
		}
	}
}

// comment queues an SSE comment, which clients ignore: a keep-alive.
func (e *eventWriter) comment() { e.buf.WriteString(": keep-alive\n\n") }

// flush sends what was queued.
func (e *eventWriter) flush() error {
	if e.buf.Len() == 0 {
		return nil
	}
	_ = e.rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	_, err := e.w.Write(e.buf.Bytes())
	e.buf.Reset()
	if err != nil {
		return err
	}
	return e.rc.Flush()
}

func outputEventName(stderr bool) string {
	if stderr {
		return api.EventStderr
	}
	return api.EventStdout
}

// completeUTF8 returns the length of b without an incomplete UTF-8
// character at its end (invalid bytes count as complete).
func completeUTF8(b []byte) int {
	// A character is at most utf8.UTFMax bytes: look at the last few.
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if !utf8.RuneStart(b[i]) {
			continue
		}
		if !utf8.FullRune(b[i:]) {
			return i
		}
		break
	}
	return len(b)
}
