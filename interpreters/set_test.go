package interpreters

import (
	"errors"
	"strings"
	"testing"
)

func testSet(t *testing.T) *Set {
	t.Helper()
	s, err := NewSet([]Interpreter{
		{Version: "3.10.13", Series: "3.10"},
		{Version: "3.11.2", Series: "3.11"},
		{Version: "3.11.7", Series: "3.11"},
		{Version: "3.12.1", Series: "3.12"},
		{Version: "3.13.0", Series: "3.13"},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResolve(t *testing.T) {
	s := testSet(t)
	tests := []struct {
		sel, want string
	}{
		{"", "3.12.1"},
		{"3.12", "3.12.1"},
		{"3.11", "3.11.7"},
		{"3.11.2", "3.11.2"},
		{" 3.13 ", "3.13.0"},
		{"python3.10", "3.10.13"},
		{"python:3.11-slim", "3.11.7"},
		{"python:3.12", "3.12.1"},
		{"python:3.10-bookworm", "3.10.13"},
		{"python:3.11.2-slim-bookworm", "3.11.2"},
		{"docker.io/library/python:3.13-alpine", "3.13.0"},
		{"library/python:3.10", "3.10.13"},
		{"python", "3.12.1"},
		{"python:latest", "3.12.1"},
		{"python:3-slim", "3.12.1"},
	}
	for _, tt := range tests {
		t.Run(tt.sel, func(t *testing.T) {
			got, err := s.Resolve(tt.sel)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.sel, err)
			}
			if got.Version != tt.want {
				t.Fatalf("Resolve(%q) = %s, want %s", tt.sel, got.Version, tt.want)
			}
		})
	}
}

func TestResolveUnknown(t *testing.T) {
	s := testSet(t)
	for _, sel := range []string{"3.9", "2.7", "3.12.9", "node:20", "ubuntu:22.04", "python:2.7-slim", "python:3.9-slim", "abc", "python:4"} {
		t.Run(sel, func(t *testing.T) {
			_, err := s.Resolve(sel)
			var unk *UnknownError
			if !errors.As(err, &unk) {
				t.Fatalf("Resolve(%q) err = %v, want *UnknownError", sel, err)
			}
			if want := `available versions: 3.13, 3.12, 3.11, 3.10`; !strings.Contains(err.Error(), want) {
				t.Fatalf("message %q lacks %q", err, want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	list := []Interpreter{{Version: "3.10.13", Series: "3.10"}, {Version: "3.13.0", Series: "3.13"}}
	s, err := NewSet(list, "")
	if err != nil || s.Default().Version != "3.13.0" {
		t.Fatalf("no 3.12: default = %v, %v; want newest", s.Default().Version, err)
	}
	for _, def := range []string{"3.9", "python:3.9-slim", "ubuntu:22.04"} {
		_, err := NewSet(list, def)
		var unk *UnknownError
		if !errors.As(err, &unk) || !strings.Contains(err.Error(), "available versions: 3.13, 3.10") {
			t.Fatalf("NewSet(%q): err = %v, want an *UnknownError naming the available versions", def, err)
		}
	}
	for def, want := range map[string]string{"python:3.10-slim": "3.10.13", "3.13.0": "3.13.0", "python:latest": "3.13.0"} {
		if s, err := NewSet(list, def); err != nil || s.Default().Version != want {
			t.Fatalf("NewSet(%q): default %v, %v; want %s", def, s, err, want)
		}
	}
	s, _ = NewSet(list, "3.10")
	if l := s.List(); !l[0].Default || l[0].Version != "3.10.13" || len(l) != 2 {
		t.Fatalf("List = %+v, want default first", l)
	}
	if _, err := NewSet(nil, ""); err == nil {
		t.Fatal("empty set: want error")
	}
}

func TestMountsFor(t *testing.T) {
	base := []string{"/usr", "/lib"}
	got := mountsFor(base, "/root/.pyenv/versions/3.12.1", "/root/.pyenv/versions/3.12.1", "/root/.pyenv/versions/3.12.1/bin", "/usr", "/usr/local")
	if len(got) != 1 || got[0] != "/root/.pyenv/versions/3.12.1" {
		t.Fatalf("mountsFor = %v", got)
	}
}
