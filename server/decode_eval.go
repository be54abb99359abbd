package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/interpreters/requirements"
)

// defaultEntrypoint is the file the "code" of an /eval request becomes.
const defaultEntrypoint = "main.py"

// decoder turns request bodies into validated Jobs. It does no HTTP, so it
// is tested with plain byte slices and readers.
type decoder struct {
	limits        limitPolicy
	interps       Interpreters
	maxCodeBytes  int64
	archive       archiveLimits
	detectImports bool
	results       ResultLimits
	// spoolDir is where uploads wait for their job (see spooled).
	spoolDir string
}

// eval decodes and validates the JSON body of POST /api/v1/eval. Unknown
// fields are ignored, as python-executor does.
func (d *decoder) eval(body []byte) (Job, error) {
	var req api.EvalRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return Job{}, jsonError("the body", err)
	}
	files := req.Files
	if len(files) > d.archive.maxEntries {
		return Job{}, tooManyFiles(d.archive.maxEntries)
	}
	var size int64
	for _, f := range files {
		size += int64(len(f.Name) + len(f.Content))
	}
	if len(files) == 0 {
		if req.Code == "" {
			return Job{}, badRequest(`either "code" or "files" is required`)
		}
		files = []api.File{{Name: defaultEntrypoint, Content: req.Code}}
		size = int64(len(req.Code))
	}
	if size > d.maxCodeBytes {
		return Job{}, tooLarge("the code (file names included) is %d bytes; the limit is %d bytes", size, d.maxCodeBytes)
	}

	t := newTree()
	for i, f := range files {
		name, err := cleanName(f.Name)
		if err != nil {
			return Job{}, badRequest("files[%d]: invalid file name %s: the path %v", i, quoteName(f.Name), err)
		}
		err = t.add(File{Path: name, Mode: 0o644, Data: []byte(f.Content)})
		if errors.Is(err, errDuplicate) {
			return Job{}, badRequest("files[%d]: duplicate file name %s", i, quoteName(f.Name))
		}
		if err != nil {
			return Job{}, badRequest("files[%d]: file name %s: %v", i, quoteName(f.Name), err)
		}
		if len(t.files) > d.archive.maxEntries {
			return Job{}, tooManyFiles(d.archive.maxEntries)
		}
	}

	entry := req.Entrypoint
	if entry == "" {
		entry = files[0].Name
	}
	clean, err := cleanName(entry)
	ok := err == nil
	if ok {
		_, ok = t.regular(clean)
	}
	if !ok {
		return Job{}, badRequest("entrypoint %s is not one of the files", quoteName(entry))
	}

	interp, err := d.interps.Resolve(req.PythonVersion)
	if err != nil {
		return Job{}, &requestError{Status: http.StatusBadRequest, Msg: err.Error(), Err: err}
	}
	limits, err := d.limits.resolve(req.Config)
	if err != nil {
		return Job{}, err
	}
	if err := checkDisk(t.files, limits); err != nil {
		return Job{}, err
	}
	reqs, err := jobRequirements("requirements_txt", req.RequirementsTxt, t, "files: requirements.txt")
	if err != nil {
		return Job{}, err
	}
	outs, err := checkOutputPatterns("output_files", req.OutputFiles)
	if err != nil {
		return Job{}, err
	}
	return Job{
		OutputFiles:   outs,
		Results:       d.results,
		Interpreter:   interp,
		Files:         t.files,
		Entrypoint:    clean,
		Stdin:         []byte(req.Stdin),
		Requirements:  reqs,
		DetectImports: d.detectImports,
		EvalLastExpr:  req.EvalLastExpr,
		Limits:        limits,
	}, nil
}

func tooManyFiles(n int) error {
	return badRequest("files: more than %d entries (counting the directories their names imply)", n)
}

// parseRequirements parses a requirements text and refuses one with a line
// that is not a plain requirement (pip options, URLs, paths, shell
// metacharacters), so that a request cannot steer pip.
func parseRequirements(field, text string) (requirements.List, error) {
	reqs, err := requirements.Parse(text)
	if err != nil {
		return requirements.List{}, &requestError{Status: http.StatusBadRequest, Msg: field + ": " + err.Error(), Err: err}
	}
	return reqs, nil
}

// jsonError describes a JSON decoding error of what for the client,
// without Go type names.
func jsonError(what string, err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	msg := what + " is not valid JSON"
	switch {
	case errors.As(err, &syntax):
		msg = fmt.Sprintf("%s is not valid JSON: %s (at byte %d)", what, syntax.Error(), syntax.Offset)
	case errors.As(err, &typ) && typ.Field != "":
		msg = fmt.Sprintf("%s: field %q must be %s, not %s", what, typ.Field, jsonKind(typ), typ.Value)
	case errors.As(err, &typ):
		msg = fmt.Sprintf("%s must be a JSON object, not %s", what, typ.Value)
	}
	return &requestError{Status: http.StatusBadRequest, Msg: msg, Err: err}
}

func jsonKind(e *json.UnmarshalTypeError) string {
	if e.Type == nil {
		return "another type"
	}
	switch e.Type.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "an object"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64:
		return "an integer"
	case reflect.Float64, reflect.Float32:
		return "a number"
	}
	return "another type"
}
