package server

import (
	"bytes"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/pyexec/pyexec/api"
)

// TestWriteRecordJSON: the streamed JSON of a record is byte for byte what
// writeJSON sends, whatever the output holds and wherever a chunk ends.
func TestWriteRecordJSON(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	code := 1
	base := api.Execution{
		ExecutionID: "exe_1", Status: api.StatusFailed, ExitCode: &code, Error: `<"bad"> & \u0000`,
		ErrorType: "E\u2028", Result: []byte(`"<x>"`), StartedAt: &now, FinishedAt: &now, DurationMS: 5,
		PythonVersion: "3.12.1", Usage: &api.Usage{CPUMS: 1}, QueuedMS: 2,
	}
	// Multi-byte runes that straddle the chunk boundary at each offset.
	var straddle []string
	for pad := escapeChunk - 4; pad <= escapeChunk; pad++ {
		straddle = append(straddle, strings.Repeat("a", pad)+"é€😀\u2028", strings.Repeat("b", pad)+"\xf0\x9f\x98")
	}
	outputs := append([]string{
		"",
		"hello\n",
		"\x00\x01\x1f\x7f\"\\/\t\r\n\b\f",
		"<script>&</script>\u2028\u2029",
		"\xff\xfe invalid \xc3( \xe2\x82 \xf0\x28\x8c\x28",
		strings.Repeat("\x01", 3*escapeChunk+7),
		strings.Repeat("é", escapeChunk),
	}, straddle...)
	for i, out := range outputs {
		e := base
		e.Stdout, e.Stderr = out, "err:"+out
		want := httptest.NewRecorder()
		writeJSON(want, 200, e)

		got := httptest.NewRecorder()
		if err := writeRecordJSON(got, 200, e, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("output %d (%d bytes): streamed JSON differs:\n%.200q\nwant\n%.200q", i, len(out), got.Body.String(), want.Body.String())
		}
		if got.Header().Get("Content-Type") != "application/json" || got.Code != 200 {
			t.Errorf("headers %v, status %d", got.Header(), got.Code)
		}

		// From readers that return one byte at a time, as disk output.
		e.Stdout, e.Stderr = "", ""
		ro := &recordOutput{stdout: iotest.OneByteReader(strings.NewReader(out)), stderr: iotest.HalfReader(strings.NewReader("err:" + out))}
		got = httptest.NewRecorder()
		if err := writeRecordJSON(got, 200, e, ro); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Body.Bytes(), want.Body.Bytes()) {
			t.Errorf("output %d from a reader: streamed JSON differs", i)
		}
	}
}

func TestWriteRecordJSONReadError(t *testing.T) {
	e := api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted}
	ro := &recordOutput{stdout: io.MultiReader(strings.NewReader("part"), iotest.ErrReader(errors.New("disk gone"))), stderr: strings.NewReader("")}
	err := writeRecordJSON(httptest.NewRecorder(), 200, e, ro)
	if !errors.Is(err, errOutputRead) {
		t.Fatalf("err = %v, want errOutputRead", err)
	}
}
