package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"

	"github.com/pyexec/pyexec/client/api"
)

// multipartProject builds python-executor's exec body: a tar holding
// main.py and the metadata JSON.
func multipartProject(code string) (io.Reader, string, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	if err := tw.WriteHeader(&tar.Header{Name: "main.py", Mode: 0o644, Size: int64(len(code))}); err != nil {
		return nil, "", err
	}
	if _, err := tw.Write([]byte(code)); err != nil {
		return nil, "", err
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	meta, _ := json.Marshal(api.Metadata{Entrypoint: "main.py"})
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("tar", "project.tar")
	if err != nil {
		return nil, "", err
	}
	if _, err := fw.Write(tb.Bytes()); err != nil {
		return nil, "", err
	}
	if err := mw.WriteField("metadata", string(meta)); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return &body, mw.FormDataContentType(), nil
}
