package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pyexec/pyexec/api"
)

// sessionCells starts a session and runs n trivial cells in it
// back-to-back (after a few of warm-up), returning each cell's client
// time and its duration_ms; the session is closed at the end.
func sessionCells(s *server, n int) (client, server []time.Duration, err error) {
	post := func(path string, body any, want int, out any) error {
		b, _ := json.Marshal(body)
		resp, err := s.hc.Post(s.url+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != want {
			return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, raw)
		}
		return json.Unmarshal(raw, out)
	}
	var ses api.Session
	if err := post("/api/v1/sessions", api.SessionRequest{}, http.StatusCreated, &ses); err != nil {
		return nil, nil, fmt.Errorf("session: %w", err)
	}
	defer func() {
		req, _ := http.NewRequest(http.MethodDelete, s.url+"/api/v1/sessions/"+ses.SessionID, nil)
		if resp, err := s.hc.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	cell := api.CellRequest{Code: "x = 1"}
	for i := range n + 5 {
		start := time.Now()
		var c api.CellResult
		if err := post("/api/v1/sessions/"+ses.SessionID+"/eval", cell, http.StatusOK, &c); err != nil {
			return nil, nil, fmt.Errorf("session cell: %w", err)
		}
		if c.Status != api.StatusCompleted {
			return nil, nil, fmt.Errorf("session cell: %s %s", c.Status, c.Error)
		}
		if i >= 5 {
			client = append(client, time.Since(start))
			server = append(server, time.Duration(c.DurationMS)*time.Millisecond)
		}
	}
	return client, server, nil
}
