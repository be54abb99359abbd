package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

// sessionRequest is a decoded POST /api/v1/sessions.
type sessionRequest struct {
	spec SessionSpec
	idle time.Duration
}

// session decodes and validates the body of POST /api/v1/sessions: the
// files, interpreter, requirements and limits as /eval takes them, plus
// idle_timeout_seconds (bounded by opts). Sessions run without network.
func (d *decoder) session(body []byte, opts SessionOptions) (sessionRequest, error) {
	var req api.SessionRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return sessionRequest{}, jsonError("the body", err)
	}
	if len(req.Files) > d.archive.maxEntries {
		return sessionRequest{}, tooManyFiles(d.archive.maxEntries)
	}
	var size int64
	for _, f := range req.Files {
		size += int64(len(f.Name) + len(f.Content))
	}
	if size > d.maxCodeBytes {
		return sessionRequest{}, tooLarge("the files (names included) are %d bytes; the limit is %d bytes", size, d.maxCodeBytes)
	}
	t := newTree()
	for i, f := range req.Files {
		name, err := cleanName(f.Name)
		if err != nil {
			return sessionRequest{}, badRequest("files[%d]: invalid file name %s: the path %v", i, quoteName(f.Name), err)
		}
		err = t.add(File{Path: name, Mode: 0o644, Data: []byte(f.Content)})
		if errors.Is(err, errDuplicate) {
			return sessionRequest{}, badRequest("files[%d]: duplicate file name %s", i, quoteName(f.Name))
		}
		if err != nil {
			return sessionRequest{}, badRequest("files[%d]: file name %s: %v", i, quoteName(f.Name), err)
		}
		if len(t.files) > d.archive.maxEntries {
			return sessionRequest{}, tooManyFiles(d.archive.maxEntries)
		}
	}
	interp, err := d.interps.Resolve(req.PythonVersion)
	if err != nil {
		return sessionRequest{}, &requestError{Status: http.StatusBadRequest, Msg: err.Error(), Err: err}
	}
	var cfg *api.Config
	idle := opts.IdleDefault
	if req.Config != nil {
		cfg = &req.Config.Config
		if n := req.Config.IdleTimeoutSeconds; n != nil {
			if *n < 1 || time.Duration(*n)*time.Second > opts.IdleMax {
				return sessionRequest{}, badRequest("config.idle_timeout_seconds must be between 1 and %d", int(opts.IdleMax/time.Second))
			}
			idle = time.Duration(*n) * time.Second
		}
		if cfg.NetworkDisabled != nil && !*cfg.NetworkDisabled {
			return sessionRequest{}, badRequest("config.network_disabled=false is not allowed for sessions: they run without network access")
		}
	}
	limits, err := d.limits.resolve(cfg)
	if err != nil {
		return sessionRequest{}, err
	}
	if err := checkDisk(t.files, limits); err != nil {
		return sessionRequest{}, err
	}
	reqs, err := jobRequirements("requirements_txt", req.RequirementsTxt, t, "files: requirements.txt")
	if err != nil {
		return sessionRequest{}, err
	}
	return sessionRequest{
		spec: SessionSpec{Interpreter: interp, Files: t.files, Requirements: reqs, Limits: limits, Grace: opts.Grace,
			Results: d.results},
		idle: idle,
	}, nil
}

// cell decodes POST /api/v1/sessions/{id}/eval. eval_last_expr defaults
// to true; timeout_seconds to the session's, clamped to the server's
// maximum.
func (d *decoder) cell(body []byte, def time.Duration) (CellRequest, error) {
	var req api.CellRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return CellRequest{}, jsonError("the body", err)
	}
	if req.Code == "" {
		return CellRequest{}, badRequest(`"code" is required`)
	}
	if int64(len(req.Code)) > d.maxCodeBytes {
		return CellRequest{}, tooLarge("the code is %d bytes; the limit is %d bytes", len(req.Code), d.maxCodeBytes)
	}
	outs, err := checkOutputPatterns("output_files", req.OutputFiles)
	if err != nil {
		return CellRequest{}, err
	}
	c := CellRequest{Code: []byte(req.Code), EvalLast: req.EvalLastExpr == nil || *req.EvalLastExpr,
		Stdin: []byte(req.Stdin), Timeout: def, OutputFiles: outs}
	if req.TimeoutSeconds != nil {
		n := *req.TimeoutSeconds
		if n < limits.MinTimeoutSeconds {
			return CellRequest{}, badRequest("timeout_seconds must be at least %d", limits.MinTimeoutSeconds)
		}
		c.Timeout = min(time.Duration(n)*time.Second, time.Duration(d.limits.max.TimeoutSeconds)*time.Second)
	}
	return c, nil
}
