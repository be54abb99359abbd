package jail

import (
	"strings"
	"testing"
)

func TestParseSubIDs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []SubIDRange
		wantErr bool
	}{
		{name: "empty", in: ""},
		{name: "two", in: "alice:100000:65536\n# c\n\n1001:165536:65536\n",
			want: []SubIDRange{{"alice", 100000, 65536}, {"1001", 165536, 65536}}},
		{name: "short", in: "alice:100000\n", wantErr: true},
		{name: "zero count", in: "alice:1:0\n", wantErr: true},
		{name: "not a number", in: "alice:x:5\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSubIDs(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("range %d = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestSubIDsOf(t *testing.T) {
	ranges := []SubIDRange{{"alice", 100000, 65536}, {"1001", 165536, 65536}}
	if r, ok := SubIDsOf(ranges, "alice", 1000); !ok || r.Start != 100000 {
		t.Errorf("alice: %v %v", r, ok)
	}
	if r, ok := SubIDsOf(ranges, "bob", 1001); !ok || r.Start != 165536 {
		t.Errorf("uid 1001: %v %v", r, ok)
	}
	if _, ok := SubIDsOf(ranges, "carol", 1002); ok {
		t.Error("carol has no range")
	}
}
