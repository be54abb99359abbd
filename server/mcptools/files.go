package mcptools

import (
	"fmt"
	"mime"
	"net/url"
	"path"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

// filePath is the download path of an output file of the execution id.
func filePath(id, p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return "/api/v1/executions/" + url.PathEscape(id) + "/files/" + strings.Join(parts, "/")
}

// fileContent is a record's output files as MCP content: one text listing
// them with their download paths (for a model that does not read links),
// one resource link each, and the note on what the server left out.
func fileContent(rec *api.Execution) []mcp.Content {
	if len(rec.OutputFiles) == 0 {
		if rec.OutputFilesNote == "" {
			return nil
		}
		return []mcp.Content{&mcp.TextContent{Text: "output files: " + rec.OutputFilesNote}}
	}
	var b strings.Builder
	b.WriteString("output files (kept on the server; download path, size):\n")
	var links []mcp.Content
	for _, f := range rec.OutputFiles {
		p := filePath(rec.ExecutionID, f.Path)
		fmt.Fprintf(&b, "%s: %s (%d bytes)\n", f.Path, p, f.Size)
		size := f.Size
		ctype := mime.TypeByExtension(path.Ext(f.Path))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		links = append(links, &mcp.ResourceLink{URI: p, Name: f.Path, MIMEType: ctype, Size: &size,
			Description: fmt.Sprintf("/work/%s, written by execution %s; download with GET %s", f.Path, rec.ExecutionID, p)})
	}
	if rec.OutputFilesNote != "" {
		b.WriteString("note: " + rec.OutputFilesNote + "\n")
	}
	return append([]mcp.Content{&mcp.TextContent{Text: strings.TrimSuffix(b.String(), "\n")}}, links...)
}
