package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"

	"github.com/pyexec/pyexec/api"
)

// file is one file of a project: its path in /work and its text.
type file struct{ name, text string }

// multipartProject builds python-executor's exec body: a tar of files
// (main.py the entrypoint) and the metadata JSON.
func multipartProject(files []file) (io.Reader, string, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.text)), Typeflag: tar.TypeReg}); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write([]byte(f.text)); err != nil {
			return nil, "", err
		}
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

// tenFiles is python-executor's multifile_ten case: main.py imports nine
// modules and prints how many it loaded.
func tenFiles() []file {
	main := "results = []\n"
	var fs []file
	for i := 1; i <= 9; i++ {
		fs = append(fs, file{fmt.Sprintf("module%d.py", i), fmt.Sprintf("def func%d():\n    return 'module%d'\n", i, i)})
		main += fmt.Sprintf("from module%d import func%d\nresults.append(func%d())\n", i, i, i)
	}
	main += "print(f'Loaded {len(results)} modules')\n"
	return append([]file{{"main.py", main}}, fs...)
}
