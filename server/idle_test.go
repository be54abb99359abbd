package server

import (
	"testing"
	"time"
)

func TestIdleTrim(t *testing.T) {
	t0 := time.Unix(1000, 0)
	var tr idleTrim
	tr.work(t0)
	for _, step := range []struct {
		at   time.Duration // after t0
		work bool          // an execution starts or ends at this time
		due  bool
	}{
		{at: time.Second},                      // too soon
		{at: idleTrimAfter, due: true},         // idle long enough
		{at: idleTrimAfter + time.Second},      // once per idle period
		{at: 10 * time.Second, work: true},     // a run
		{at: 10*time.Second + idleTrimAfter/2}, // too soon after it
		{at: 10*time.Second + idleTrimAfter, due: true},
		{at: time.Minute},
	} {
		now := t0.Add(step.at)
		if step.work {
			tr.work(now)
		}
		if got := tr.due(now); got != step.due {
			t.Errorf("at %v: due %v, want %v", step.at, got, step.due)
		}
	}
}
