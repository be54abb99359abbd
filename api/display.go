package api

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// DisplayItem is one rich result of a run (ours), as a notebook shows
// them: a rich form of the last expression of an eval_last_expr run
// (_repr_png_, _repr_svg_, _repr_html_, _repr_markdown_, _repr_json_) or
// a matplotlib figure as PNG. Data is a JSON string of base64 for a
// binary type (image/png), a JSON string of the text for a text type
// (image/svg+xml, text/html, text/markdown) and the JSON value itself for
// application/json. Bytes decodes it.
type DisplayItem struct {
	Mime string          `json:"mime"`
	Data json.RawMessage `json:"data"`
}

// The display MIME types a run offers.
const (
	MimePNG      = "image/png"
	MimeSVG      = "image/svg+xml"
	MimeHTML     = "text/html"
	MimeMarkdown = "text/markdown"
	MimeJSON     = "application/json"
)

// BinaryMime reports whether a display type's data travels as base64
// (every type but text/*, image/svg+xml and application/json).
func BinaryMime(mime string) bool {
	return !strings.HasPrefix(mime, "text/") && mime != MimeSVG && mime != MimeJSON
}

// NewDisplayItem encodes raw data of a type as a DisplayItem: base64 for
// a binary type, a string for a text type (invalid UTF-8 replaced), the
// data as it is for application/json, which must then be valid JSON.
func NewDisplayItem(mime string, data []byte) (DisplayItem, error) {
	var v any
	switch {
	case mime == MimeJSON:
		if !json.Valid(data) {
			return DisplayItem{}, errors.New("display: application/json data is not valid JSON")
		}
		return DisplayItem{Mime: mime, Data: append(json.RawMessage(nil), data...)}, nil
	case BinaryMime(mime):
		v = base64.StdEncoding.EncodeToString(data)
	default:
		v = strings.ToValidUTF8(string(data), "\uFFFD")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return DisplayItem{}, err
	}
	return DisplayItem{Mime: mime, Data: b}, nil
}

// Bytes returns the item's raw data: the decoded bytes of a binary type,
// the text of a text type, the JSON of application/json.
func (d DisplayItem) Bytes() ([]byte, error) {
	if d.Mime == MimeJSON {
		return append([]byte(nil), d.Data...), nil
	}
	var s string
	if err := json.Unmarshal(d.Data, &s); err != nil {
		return nil, errors.New("display: data of " + d.Mime + " is not a JSON string")
	}
	if BinaryMime(d.Mime) {
		return base64.StdEncoding.DecodeString(s)
	}
	return []byte(s), nil
}

// OutputFile is one file a run left in /work that its request's
// output_files matched (ours): Path relative to /work, its size and the
// SHA-256 of its content (hex). GET /api/v1/executions/{id}/files/{path}
// downloads it.
type OutputFile struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}
