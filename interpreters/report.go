package interpreters

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Report is what the bootstrap tells about a run, on its own descriptor.
type Report struct {
	// Finished is true when a report was received at all: the code ran to
	// its end or raised. A run killed by a limit has none.
	Finished bool `json:"-"`
	// Result is the repr of the trailing expression for eval_last_expr
	// runs; nil when there was none or it was None.
	Result    *string `json:"result"`
	ErrorType string  `json:"error_type"`
	ErrorLine int     `json:"error_line"`
	// PreCommandFailed is the pre_command that failed, if one did.
	PreCommandFailed string `json:"pre_command_failed"`
}

// ParseReport decodes the bootstrap's report; empty input is a run that
// reported nothing.
func ParseReport(b []byte) (Report, error) {
	var r Report
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return r, nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:] // the bootstrap writes last, after the user's code ended
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("parse bootstrap report: %w", err)
	}
	r.Finished = true
	return r, nil
}
