package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestProjectRequirements checks that a requirements.txt at the top of
// the project stands in for an absent requirements_txt, in /eval files
// and in /exec archives, with the field's rules.
func TestProjectRequirements(t *testing.T) {
	evalJob := func(files []api.File, field string) (Job, error) {
		body, err := json.Marshal(api.EvalRequest{Files: files, RequirementsTxt: field})
		if err != nil {
			t.Fatal(err)
		}
		return testDecoder(t).eval(body)
	}
	execJob := func(files []api.File, field string) (Job, error) {
		var entries []tarEntry
		for _, f := range files {
			entries = append(entries, tarEntry{name: f.Name, body: f.Content})
		}
		md, err := json.Marshal(api.Metadata{Entrypoint: files[0].Name, RequirementsTxt: field})
		if err != nil {
			t.Fatal(err)
		}
		body, ct := multipartBody(t, makeTar(t, entries...), string(md))
		return decodeExecBody(t, body, ct)
	}
	main := api.File{Name: "main.py", Content: "import widgets\n"}
	for _, d := range []struct {
		name   string
		decode func([]api.File, string) (Job, error)
		file   string // the project file's name
		where  string // how messages name it
	}{
		{"eval", evalJob, "requirements.txt", "files: requirements.txt"},
		{"exec", execJob, "./requirements.txt", "requirements.txt in the archive"},
	} {
		t.Run(d.name, func(t *testing.T) {
			for _, tt := range []struct {
				name  string
				files []api.File
				field string
				want  string // Requirements.Text()
			}{
				{"file", []api.File{main, {Name: d.file, Content: "\ufeffAcme_Widgets==1.0  # pinned\r\n-\r\n"}}, "", "acme-widgets==1.0\n"},
				{"white-space field is none", []api.File{main, {Name: d.file, Content: "acme-widgets"}}, " \n", "acme-widgets\n"},
				{"the field wins", []api.File{main, {Name: d.file, Content: "-e ."}}, "six", "six\n"},
				{"only at the top", []api.File{main, {Name: "sub/requirements.txt", Content: "six"}}, "", ""},
				{"no file", []api.File{main}, "", ""},
			} {
				t.Run(tt.name, func(t *testing.T) {
					job, err := d.decode(tt.files, tt.field)
					if err != nil {
						t.Fatal(err)
					}
					if got := job.Requirements.Text(); got != tt.want {
						t.Errorf("requirements %q, want %q", got, tt.want)
					}
					if tt.name == "file" && !job.Requirements.NoDetect {
						t.Error(`the file's "-" line did not turn detection off`)
					}
				})
			}
			for _, tt := range []struct {
				name, content, want string
			}{
				{"pip option", "six\n-r other.txt\n", d.where + `: line 2 "-r other.txt": pip options are not allowed`},
				{"URL", "https://evil.example/x.whl", d.where + ": line 1"},
				{"too big", strings.Repeat("#\n", maxRequirementsFileBytes/2+1), d.where + " is 1048578 bytes; the limit is 1048576 bytes"},
			} {
				if tt.name == "too big" && d.name == "eval" {
					continue // /eval's code limit (100 KiB) comes first
				}
				t.Run(tt.name, func(t *testing.T) {
					_, err := d.decode([]api.File{main, {Name: d.file, Content: tt.content}}, "")
					var re *requestError
					if !errors.As(err, &re) || re.Status != http.StatusBadRequest || !strings.HasPrefix(re.Msg, tt.want) {
						t.Errorf("err = %v, want a 400 starting %q", err, tt.want)
					}
				})
			}
		})
	}
}
