package client

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/pyexec/pyexec/api"
)

func TestDownloadFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.EscapedPath() {
		case "/api/v1/executions/exe_1/files/out/a%20b.txt":
			w.Write([]byte("content"))
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":"execution exe_1 kept no output file"}`))
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if b, err := c.DownloadFile(ctx, "exe_1", "out/a b.txt"); err != nil || string(b) != "content" {
		t.Errorf("DownloadFile: %q, %v", b, err)
	}
	if _, err := c.DownloadFile(ctx, "exe_1", "missing"); !IsNotFound(err) {
		t.Errorf("missing file: %v, want not found", err)
	}
	for _, p := range []string{"", "/etc/passwd"} {
		if _, err := c.DownloadFile(ctx, "exe_1", p); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
}

func TestDisplayItemBytes(t *testing.T) {
	for _, tt := range []struct {
		mime, data, json string
	}{
		{api.MimePNG, "\x89PNG\x00\xff", `"iVBORwD/"`},
		{api.MimeHTML, "<b>é</b>", `"\u003cb\u003eé\u003c/b\u003e"`},
		{api.MimeJSON, `{"a":[1]}`, `{"a":[1]}`},
	} {
		d, err := api.NewDisplayItem(tt.mime, []byte(tt.data))
		if err != nil || string(d.Data) != tt.json {
			t.Errorf("%s: %s %v, want %s", tt.mime, d.Data, err, tt.json)
			continue
		}
		if b, err := d.Bytes(); err != nil || string(b) != tt.data {
			t.Errorf("%s: Bytes %q %v", tt.mime, b, err)
		}
	}
	if _, err := api.NewDisplayItem(api.MimeJSON, []byte("{")); err == nil {
		t.Error("invalid JSON accepted")
	}
}
