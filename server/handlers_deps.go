package server

import (
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"
	"github.com/pyexec/pyexec/api"
)

// Layers is the cache of installed requirements, as the server sees it.
// The server declares it; package runner adapts the dependency cache to it.
type Layers interface {
	// List describes the layers, most recently used first.
	List() []api.Layer
	// Remove deletes a layer. It returns an error wrapping
	// ErrLayerNotFound for an unknown key and ErrLayerInUse while a run
	// holds the layer or it is being built.
	Remove(key string) error
}

// Errors of Layers.Remove that the API answers with 404 and 409.
var (
	ErrLayerNotFound = errors.New("layer not found")
	ErrLayerInUse    = errors.New("layer in use")
)

// handleListLayers serves GET /api/v1/deps.
func (s *Server) handleListLayers(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	body := api.Layers{Layers: []api.Layer{}}
	if s.opts.Layers != nil {
		if list := s.opts.Layers.List(); list != nil {
			body.Layers = list
		}
	}
	writeJSON(w, http.StatusOK, body)
}

// handleRemoveLayer serves DELETE /api/v1/deps/:key.
func (s *Server) handleRemoveLayer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	key := ps.ByName("key")
	shown := key
	if len(shown) > 80 {
		shown = shown[:77] + "..."
	}
	err := ErrLayerNotFound
	if s.opts.Layers != nil {
		err = s.opts.Layers.Remove(key)
	}
	switch {
	case err == nil:
		s.log.Info("layer removed by request", "key", key)
		writeJSON(w, http.StatusOK, api.LayerRemoved{Key: key, Status: "removed"})
	case errors.Is(err, ErrLayerNotFound):
		writeError(w, http.StatusNotFound, "no layer with key "+shown)
	case errors.Is(err, ErrLayerInUse):
		writeError(w, http.StatusConflict,
			"layer "+shown+" is in use by a running execution or being built; retry when it is idle")
	default:
		s.fail(w, r, err)
	}
}
