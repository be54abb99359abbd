package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/pyexec/pyexec/api"
)

// outputFields is how the empty stdout and stderr of a record appear in
// its JSON: adjacent, after execution_id and status, whose values cannot
// hold the sequence (their quotes would be escaped).
const outputFields = `"stdout":"","stderr":""`

// escapeChunk is how much output is escaped at a time.
const escapeChunk = 32 << 10

// errOutputRead is a failure to read a record's output from disk while
// its JSON is being sent.
var errOutputRead = errors.New("reading the record's output")

// writeRecordJSON writes e as the JSON body of a response, byte for byte as
// writeJSON would, but streams its stdout and stderr: from out when it is
// not nil (a record read from disk; e's own are then empty), else from e.
// A record of 2 x 16 MiB of control characters, 201 MB as JSON, is never
// held as JSON in memory. It returns errOutputRead (wrapped) when out
// failed once the answer had started, or the error of writing to w.
func writeRecordJSON(w http.ResponseWriter, status int, e api.Execution, out *recordOutput) error {
	stdout, stderr := io.Reader(strings.NewReader(e.Stdout)), io.Reader(strings.NewReader(e.Stderr))
	if out != nil {
		stdout, stderr = out.stdout, out.stderr
	}
	e.Stdout, e.Stderr = "", ""
	b, err := json.Marshal(e)
	i := bytes.Index(b, []byte(outputFields))
	if err != nil || i < 0 {
		writeError(w, http.StatusInternalServerError, "internal server error")
		return fmt.Errorf("encoding record: %v (output fields at %d)", err, i)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	parts := []struct {
		text string
		from io.Reader
	}{
		{string(b[:i]) + `"stdout":"`, stdout},
		{`","stderr":"`, stderr},
		{`"` + string(b[i+len(outputFields):]) + "\n", nil},
	}
	enc := &stringEscaper{w: w}
	for _, p := range parts {
		if _, err := io.WriteString(w, p.text); err != nil {
			return err
		}
		if p.from != nil {
			if err := enc.copy(p.from); err != nil {
				return err
			}
		}
	}
	return nil
}

// stringEscaper writes bytes as the inside of a JSON string, escaped as
// encoding/json escapes a Go string (HTML characters, U+2028 and U+2029
// escaped; invalid UTF-8 replaced by \ufffd), a chunk at a time that
// never splits a UTF-8 sequence.
type stringEscaper struct {
	w   io.Writer
	buf []byte
	out bytes.Buffer
}

func (s *stringEscaper) copy(r io.Reader) error {
	if s.buf == nil {
		s.buf = make([]byte, escapeChunk+utf8.UTFMax)
	}
	have := 0
	for {
		n, rerr := r.Read(s.buf[have:escapeChunk])
		have += n
		eof := errors.Is(rerr, io.EOF)
		if rerr != nil && !eof {
			return fmt.Errorf("%w: %w", errOutputRead, rerr)
		}
		cut := have
		if !eof {
			cut = completeRunes(s.buf[:have])
		}
		if cut > 0 {
			if err := s.write(s.buf[:cut]); err != nil {
				return err
			}
		}
		have = copy(s.buf, s.buf[cut:have])
		if eof {
			return nil
		}
	}
}

// write escapes p with encoding/json itself, so that the two never differ.
func (s *stringEscaper) write(p []byte) error {
	s.out.Reset()
	enc := json.NewEncoder(&s.out)
	if err := enc.Encode(string(p)); err != nil {
		return err
	}
	b := s.out.Bytes()
	_, err := s.w.Write(b[1 : len(b)-2]) // without the quotes and Encode's newline
	return err
}

// completeRunes returns the length of the longest prefix of p that does
// not end inside a UTF-8 sequence that more bytes could complete.
func completeRunes(p []byte) int {
	for i := len(p) - 1; i >= 0 && i > len(p)-utf8.UTFMax; i-- {
		if utf8.RuneStart(p[i]) {
			if utf8.FullRune(p[i:]) {
				return len(p)
			}
			return i
		}
	}
	return len(p)
}
