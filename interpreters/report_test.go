package interpreters

import "testing"

func TestParseReport(t *testing.T) {
	s := func(v string) *string { return &v }
	tests := []struct {
		name    string
		in      string
		want    Report
		wantErr bool
	}{
		{"nothing", "", Report{}, false},
		{"plain end", "end 0\n", Report{Finished: true}, false},
		{"result", "result 2\n15end 0\n", Report{Finished: true, Result: s("15")}, false},
		{"result none", "result! 0\nend 0\n", Report{Finished: true}, false},
		{"multi-line result", "result 5\na\nb\nnend 0\n", Report{Finished: true, Result: s("a\nb\nn")}, false},
		{"error", "error_type 9\nNameErrorerror_line 1\n3end 0\n", Report{Finished: true, ErrorType: "NameError", ErrorLine: 3}, false},
		{"forged then real", "result 4\nfakeend 0\nresult 2\n15end 0\n", Report{Finished: true, Result: s("15")}, false},
		{"truncated", "result 9\n15", Report{}, true},
		{"garbage", "hello world\n", Report{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseReport([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Finished != tt.want.Finished || got.ErrorType != tt.want.ErrorType || got.ErrorLine != tt.want.ErrorLine ||
				(got.Result == nil) != (tt.want.Result == nil) || (got.Result != nil && *got.Result != *tt.want.Result) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}
