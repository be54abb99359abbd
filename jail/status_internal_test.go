package jail

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want runStatus
	}{
		{"exit 0\n", runStatus{ok: true}},
		{"exit 3\nexit 3\n", runStatus{ok: true, exit: 3}},
		{"signal 15\n", runStatus{ok: true, exit: 143, signal: unix.SIGTERM}},
		{"setup mount /work errno 28\n", runStatus{ok: true, setup: "setup mount /work errno 28"}},
		{"", runStatus{}},
		{"exit\n", runStatus{}},
		{"exit 256\n", runStatus{}},
		{"exit -1\n", runStatus{}},
		{"signal 0\n", runStatus{}},
		{"signal 99\n", runStatus{}},
		{"exit 1x\n", runStatus{}},
		{"bye 0\n", runStatus{}},
	} {
		if got := parseStatus([]byte(tc.in)); got != tc.want {
			t.Errorf("parseStatus(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
