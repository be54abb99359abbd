package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// registeredRoutes returns "method path" for every route this package's
// source registers on an httprouter.Router named r with a literal path, in
// the spec's form ("get /api/v1/executions/{id}"). Routes whose path is
// computed (the Swagger UI's files) are not in it.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`/[:*]([A-Za-z0-9_]+)`)
	var out []string
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			recv, ok := sel.X.(*ast.Ident)
			if !ok || recv.Name != "r" ||
				!slices.Contains([]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}, sel.Sel.Name) {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			path, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			if path == "/docs/" { // the same redirect as /docs
				return true
			}
			out = append(out, strings.ToLower(sel.Sel.Name)+" "+param.ReplaceAllString(path, "/{$1}"))
			return true
		})
	}
	slices.Sort(out)
	return out
}

// openAPI is the part of an OpenAPI 3 document the test checks.
type openAPI struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

type operation struct {
	OperationID string            `json:"operationId"`
	Responses   map[string]any    `json:"responses"`
	Parameters  []openAPIParamRef `json:"parameters"`
}

type openAPIParamRef struct {
	Name     string         `json:"name"`
	In       string         `json:"in"`
	Required bool           `json:"required"`
	Schema   map[string]any `json:"schema"`
	Ref      string         `json:"$ref"`
}

func TestOpenAPIDocument(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	res := s.get(t, "/openapi.json")
	if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/openapi.json: %d %s", res.status, res.header.Get("Content-Type"))
	}
	spec := s.get(t, "/docs/doc.json")
	if spec.status != http.StatusOK || spec.header.Get("Content-Type") != "application/json" ||
		!bytes.Equal(spec.body, res.body) {
		t.Errorf("/docs/doc.json: %d %s, same bytes as /openapi.json: %v",
			spec.status, spec.header.Get("Content-Type"), bytes.Equal(spec.body, res.body))
	}

	var doc openAPI
	res.decode(t, &doc)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	// The spec's operations are exactly the router's: its routes with a
	// literal path, and the files served under /docs/, each with a path of
	// its own in the spec or in the enum of /docs/{file}.
	routes := registeredRoutes(t)
	if !slices.Contains(routes, "post /api/v1/eval") {
		t.Fatalf("found no route POST /api/v1/eval in the source: %v", routes)
	}
	var fileOp struct {
		Parameters []openAPIParamRef `json:"parameters"`
	}
	if err := json.Unmarshal(doc.Paths["/docs/{file}"]["get"], &fileOp); err != nil || len(fileOp.Parameters) != 1 {
		t.Fatalf("GET /docs/{file}: %v, parameters %+v", err, fileOp.Parameters)
	}
	enum, _ := fileOp.Parameters[0].Schema["enum"].([]any)
	var ops []string // the spec's, with /docs/{file} spelled out
	for path, item := range doc.Paths {
		for m := range item {
			switch {
			case m == "parameters" || m == "summary" || m == "description":
			case path == "/docs/{file}":
				for _, f := range enum {
					ops = append(ops, fmt.Sprintf("%s /docs/%v", m, f))
				}
			default:
				ops = append(ops, m+" "+path)
			}
		}
	}
	for _, a := range docAssets() {
		routes = append(routes, "get /docs/"+a.name)
	}
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("the spec lacks %s, which the router serves", r)
		}
	}
	for _, o := range ops {
		if !slices.Contains(routes, o) {
			t.Errorf("the spec has %s, which the router does not serve", o)
		}
	}
	ids := map[string]string{}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	for path, ops := range doc.Paths {
		var shared []openAPIParamRef // the path item's own parameters, for all its operations
		if raw, ok := ops["parameters"]; ok {
			if err := json.Unmarshal(raw, &shared); err != nil {
				t.Errorf("%s parameters: %v", path, err)
			}
		}
		for m, raw := range ops {
			if m == "parameters" || m == "summary" || m == "description" {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Errorf("%s %s: %v", m, path, err)
				continue
			}
			if op.OperationID == "" || ids[op.OperationID] != "" {
				t.Errorf("%s %s: operationId %q empty or also used by %s", m, path, op.OperationID, ids[op.OperationID])
			}
			ids[op.OperationID] = m + " " + path
			if len(op.Responses) == 0 {
				t.Errorf("%s %s has no responses", m, path)
			}
			// Every template of the path is a required path parameter.
			for _, name := range param.FindAllStringSubmatch(path, -1) {
				if !slices.ContainsFunc(append(shared, op.Parameters...), func(p openAPIParamRef) bool {
					return p.Name == name[1] && p.In == "path" && p.Required
				}) {
					t.Errorf("%s %s does not declare the path parameter %q as required", m, path, name[1])
				}
			}
		}
	}

	// Every $ref points at something in the document.
	var tree any
	res.decode(t, &tree)
	for _, ref := range refs(tree) {
		if !resolves(tree, ref) {
			t.Errorf("$ref %q resolves to nothing", ref)
		}
	}
}

// refs returns every "$ref" value under v.
func refs(v any) []string {
	var out []string
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				out = append(out, s)
			}
			out = append(out, refs(x)...)
		}
	case []any:
		for _, x := range v {
			out = append(out, refs(x)...)
		}
	}
	return out
}

// resolves reports whether the local reference "#/a/b" names a value of doc.
func resolves(doc any, ref string) bool {
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	cur := doc
	for part := range strings.SplitSeq(rest, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func TestDocsRoutes(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	tests := []struct {
		path, contentType string
		csp               bool   // a page: has a Content-Security-Policy
		contains          string // in the body
	}{
		{"/docs/index.html", "text/html; charset=utf-8", true, `<div id="swagger-ui">`},
		{"/docs/overview.html", "text/html; charset=utf-8", true, "/api/v1/eval"},
		{"/docs/doc.json", "application/json", false, `"openapi"`},
		{"/docs/swagger-initializer.js", "text/javascript; charset=utf-8", false, `url: "doc.json"`},
		{"/docs/swagger-ui-bundle.js", "text/javascript; charset=utf-8", false, "SwaggerUIBundle"},
		{"/docs/swagger-ui.css", "text/css; charset=utf-8", false, ".swagger-ui"},
		{"/docs/LICENSE", "text/plain; charset=utf-8", false, "Apache License"},
		{"/docs/NOTICE", "text/plain; charset=utf-8", false, "SmartBear"},
		{"/docs/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8", false, "license"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := s.get(t, tt.path)
			if res.status != http.StatusOK || res.header.Get("Content-Type") != tt.contentType {
				t.Fatalf("%d %q, want 200 %q", res.status, res.header.Get("Content-Type"), tt.contentType)
			}
			if res.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
			if csp := res.header.Get("Content-Security-Policy"); tt.csp != (csp != "") ||
				tt.csp && !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if !strings.Contains(string(res.body), tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			etag := res.header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			req, _ := http.NewRequest(http.MethodGet, s.URL+tt.path, nil)
			req.Header.Set("If-None-Match", etag)
			cached, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			cached.Body.Close()
			if cached.StatusCode != http.StatusNotModified {
				t.Errorf("If-None-Match: %d, want 304", cached.StatusCode)
			}
		})
	}

	t.Run("redirects", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for path, want := range map[string]string{"/docs": "docs/index.html", "/docs/": "index.html"} {
			res, err := c.Get(s.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusFound || res.Header.Get("Location") != want {
				t.Errorf("GET %s: %d Location %q, want 302 %q", path, res.StatusCode, res.Header.Get("Location"), want)
			}
		}
		// Followed, both end at the Swagger UI.
		if res := s.get(t, "/docs"); res.status != http.StatusOK || !strings.Contains(string(res.body), "swagger-ui-bundle.js") {
			t.Errorf("GET /docs, followed: %d %.100s", res.status, res.body)
		}
	})

	t.Run("pages load only files of this server", func(t *testing.T) {
		link := regexp.MustCompile(`(?:src|href)="([^"]*)"`)
		for _, page := range []string{"/docs/index.html", "/docs/overview.html"} {
			body := string(s.get(t, page).body)
			for _, m := range link.FindAllStringSubmatch(body, -1) {
				u := m[1]
				if u == "data:," {
					continue
				}
				if strings.Contains(u, ":") || strings.HasPrefix(u, "//") {
					t.Errorf("%s links %q, off this server", page, u)
					continue
				}
				target := "/docs/" + u
				if rest, ok := strings.CutPrefix(u, "../"); ok {
					target = "/" + rest
				}
				if res := s.get(t, target); res.status != http.StatusOK {
					t.Errorf("%s links %q: GET %s is %d", page, u, target, res.status)
				}
			}
		}
	})

	t.Run("unknown file", func(t *testing.T) {
		res := s.get(t, "/docs/swagger-ui.js")
		if res.status != http.StatusNotFound || res.errorMsg(t) != "not found" {
			t.Errorf("%d %s", res.status, res.body)
		}
	})
}
