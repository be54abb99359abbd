package server

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"mime/multipart"
	"slices"
	"strings"
	"testing"
)

// decodeExecBody runs the multipart decoder over an in-memory body and
// reads the job's files from its spooled upload, as a worker does.
func decodeExecBody(t *testing.T, body []byte, contentType string) (Job, error) {
	t.Helper()
	_, boundary, ok := strings.Cut(contentType, "boundary=")
	if !ok {
		t.Fatalf("no boundary in %q", contentType)
	}
	d := testDecoder(t)
	job, err := d.exec(multipart.NewReader(bytes.NewReader(body), boundary))
	if err != nil {
		return job, err
	}
	if job.Files != nil || job.archive == nil {
		t.Fatalf("the decoded job has %d files and spool %v, want none and a spool", len(job.Files), job.archive)
	}
	if err := d.loadFiles(&job); err != nil {
		t.Fatalf("loadFiles: %v", err)
	}
	return job, nil
}

func TestDecodeExec(t *testing.T) {
	archive := makeTar(t, tarEntry{name: "main.py", body: "print(1)"}, tarEntry{name: "lib/x.py", body: "X=1"})
	t.Run("every field", func(t *testing.T) {
		body, ct := multipartBody(t, archive, `{"entrypoint":"./main.py","docker_image":"python:3.10-bookworm",
			"requirements_txt":"requests","pre_commands":["echo hi"],"stdin":"input","env_vars":["A=1","B=x=y","C="],
			"script_args":["--n","3"],"config":{"timeout_seconds":5},"docker_image_extra":null}`)
		job, err := decodeExecBody(t, body, ct)
		if err != nil {
			t.Fatal(err)
		}
		if job.Entrypoint != "main.py" || job.Interpreter.Series != "3.10" || job.Requirements.Text() != "requests\n" ||
			string(job.Stdin) != "input" || job.Limits.Timeout.Seconds() != 5 || job.DetectImports {
			t.Errorf("job = %+v", job)
		}
		if !slices.Equal(job.PreCommands, []string{"echo hi"}) || !slices.Equal(job.Env, []string{"A=1", "B=x=y", "C="}) ||
			!slices.Equal(job.Args, []string{"--n", "3"}) {
			t.Errorf("lists = %q %q %q", job.PreCommands, job.Env, job.Args)
		}
		if len(job.Files) != 3 {
			t.Errorf("files = %+v", job.Files)
		}
	})
	t.Run("python_version wins over docker_image", func(t *testing.T) {
		body, ct := multipartBody(t, archive, `{"entrypoint":"main.py","docker_image":"python:3.10-slim","python_version":"3.11"}`)
		job, err := decodeExecBody(t, body, ct)
		if err != nil || job.Interpreter.Series != "3.11" {
			t.Errorf("interpreter = %+v, %v", job.Interpreter, err)
		}
	})
	t.Run("gzip archive and nulls from the python client", func(t *testing.T) {
		body, ct := multipartBody(t, gzipped(t, archive), `{"entrypoint":"lib/x.py","docker_image":null,"pre_commands":null,"config":{"timeout_seconds":300,"memory_mb":1024,"disk_mb":2048,"cpu_shares":1024,"network_disabled":true}}`)
		job, err := decodeExecBody(t, body, ct)
		if err != nil || job.Entrypoint != "lib/x.py" || job.Interpreter.Series != "3.12" {
			t.Errorf("job = %+v, %v", job, err)
		}
	})
	t.Run("metadata as a file part, before the tar", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("metadata", "metadata.json")
		fw.Write([]byte(`{"entrypoint":"main.py"}`))
		mw.WriteField("other", "ignored")
		fw, _ = mw.CreateFormFile("tar", "code.tar")
		fw.Write(archive)
		mw.Close()
		if _, err := decodeExecBody(t, buf.Bytes(), mw.FormDataContentType()); err != nil {
			t.Error(err)
		}
	})
}

func TestDecodeExecRejects(t *testing.T) {
	archive := makeTar(t, tarEntry{name: "main.py", body: "print(1)"}, tarEntry{name: "d/", typ: tar.TypeDir},
		tarEntry{name: "link.py", typ: tar.TypeSymlink, linkname: "main.py"})
	tests := []struct {
		name     string
		archive  []byte
		metadata string
		want     string
	}{
		{"missing tar", nil, `{"entrypoint":"main.py"}`, `missing multipart part "tar"`},
		{"missing metadata", archive, "-", `missing multipart part "metadata"`},
		{"bad metadata JSON", archive, `{"entrypoint":`, `the "metadata" part is not valid JSON`},
		{"empty metadata", archive, ``, `the "metadata" part is not valid JSON`},
		{"metadata wrong type", archive, `{"entrypoint":"main.py","env_vars":"A=1"}`, `field "env_vars" must be an array`},
		{"no entrypoint", archive, `{}`, "metadata.entrypoint is required"},
		{"entrypoint missing", archive, `{"entrypoint":"app.py"}`, `metadata.entrypoint "app.py" is not a regular file`},
		{"entrypoint a dir", archive, `{"entrypoint":"d"}`, `metadata.entrypoint "d"`},
		{"entrypoint a symlink", archive, `{"entrypoint":"link.py"}`, `metadata.entrypoint "link.py"`},
		{"entrypoint outside", archive, `{"entrypoint":"../main.py"}`, `metadata.entrypoint "../main.py"`},
		{"env without =", archive, `{"entrypoint":"main.py","env_vars":["A=1","NOPE"]}`, `metadata.env_vars[1] "NOPE" must have the form KEY=value`},
		{"env empty key", archive, `{"entrypoint":"main.py","env_vars":["=x"]}`, `metadata.env_vars[0] "=x"`},
		{"NUL in args", archive, `{"entrypoint":"main.py","script_args":["a\u0000b"]}`, "metadata.script_args[0] contains a NUL byte"},
		{"unknown image", archive, `{"entrypoint":"main.py","docker_image":"ubuntu:22.04"}`, "available"},
		{"unknown version", archive, `{"entrypoint":"main.py","python_version":"3.9"}`, "available"},
		{"bad limit", archive, `{"entrypoint":"main.py","config":{"pids_limit":1}}`, "config.pids_limit must be between 8 and 4096"},
		{"not a tar", []byte(strings.Repeat("nope", 200)), `{"entrypoint":"main.py"}`, `the "tar" part is not a valid tar`},
		{"unsafe entry", makeTar(t, tarEntry{name: "../evil.py", body: "x"}), `{"entrypoint":"main.py"}`, `archive entry "../evil.py"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.archive, tt.metadata)
			_, err := decodeExecBody(t, body, ct)
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a request error", err)
			}
			if re.Status != 400 || !strings.Contains(re.Msg, tt.want) {
				t.Errorf("got %d %q, want 400 containing %q", re.Status, re.Msg, tt.want)
			}
		})
	}
	t.Run("duplicate tar part", func(t *testing.T) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for range 2 {
			fw, _ := mw.CreateFormFile("tar", "code.tar")
			fw.Write(archive)
		}
		mw.Close()
		_, err := decodeExecBody(t, buf.Bytes(), mw.FormDataContentType())
		if err == nil || !strings.Contains(err.Error(), "more than once") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestDecodeExecClientLimits(t *testing.T) {
	archive := makeTar(t, tarEntry{name: "main.py", body: "print(1)"})
	big := strings.Repeat("v", 128<<10)
	quote := func(items ...string) string {
		b, err := json.Marshal(items)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	many := make([]string, 9)
	for i := range many {
		many[i] = "K=" + big[:120<<10-2]
	}
	tests := []struct {
		name     string
		archive  []byte
		metadata string
		status   int
		want     string
	}{
		{"env var over 128 KiB", archive, `{"entrypoint":"main.py","env_vars":` + quote("A=1", "B="+big) + `}`, 400,
			"metadata.env_vars[1] is 131074 bytes; the limit is 131071 bytes"},
		{"script arg over 128 KiB", archive, `{"entrypoint":"main.py","script_args":` + quote(big) + `}`, 400,
			"metadata.script_args[0] is 131072 bytes"},
		{"pre_command over 128 KiB", archive, `{"entrypoint":"main.py","pre_commands":` + quote("echo "+big) + `}`, 400,
			"metadata.pre_commands[0] is"},
		{"args and env over 1 MiB", archive, `{"entrypoint":"main.py","script_args":` + quote(many[:5]...) +
			`,"env_vars":` + quote(many[:4]...) + `}`, 400, "metadata.env_vars: the strings of metadata.script_args, metadata.env_vars and metadata.pre_commands add up to more than 1048576 bytes"},
		{"files over disk_mb", makeTar(t, tarEntry{name: "main.py", body: strings.Repeat("x", 1<<20+1)}),
			`{"entrypoint":"main.py","config":{"disk_mb":1}}`, 413, "config.disk_mb allows 1 MB"},
		{"metadata part over 8 MiB", archive, `{"entrypoint":"main.py","stdin":"` + strings.Repeat("x", 8<<20) + `"}`, 413,
			`the "metadata" part is larger than the limit of 8388608 bytes`},
		{"entrypoint too long", archive, `{"entrypoint":"` + strings.Repeat("e", 5000) + `"}`, 400, `metadata.entrypoint "eee`},
		{"env var too long to repeat", archive, `{"entrypoint":"main.py","env_vars":` + quote(big[:1000]) + `}`, 400, `metadata.env_vars[0] "vvv`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(t, tt.archive, tt.metadata)
			_, err := decodeExecBody(t, body, ct)
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a request error", err)
			}
			if re.Status != tt.status || !strings.Contains(re.Msg, tt.want) {
				t.Errorf("got %d %q, want %d containing %q", re.Status, re.Msg, tt.status, tt.want)
			}
			if len(re.Msg) > 400 {
				t.Errorf("the message repeats %d bytes of the request", len(re.Msg))
			}
		})
	}
	t.Run("at the limits", func(t *testing.T) {
		md := `{"entrypoint":"main.py","script_args":` + quote(big[:128<<10-1]) + `,"env_vars":` + quote(many[:7]...) +
			`,"config":{"disk_mb":1}}`
		files := makeTar(t, tarEntry{name: "main.py", body: strings.Repeat("x", 1<<20)})
		body, ct := multipartBody(t, files, md)
		if _, err := decodeExecBody(t, body, ct); err != nil {
			t.Error(err)
		}
	})
}
