package mcptools

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
)

// validSVG reports whether b is a well-formed XML document whose root
// element is <svg> (in any namespace prefix): an SVG image that MCP
// clients may show as image content.
func validSVG(b []byte) bool {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	root := false
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return root
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if !root && t.Name.Local != "svg" {
				return false
			}
			root = true
		case xml.CharData:
			if !root && len(bytes.TrimSpace(t)) > 0 {
				return false
			}
		}
	}
}
