package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/configs"
)

func TestMemTotalKB(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"MemTotal:       24684084 kB\nMemFree:  1 kB\n", 24684084, true},
		{"MemFree: 1 kB\nMemTotal: 2048 kB\n", 2048, true},
		{"MemFree: 1 kB\n", 0, false},
		{"MemTotal: 12 MB\n", 0, false},
		{"MemTotal: -5 kB\n", 0, false},
	} {
		got, err := memTotalKB(strings.NewReader(tt.in))
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("memTotalKB(%q) = %d, %v", tt.in, got, err)
		}
	}
	if hostMemoryMB() <= 0 {
		t.Error("hostMemoryMB() found no memory on this host")
	}
}

// TestOpenAPIWarning: an open API on an address other hosts reach gets a
// warning; on loopback, or with tokens, none.
func TestOpenAPIWarning(t *testing.T) {
	for _, tt := range []struct {
		host   string
		tokens []string
		warn   bool
	}{
		{"127.0.0.1", nil, false},
		{"localhost", nil, false},
		{"0.0.0.0", nil, true},
		{"", nil, true},
		{"0.0.0.0", []string{"tok-0123456789abcdef"}, false},
	} {
		var buf bytes.Buffer
		log := slog.New(slog.NewTextHandler(&buf, nil))
		tok, err := apiTokens(configs.ServerConfig{Host: tt.host, Port: 8080, AuthTokens: tt.tokens}, log)
		if err != nil {
			t.Fatal(err)
		}
		if warned := strings.Contains(buf.String(), "level=WARN"); warned != tt.warn {
			t.Errorf("host %q, %d tokens: warned %v:\n%s", tt.host, len(tt.tokens), warned, buf.String())
		}
		if tok.Open() != (len(tt.tokens) == 0) || strings.Contains(buf.String(), "tok-0123456789abcdef") {
			t.Errorf("tokens %+v, log %s", tok, buf.String())
		}
	}
}
