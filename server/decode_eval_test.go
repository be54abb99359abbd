package server

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"
)

func TestDecodeEval(t *testing.T) {
	t.Run("code", func(t *testing.T) {
		job, err := testDecoder(t).eval([]byte(`{"code":"print(1)","stdin":"in","eval_last_expr":true,
			"requirements_txt":"numpy","python_version":"3.11","unknown_field":1}`))
		if err != nil {
			t.Fatal(err)
		}
		if job.Entrypoint != "main.py" || len(job.Files) != 1 || string(job.Files[0].Data) != "print(1)" ||
			job.Files[0].Mode != 0o644 {
			t.Errorf("files = %+v, entrypoint %q", job.Files, job.Entrypoint)
		}
		if string(job.Stdin) != "in" || !job.EvalLastExpr || job.Requirements.Text() != "numpy\n" || job.Interpreter.Version != "3.11.7" {
			t.Errorf("job = %+v", job)
		}
		if job.Limits.Timeout.Seconds() != 300 {
			t.Errorf("limits = %+v", job.Limits)
		}
	})
	t.Run("files win over code", func(t *testing.T) {
		job, err := testDecoder(t).eval([]byte(`{"code":"ignored","files":[
			{"name":"pkg/util.py","content":"X = 1"},{"name":"app.py","content":"import pkg.util"}],
			"entrypoint":"./app.py"}`))
		if err != nil {
			t.Fatal(err)
		}
		var paths []string
		for _, f := range job.Files {
			paths = append(paths, f.Path)
		}
		if got := strings.Join(paths, ","); got != "pkg,pkg/util.py,app.py" {
			t.Errorf("paths = %s", got)
		}
		if !job.Files[0].Mode.IsDir() || job.Files[0].Mode&fs.ModePerm != 0o755 {
			t.Errorf("parent dir mode = %v", job.Files[0].Mode)
		}
		if job.Entrypoint != "app.py" {
			t.Errorf("entrypoint = %q", job.Entrypoint)
		}
	})
	t.Run("first file is the default entrypoint", func(t *testing.T) {
		job, err := testDecoder(t).eval([]byte(`{"files":[{"name":"b.py","content":""},{"name":"a.py","content":""}]}`))
		if err != nil || job.Entrypoint != "b.py" {
			t.Errorf("entrypoint = %q, %v", job.Entrypoint, err)
		}
	})
	t.Run("auto-detection flag", func(t *testing.T) {
		d := testDecoder(t)
		d.detectImports = true
		job, err := d.eval([]byte(`{"code":"import numpy","requirements_txt":"-"}`))
		if err != nil || !job.DetectImports || !job.Requirements.NoDetect {
			t.Errorf("job = %+v, %v", job, err)
		}
	})
}

func TestDecodeEvalRejects(t *testing.T) {
	big := strings.Repeat("x", 100<<10+1)
	tests := []struct {
		name   string
		body   string
		status int
		want   string
	}{
		{"empty body", ``, 400, "not valid JSON"},
		{"bad JSON", `{"code":`, 400, "not valid JSON"},
		{"trailing garbage", `{"code":"1"} x`, 400, "not valid JSON"},
		{"not an object", `[1,2]`, 400, "must be a JSON object"},
		{"wrong type", `{"code":1}`, 400, `field "code" must be a string`},
		{"wrong config type", `{"code":"1","config":{"timeout_seconds":"5"}}`, 400, `"config.timeout_seconds" must be an integer`},
		{"nothing to run", `{}`, 400, `either "code" or "files" is required`},
		{"empty code", `{"code":""}`, 400, `either "code" or "files" is required`},
		{"absolute name", `{"files":[{"name":"/etc/x.py","content":""}]}`, 400, `files[0]: invalid file name "/etc/x.py"`},
		{"dot dot name", `{"files":[{"name":"a.py","content":""},{"name":"../x.py","content":""}]}`, 400, `files[1]: invalid file name "../x.py"`},
		{"empty name", `{"files":[{"name":"","content":""}]}`, 400, `files[0]: invalid file name ""`},
		{"duplicate name", `{"files":[{"name":"a.py","content":""},{"name":"./a.py","content":""}]}`, 400, `files[1]: duplicate file name "./a.py"`},
		{"file and dir", `{"files":[{"name":"a","content":""},{"name":"a/b.py","content":""}]}`, 400, `"a" is not a directory`},
		{"entrypoint not a file", `{"code":"1","entrypoint":"app.py"}`, 400, `entrypoint "app.py" is not one of the files`},
		{"entrypoint is a dir", `{"files":[{"name":"a/b.py","content":""}],"entrypoint":"a"}`, 400, `entrypoint "a"`},
		{"unknown python", `{"code":"1","python_version":"2.7"}`, 400, "available: 3.12, 3.11, 3.10"},
		{"bad limit", `{"code":"1","config":{"memory_mb":1}}`, 400, "config.memory_mb must be between 16 and 8192"},
		{"network", `{"code":"1","config":{"network_disabled":false}}`, 400, "network_disabled"},
		{"code too large", `{"code":"` + big + `"}`, 413, "the limit is 102400 bytes"},
		{"files too large", `{"files":[{"name":"a.py","content":"` + big[:60000] + `"},{"name":"b.py","content":"` + big[:60000] + `"}]}`, 413, "120008 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := testDecoder(t).eval([]byte(tt.body))
			var re *requestError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want a request error", err)
			}
			if re.Status != tt.status || !strings.Contains(re.Msg, tt.want) {
				t.Errorf("got %d %q, want %d containing %q", re.Status, re.Msg, tt.status, tt.want)
			}
			if strings.Contains(re.Msg, "server.") || strings.Contains(re.Msg, "api.") {
				t.Errorf("message %q names Go types", re.Msg)
			}
			if re.Status != http.StatusBadRequest && re.Status != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d", re.Status)
			}
		})
	}
}

func TestDecodeEvalLimits(t *testing.T) {
	// evalFiles is an /eval body with n files called name(i).
	evalFiles := func(n int, name func(int) string, config string) string {
		var b strings.Builder
		b.WriteString(`{"files":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":%q,"content":"x"}`, name(i))
		}
		b.WriteString(`],"config":` + config + `}`)
		return b.String()
	}
	flat := func(i int) string { return fmt.Sprintf("f%d.py", i) }
	tests := []struct {
		name       string
		maxEntries int // 0: the default
		body       string
		status     int
		want       string
	}{
		// Refused for their number before their size (130 KB of names and code).
		{"too many files", 0, evalFiles(10001, func(i int) string { return fmt.Sprintf("file%05d.py", i) }, `{}`), 400,
			"files: more than 10000 entries"},
		{"implied directories count", 3, evalFiles(1, func(int) string { return "a/b/c/d.py" }, `{}`), 400, "files: more than 3 entries"},
		{"name too long", 0, evalFiles(1, func(int) string { return strings.Repeat("a/", 2048) + "f" }, `{}`), 400, "files[0]: invalid file name \"a/a/"},
		{"component too long", 0, evalFiles(1, func(int) string { return strings.Repeat("x", 256) }, `{}`), 400, "component longer than 255 bytes"},
		{"names count as code", 0, evalFiles(30, func(i int) string {
			return fmt.Sprintf("%02d/%sf", i, strings.Repeat(strings.Repeat("x", 250)+"/", 15)) // 3770 bytes
		}, `{}`), 413, "the limit is 102400 bytes"},
		{"files over disk_mb", 0, evalFiles(300, flat, `{"disk_mb":1}`), 413, "config.disk_mb allows 1 MB"},
		{"entrypoint too long", 0, `{"code":"1","entrypoint":"` + strings.Repeat("e", 5000) + `"}`, 400, "entrypoint \"eee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDecoder(t)
			if tt.maxEntries > 0 {
				d.archive.maxEntries = tt.maxEntries
			}
			_, err := d.eval([]byte(tt.body))
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
	t.Run("files that fit disk_mb", func(t *testing.T) {
		if _, err := testDecoder(t).eval([]byte(evalFiles(256, flat, `{"disk_mb":1}`))); err != nil {
			t.Errorf("256 one-byte files in 1 MB: %v", err)
		}
	})
}
