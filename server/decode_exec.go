package server

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// Multipart part names of /exec/sync and /exec/async.
const (
	partTar      = "tar"
	partMetadata = "metadata"
)

// maxMetadataBytes bounds the "metadata" part (413 past it).
const maxMetadataBytes = 8 << 20

// exec decodes and validates the multipart body of /exec/sync and
// /exec/async: a "tar" file part and a "metadata" JSON part, in any order.
// Other parts are ignored. The archive is spooled as it arrived and
// checked without keeping its data: the Job has no Files until
// loadFiles, and whoever gets it must Close it.
func (d *decoder) exec(mr *multipart.Reader) (job Job, err error) {
	var (
		t     *tree
		meta  []byte
		spool *spooled
	)
	defer func() {
		if err != nil {
			spool.Close()
		}
	}()
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Job{}, &requestError{Status: http.StatusBadRequest,
				Msg: "the body is not a valid multipart/form-data message", Err: err}
		}
		switch part.FormName() {
		case partTar:
			if t != nil {
				return Job{}, badRequest("the %q part appears more than once", partTar)
			}
			if spool, err = newSpooled(d.spoolDir); err != nil {
				return Job{}, err
			}
			if _, err := io.Copy(spool, part); err != nil {
				return Job{}, &requestError{Status: http.StatusBadRequest,
					Msg: `the "tar" part could not be read`, Err: err}
			}
			if t, err = scanArchive(spool.reader(), d.archive); err != nil {
				var re *requestError
				if errors.As(err, &re) {
					return Job{}, err
				}
				return Job{}, &requestError{Status: http.StatusBadRequest,
					Msg: `the "tar" part is not a valid tar or gzip-compressed tar archive`, Err: err}
			}
		case partMetadata:
			if meta != nil {
				return Job{}, badRequest("the %q part appears more than once", partMetadata)
			}
			if meta, err = io.ReadAll(io.LimitReader(part, maxMetadataBytes+1)); err != nil {
				return Job{}, &requestError{Status: http.StatusBadRequest,
					Msg: `the "metadata" part could not be read`, Err: err}
			}
			if len(meta) > maxMetadataBytes {
				return Job{}, tooLarge("the %q part is larger than the limit of %d bytes", partMetadata, maxMetadataBytes)
			}
			if meta == nil {
				meta = []byte{}
			}
		}
		part.Close()
	}
	if t == nil {
		return Job{}, badRequest("missing multipart part %q (the project as a tar archive)", partTar)
	}
	if meta == nil {
		return Job{}, badRequest("missing multipart part %q (a JSON object)", partMetadata)
	}
	var md api.Metadata
	if err := json.Unmarshal(meta, &md); err != nil {
		return Job{}, jsonError(`the "metadata" part`, err)
	}
	job, err = d.metadataJob(md, t)
	if err != nil {
		return Job{}, err
	}
	job.Files, job.archive = nil, spool // the scanned tree has no data
	return job, nil
}

// metadataJob validates md against the archive's tree and builds the Job.
func (d *decoder) metadataJob(md api.Metadata, t *tree) (Job, error) {
	if md.Entrypoint == "" {
		return Job{}, badRequest("metadata.entrypoint is required")
	}
	entry, err := cleanName(md.Entrypoint)
	ok := err == nil
	if ok {
		_, ok = t.regular(entry)
	}
	if !ok {
		return Job{}, badRequest("metadata.entrypoint %s is not a regular file in the archive", quoteName(md.Entrypoint))
	}

	selector := md.PythonVersion
	if selector == "" {
		selector = md.DockerImage
	}
	interp, err := d.interps.Resolve(selector)
	if err != nil {
		return Job{}, &requestError{Status: http.StatusBadRequest, Msg: err.Error(), Err: err}
	}

	for i, kv := range md.EnvVars {
		key, _, found := strings.Cut(kv, "=")
		if !found || key == "" || strings.ContainsRune(kv, 0) {
			return Job{}, badRequest("metadata.env_vars[%d] %s must have the form KEY=value", i, quoteName(kv))
		}
	}
	for _, list := range []struct {
		name  string
		items []string
	}{{"script_args", md.ScriptArgs}, {"pre_commands", md.PreCommands}} {
		for i, s := range list.items {
			if strings.ContainsRune(s, 0) {
				return Job{}, badRequest("metadata.%s[%d] contains a NUL byte", list.name, i)
			}
		}
	}

	err = checkArgs(argList{"metadata.script_args", md.ScriptArgs}, argList{"metadata.env_vars", md.EnvVars},
		argList{"metadata.pre_commands", md.PreCommands})
	if err != nil {
		return Job{}, err
	}

	limits, err := d.limits.resolve(md.Config)
	if err != nil {
		return Job{}, err
	}
	if err := checkDisk(t.files, limits); err != nil {
		return Job{}, err
	}
	reqs, err := jobRequirements("metadata.requirements_txt", md.RequirementsTxt, t, "requirements.txt in the archive")
	if err != nil {
		return Job{}, err
	}
	outs, err := checkOutputPatterns("metadata.output_files", md.OutputFiles)
	if err != nil {
		return Job{}, err
	}
	return Job{
		OutputFiles:  outs,
		Results:      d.results,
		Interpreter:  interp,
		Files:        t.files,
		Entrypoint:   entry,
		Args:         md.ScriptArgs,
		Env:          md.EnvVars,
		Stdin:        []byte(md.Stdin),
		PreCommands:  md.PreCommands,
		Requirements: reqs,
		Limits:       limits,
	}, nil
}
