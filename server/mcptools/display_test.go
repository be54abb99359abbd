package mcptools

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

// TestRecordResultDisplay: a record's figures become image content, its
// other rich results text naming their type, its display note a text.
func TestRecordResultDisplay(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	item := func(mime string, data []byte) api.DisplayItem {
		d, err := api.NewDisplayItem(mime, data)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	rec := api.Execution{Status: api.StatusCompleted, ExitCode: intp(0), Result: json.RawMessage(`"Rich()"`),
		Display: []api.DisplayItem{item(api.MimePNG, png), item(api.MimeHTML, []byte("<b>x</b>")),
			item(api.MimeJSON, []byte(`{"a":1}`))},
		DisplayNote: "1 display item(s) left out"}
	res := recordResult(&rec)
	if res.IsError || len(res.Content) != 5 {
		t.Fatalf("isError %v, %d contents, want 5", res.IsError, len(res.Content))
	}
	if c, ok := res.Content[0].(*mcp.TextContent); !ok || c.Text != "result: Rich()" {
		t.Errorf("content 0: %#v", res.Content[0])
	}
	img, ok := res.Content[1].(*mcp.ImageContent)
	if !ok || img.MIMEType != api.MimePNG || !bytes.Equal(img.Data, png) {
		t.Errorf("content 1: %#v, want the PNG as image content", res.Content[1])
	}
	for i, want := range map[int]string{2: "text/html:\n<b>x</b>", 3: "application/json:\n{\"a\":1}", 4: "note: 1 display item(s) left out"} {
		if c, ok := res.Content[i].(*mcp.TextContent); !ok || c.Text != want {
			t.Errorf("content %d: %#v, want text %q", i, res.Content[i], want)
		}
	}
}

// TestSVGContent: a well-formed SVG is image content of its type; one
// that does not parse, or is not an <svg> document, is text naming it.
func TestSVGContent(t *testing.T) {
	for _, tt := range []struct {
		svg   string
		image bool
	}{
		{`<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="5" height="5"/></svg>`, true},
		{"<?xml version=\"1.0\"?>\n<!-- c -->\n<svg:svg xmlns:svg=\"http://www.w3.org/2000/svg\"/>", true},
		{`<svg><rect></svg>`, false},
		{`<html><svg/></html>`, false},
		{`text <svg/>`, false},
		{``, false},
	} {
		d, err := api.NewDisplayItem(api.MimeSVG, []byte(tt.svg))
		if err != nil {
			t.Fatal(err)
		}
		out := richContent(&api.Execution{Display: []api.DisplayItem{d}})
		if len(out) != 1 {
			t.Fatalf("%q: %d contents", tt.svg, len(out))
		}
		switch c := out[0].(type) {
		case *mcp.ImageContent:
			if !tt.image || c.MIMEType != api.MimeSVG || string(c.Data) != tt.svg {
				t.Errorf("%q: image %#v", tt.svg, c)
			}
		case *mcp.TextContent:
			if tt.image || c.Text != "image/svg+xml:\n"+tt.svg {
				t.Errorf("%q: text %q", tt.svg, c.Text)
			}
		}
	}
}
