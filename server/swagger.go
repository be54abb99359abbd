package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"path"
	"time"

	"github.com/julienschmidt/httprouter"
)

var (
	//go:embed openapi.json
	openAPIDoc []byte
	//go:embed docs.html
	overviewPage []byte
	// The Swagger UI page: pyexec's index.html and initializer with the
	// swagger-ui-dist files and their licences (see swaggerui/README.md).
	//go:embed swaggerui/index.html swaggerui/swagger-initializer.js
	//go:embed swaggerui/swagger-ui-bundle.js swaggerui/swagger-ui.css
	//go:embed swaggerui/LICENSE swaggerui/NOTICE swaggerui/swagger-ui-bundle.js.LICENSE.txt
	swaggerFiles embed.FS
)

// CSPs of the documentation pages: nothing is loaded from another origin,
// and the Swagger UI talks to this server only (the spec, "Try it out").
const (
	swaggerCSP  = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	overviewCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)

// docAsset is one file served under /docs/.
type docAsset struct {
	name        string // the path under /docs/, e.g. "index.html"
	contentType string
	csp         string // Content-Security-Policy; "" for what is not a page
	body        []byte
	etag        string
}

// docAssets returns the files served under /docs/: the Swagger UI page
// (index.html) with its scripts, styles and licences, the spec (doc.json,
// the same bytes as /openapi.json) and the hand-written overview.
func docAssets() []docAsset {
	list := []docAsset{
		{name: "doc.json", contentType: "application/json", body: openAPIDoc},
		{name: "overview.html", contentType: "text/html; charset=utf-8", csp: overviewCSP, body: overviewPage},
	}
	entries, _ := swaggerFiles.ReadDir("swaggerui") // embedded: cannot fail
	for _, e := range entries {
		body, _ := swaggerFiles.ReadFile("swaggerui/" + e.Name())
		a := docAsset{name: e.Name(), contentType: contentTypeOf(e.Name()), body: body}
		if a.name == "index.html" {
			a.csp = swaggerCSP
		}
		list = append(list, a)
	}
	for i := range list {
		sum := sha256.Sum256(list[i].body)
		list[i].etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	}
	return list
}

// contentTypeOf is the Content-Type of an embedded file by its name;
// LICENSE, NOTICE and *.txt are plain text.
func contentTypeOf(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json":
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// docsRoutes adds the API description: /openapi.json, /docs/doc.json
// (python-executor's path of the spec), the Swagger UI at /docs/index.html
// with its files, the overview page, and /docs and /docs/, which redirect
// to the Swagger UI as python-executor's /docs does.
func (s *Server) docsRoutes(r *httprouter.Router) {
	r.GET("/openapi.json", s.handleOpenAPI)
	for _, a := range docAssets() {
		r.GET("/docs/"+a.name, serveAsset(a))
	}
	// Relative, so that it also works behind a proxy that adds a prefix.
	r.GET("/docs", redirectTo("docs/index.html"))
	r.GET("/docs/", redirectTo("index.html"))
}

// handleOpenAPI serves the OpenAPI 3 description of the API.
func (s *Server) handleOpenAPI(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(openAPIDoc)
}

// serveAsset serves one embedded file, answering conditional and range
// requests (http.ServeContent) by its ETag.
func serveAsset(a docAsset) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary may bring new files
		if a.csp != "" {
			h.Set("Content-Security-Policy", a.csp)
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	}
}

// redirectTo answers with a 302 to the relative URL to.
func redirectTo(to string) httprouter.Handle {
	return func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		w.Header().Set("Location", to)
		w.WriteHeader(http.StatusFound)
	}
}
