package server

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestEscapingLink(t *testing.T) {
	tests := []struct {
		name    string
		entries []tarEntry
		want    string // the link reported; "" when all stay inside
		err     error
	}{
		{"inside", []tarEntry{{name: "a/l", typ: tar.TypeSymlink, linkname: "../b/c"}}, "", nil},
		{"not in the tree, then back up", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: "x/y/../../z"}}, "", nil},
		{"above the root", []tarEntry{{name: "a/l", typ: tar.TypeSymlink, linkname: "../../x"}}, "a/l", errLinkEscapes},
		{"through a file", []tarEntry{{name: "f"}, {name: "l", typ: tar.TypeSymlink, linkname: "f/../.."}}, "l", errLinkEscapes},
		{"through a link to a directory", []tarEntry{
			{name: "a/b/", typ: tar.TypeDir},
			{name: "up", typ: tar.TypeSymlink, linkname: "a/b"},
			{name: "l", typ: tar.TypeSymlink, linkname: "up/../../.."},
		}, "l", errLinkEscapes},
		{"relative to the link's directory", []tarEntry{
			{name: "a/b/", typ: tar.TypeDir},
			{name: "a/b/up", typ: tar.TypeSymlink, linkname: "../.."},
			{name: "l", typ: tar.TypeSymlink, linkname: "a/b/up/x"},
		}, "", nil},
		{"too many hops", []tarEntry{{name: "l", typ: tar.TypeSymlink, linkname: "l"}}, "l", errLinkEscapes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, err := parseArchive(bytes.NewReader(makeTar(t, tt.entries...)), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
			if tt.err == nil {
				if err != nil {
					t.Fatalf("parseArchive: %v", err)
				}
				if p, err := tr.escapingLink(); err != nil {
					t.Errorf("escapingLink = %q, %v", p, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.want)) {
				t.Errorf("err = %v, want one naming %q", err, tt.want)
			}
		})
	}
}

func TestEscapingLinkCost(t *testing.T) {
	t.Run("deep targets", func(t *testing.T) {
		// Targets 2000 components deep inside the tree: each component
		// costs one map lookup, not a join of the path so far.
		deep := strings.Repeat("a/", 2040) + "f"
		var entries []tarEntry
		for i := range 20 {
			entries = append(entries, tarEntry{name: fmt.Sprint("l", i), typ: tar.TypeSymlink, linkname: deep})
		}
		archive := makeTar(t, entries...)
		alloc := allocated(func() {
			if _, err := parseArchive(bytes.NewReader(archive), archiveLimits{maxBytes: 1 << 20, maxEntries: 100}); err != nil {
				t.Errorf("parseArchive: %v", err)
			}
		})
		if alloc > 64<<20 {
			t.Errorf("checking 20 symlinks allocated %d MiB", alloc>>20)
		}
	})
	t.Run("step budget", func(t *testing.T) {
		// A chain of 35 links of 2000 "./" each: resolving all of them
		// walks more than maxLinkSteps components.
		var entries []tarEntry
		for i := range 35 {
			target := "f"
			if i < 34 {
				target = strings.Repeat("./", 2040) + fmt.Sprint("l", i+1)
			}
			entries = append(entries, tarEntry{name: fmt.Sprint("l", i), typ: tar.TypeSymlink, linkname: target})
		}
		entries = append(entries, tarEntry{name: "f", body: "x"})
		_, err := parseArchive(bytes.NewReader(makeTar(t, entries...)), archiveLimits{maxBytes: 1 << 20, maxEntries: 100})
		var re *requestError
		if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.Contains(re.Msg, "too many steps") {
			t.Errorf("err = %v, want a 400 about the steps", err)
		}
	})
}
