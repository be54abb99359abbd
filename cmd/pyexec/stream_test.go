package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// sseServer answers /exec/sync and /eval with a fixed event stream when
// asked for one, and with the same run as plain JSON otherwise.
func sseServer(t *testing.T, accepts *[]string) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		*accepts = append(*accepts, r.Header.Get("Accept"))
		rec := `{"execution_id":"exe_1","status":"failed","stdout":"a\nb\n","stderr":"oops\n","exit_code":3,"result":"42"}`
		if r.Header.Get("Accept") != "text/event-stream" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, rec)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range []string{
			`event: status` + "\n" + `data: {"execution_id":"exe_1","status":"running"}`,
			`event: stdout` + "\n" + `data: {"text":"a\n"}`,
			`: keep-alive`,
			`event: stderr` + "\n" + `data: {"text":"oops\n"}`,
			`event: stdout` + "\n" + `data: {"text":"b\n"}`,
			`event: dropped` + "\n" + `data: {"stdout_bytes":7,"stderr_bytes":0}`,
			`event: done` + "\n" + `data: ` + rec,
		} {
			fmt.Fprintf(w, "%s\n\n", ev)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestStreamFlags(t *testing.T) {
	for _, tt := range []struct {
		name       string
		args       []string
		accept     string
		stdout     string
		stderrHas  []string
		wantExit   int
		stderrNone string
	}{
		{"run --stream", []string{"run", "--stream"}, "text/event-stream", "a\nb\n",
			[]string{"oops\n", "missed 7 bytes of stdout"}, 3, ""},
		{"run off a terminal", []string{"run"}, "application/json", "a\nb\n", []string{"oops\n"}, 3, "missed"},
		{"run --no-stream", []string{"run", "--no-stream"}, "application/json", "a\nb\n", []string{"oops\n"}, 3, "missed"},
		{"eval --stream", []string{"eval", "--stream", "6*7"}, "text/event-stream", "a\nb\n42\n", []string{"oops\n"}, 3, ""},
		{"run --stream -q", []string{"run", "--stream", "-q"}, "text/event-stream", "a\nb\n", nil, 3, "oops"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var accepts []string
			f := sseServer(t, &accepts)
			r := runCLI(t, f, "print(1)\n", nil, tt.args...)
			if r.code != tt.wantExit || r.stdout != tt.stdout {
				t.Fatalf("got %+v", r)
			}
			for _, s := range tt.stderrHas {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr %q lacks %q", r.stderr, s)
				}
			}
			if tt.stderrNone != "" && strings.Contains(r.stderr, tt.stderrNone) {
				t.Errorf("stderr %q has %q", r.stderr, tt.stderrNone)
			}
			if len(accepts) != 1 || accepts[0] != tt.accept {
				t.Errorf("Accept sent: %q, want %q", accepts, tt.accept)
			}
		})
	}
}
