package mcptools

import (
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestFileResult(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	long := strings.Repeat("é", maxFileText) // 2 bytes each: cut on a rune boundary
	for _, tt := range []struct {
		name  string
		data  []byte
		image bool
		text  string
	}{
		{"text", []byte("a,b\n1,2\n"), false, "out.csv:\na,b\n1,2\n"},
		{"png", png, true, ""},
		{"binary", []byte{0, 1, 2, 0xff}, false, "out.csv is a binary file of 4 bytes (application/octet-stream); read it with code in session_run."},
		{"long text", []byte(long), false, "out.csv (first 262144 of 524288 bytes):\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := fileResult("out.csv", tt.data)
			if len(res.Content) != 1 || res.IsError {
				t.Fatalf("content %+v", res.Content)
			}
			switch c := res.Content[0].(type) {
			case *mcp.ImageContent:
				if !tt.image || c.MIMEType != "image/png" || string(c.Data) != string(tt.data) {
					t.Fatalf("image %s %d bytes", c.MIMEType, len(c.Data))
				}
			case *mcp.TextContent:
				if tt.image || !strings.HasPrefix(c.Text, tt.text) {
					t.Fatalf("text %.200q", c.Text)
				}
				if tt.name == "long text" && !strings.HasSuffix(c.Text, "é") {
					t.Fatalf("cut inside a character: %q", c.Text[len(c.Text)-4:])
				}
			}
		})
	}
}
