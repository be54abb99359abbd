package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pyexec/pyexec/api"
)

func TestCheckOutputPatterns(t *testing.T) {
	for _, tt := range []struct {
		pat string
		ok  bool
	}{
		{"out.txt", true}, {"out/*.png", true}, {"**", true}, {"**/*.csv", true}, {"a/**/b/*", true},
		{".hidden", true}, {"[ab]?.txt", true},
		{"", false}, {"/etc/passwd", false}, {"/work/x", false}, {"..", false}, {"../x", false},
		{"a/../b", false}, {"./a", false}, {"a/.", false}, {"a//b", false}, {"a/", false},
		{"[", false}, {"a\x00b", false}, {"a\nb", false}, {strings.Repeat("a", maxPathBytes+1), false},
	} {
		_, err := checkOutputPatterns("output_files", []string{tt.pat})
		if (err == nil) != tt.ok {
			t.Errorf("%q: err %v, want ok %v", tt.pat, err, tt.ok)
		}
		var re *requestError
		if err != nil && (!asRequestError(err, &re) || re.Status != http.StatusBadRequest || !strings.HasPrefix(re.Msg, "output_files[0]: ")) {
			t.Errorf("%q: %v, want a 400 naming output_files[0]", tt.pat, err)
		}
	}
	if _, err := checkOutputPatterns("output_files", make([]string, maxOutputPatterns+1)); err == nil {
		t.Errorf("%d patterns accepted", maxOutputPatterns+1)
	}
}

func TestMatchOutput(t *testing.T) {
	for _, tt := range []struct {
		pat, path string
		want      bool
	}{
		{"*.txt", "a.txt", true}, {"*.txt", "d/a.txt", false}, {"*", ".env", true},
		{"**", "a", true}, {"**", "a/b/c", true}, {"**/*.png", "x.png", true}, {"**/*.png", "a/b/x.png", true},
		{"out/**", "out/a", true}, {"out/**", "out/a/b", true}, {"out/**", "other/a", false}, {"out/**", "out", true},
		{"a/**/b", "a/b", true}, {"a/**/b", "a/x/y/b", true}, {"a/**/b", "a/x/y/c", false},
		{"f?.csv", "f1.csv", true}, {"f?.csv", "f10.csv", false}, {"[ab].txt", "b.txt", true},
	} {
		if got := matchOutput([]string{tt.pat}, tt.path); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pat, tt.path, got, tt.want)
		}
	}
}

func asRequestError(err error, re **requestError) bool {
	r, ok := err.(*requestError)
	*re = r
	return ok
}

func TestFillDisplay(t *testing.T) {
	job := Job{Results: ResultLimits{DisplayItems: 3, DisplayBytes: 10}}
	o := Outcome{DisplayDropped: 1, Display: []DisplayData{
		{api.MimePNG, []byte("\x89PNG")},    // 4 bytes
		{"application/x-evil", []byte("x")}, // not a display type: ignored
		{api.MimeJSON, []byte("{bad")},      // invalid JSON: ignored
		{api.MimeHTML, []byte("<b>hi</b>")}, // 9 bytes: past the 10 together
		{api.MimeMarkdown, []byte("# h")},   // fits
		{api.MimeJSON, []byte("[1]")},       // fits in bytes... 4+3+3 = 10
		{api.MimeSVG, []byte("<svg/>")},     // past the count
	}}
	var e api.Execution
	fillDisplay(&e, job, o)
	var mimes []string
	for _, d := range e.Display {
		mimes = append(mimes, d.Mime)
	}
	if strings.Join(mimes, " ") != "image/png text/markdown application/json" {
		t.Errorf("display %v", mimes)
	}
	if b, _ := e.Display[0].Bytes(); string(b) != "\x89PNG" || string(e.Display[0].Data) != `"iVBORw=="` {
		t.Errorf("png %q data %s", b, e.Display[0].Data)
	}
	if string(e.Display[2].Data) != "[1]" {
		t.Errorf("json data %s, want the value itself", e.Display[2].Data)
	}
	if !strings.HasPrefix(e.DisplayNote, "3 display item(s) left out: a run offers at most 3, of 10 bytes") {
		t.Errorf("note %q", e.DisplayNote)
	}
}

func TestKeptFiles(t *testing.T) {
	job := Job{OutputFiles: []string{"out/**", "*.log"}, Results: ResultLimits{Files: 3, FileBytes: 10}}
	o := Outcome{FilesDropped: 2, Files: []FileData{
		{"out/a", []byte("aaaa")},
		{"/etc/passwd", []byte("root")},   // not clean: ignored
		{"out/../x.log", []byte("x")},     // not clean: ignored
		{"other/b", []byte("b")},          // no pattern matches: ignored
		{"out/a", []byte("again")},        // twice: ignored
		{"run.log", []byte("0123456789")}, // past the bytes
		{"out/c/d", []byte("dd")},
		{"x.log", []byte("x")},
		{"y.log", []byte("y")}, // past the count
	}}
	kept, dropped := keptFiles(job, o)
	var paths []string
	for _, f := range kept {
		paths = append(paths, f.Path)
	}
	if strings.Join(paths, " ") != "out/a out/c/d x.log" || dropped != 4 {
		t.Errorf("kept %v, dropped %d; want out/a out/c/d x.log, 4", paths, dropped)
	}
	if kept, _ := keptFiles(Job{}, o); kept != nil {
		t.Errorf("a job without output_files kept %v", kept)
	}
}

// TestOutputFilesServed: a run's files are kept with the record, listed,
// downloadable with their type, unknown ones 404, and they go with the
// record; a store on disk keeps them across a restart.
func TestOutputFilesServed(t *testing.T) {
	dir := t.TempDir()
	runner := &fakeRunner{fn: func(_ context.Context, job Job) (Outcome, error) {
		return Outcome{Files: []FileData{{"out/a.txt", []byte("alpha")}, {"out/b.bin", []byte{0, 1, 2}}},
			Display: []DisplayData{{api.MimeHTML, []byte("<p>x</p>")}}}, nil
	}}
	opts := Options{RecordsDir: dir, Results: ResultLimits{DisplayItems: 4, DisplayBytes: 1 << 20, Files: 4, FileBytes: 1 << 20}}
	s := newTestServer(t, opts, runner)
	res := s.postJSON(t, "/api/v1/eval", `{"code": "x", "output_files": ["out/*"]}`)
	var e api.Execution
	res.decode(t, &e)
	sum := sha256.Sum256([]byte("alpha"))
	if len(e.OutputFiles) != 2 || e.OutputFiles[0] != (api.OutputFile{Path: "out/a.txt", Size: 5, SHA256: hex.EncodeToString(sum[:])}) {
		t.Fatalf("output_files %+v", e.OutputFiles)
	}
	if len(e.Display) != 1 || string(e.Display[0].Data) != `"\u003cp\u003ex\u003c/p\u003e"` && string(e.Display[0].Data) != `"<p>x</p>"` {
		t.Errorf("display %+v", e.Display)
	}
	if jobs := runner.Jobs(); jobs[0].OutputFiles[0] != "out/*" || jobs[0].Results != opts.Results {
		t.Errorf("job output_files %v results %+v", jobs[0].OutputFiles, jobs[0].Results)
	}
	check := func(s *testServer) {
		t.Helper()
		r := s.get(t, "/api/v1/executions/"+e.ExecutionID+"/files/out/a.txt")
		if r.status != 200 || string(r.body) != "alpha" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") ||
			r.header.Get("X-Content-Type-Options") != "nosniff" || !strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
			t.Errorf("GET out/a.txt: %d %q %v", r.status, r.body, r.header)
		}
		r = s.get(t, "/api/v1/executions/"+e.ExecutionID+"/files/out/b.bin")
		if r.status != 200 || !bytes.Equal(r.body, []byte{0, 1, 2}) || r.header.Get("Content-Type") != "application/octet-stream" {
			t.Errorf("GET out/b.bin: %d %q %v", r.status, r.body, r.header)
		}
		for _, p := range []string{"out/c", "a.txt", "out/a.txt/", "../out/a.txt"} {
			if r := s.get(t, "/api/v1/executions/"+e.ExecutionID+"/files/"+p); r.status != 404 || !strings.Contains(r.errorMsg(t), "kept no output file") {
				t.Errorf("GET %s: %d %s", p, r.status, r.body)
			}
		}
		if r := s.get(t, "/api/v1/executions/exe_none/files/out/a.txt"); r.status != 404 || r.errorMsg(t) != "execution not found" {
			t.Errorf("unknown execution: %d %s", r.status, r.body)
		}
	}
	check(s)
	// A second server on the same records dir (after the first's close).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = s.Shutdown(ctx)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := newTestServer(t, opts, runner)
	check(s2)
}

// TestOutputFilesGoWithRecords: a record dropped (its TTL passed) takes
// its files along, and orphans are removed when the store opens.
func TestOutputFilesGoWithRecords(t *testing.T) {
	dir := t.TempDir()
	files, err := openFileStore(dir, newTextLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := files.save("exe_orphan", []FileData{{"a", []byte("a")}}); err != nil {
		t.Fatal(err)
	}
	kept, err := files.save("exe_kept", []FileData{{"a", []byte("a")}, {"b/c", []byte("bc")}})
	if err != nil || len(kept) != 2 || kept[1].Size != 2 {
		t.Fatalf("save: %+v %v", kept, err)
	}
	files.removeOrphans(map[string]bool{"exe_kept": true})
	if _, err := files.open("exe_orphan", 0); err == nil {
		t.Error("an orphan's files were kept")
	}
	f, err := files.open("exe_kept", 1)
	if err != nil {
		t.Fatalf("kept files removed: %v", err)
	}
	f.Close()
	files.remove("exe_kept")
	if _, err := files.open("exe_kept", 1); err == nil {
		t.Error("removed files still there")
	}
	temp, err := openFileStore("", newTextLogger(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	if err := temp.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordStoreDropsFiles: a record that expires takes its output files
// along; its size counts them.
func TestRecordStoreDropsFiles(t *testing.T) {
	for _, mode := range storeModes {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			files, err := openFileStore(dir, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			clock := &fakeClock{now: time.Unix(1000, 0)}
			s := testStore(t, mode, dir, storeConfig{max: 10, ttl: time.Hour, now: clock.Now, files: files})
			put(t, s, "a")
			kept, err := s.SaveFiles("a", []FileData{{"f.txt", []byte("12345")}})
			if err != nil {
				t.Fatal(err)
			}
			update(t, s, "a", func(e *api.Execution) { finish(e); e.OutputFiles = kept })
			if f, _, err := s.OpenFile("a", "f.txt"); err != nil {
				t.Fatalf("OpenFile: %v", err)
			} else {
				f.Close()
			}
			if _, _, err := s.OpenFile("a", "g.txt"); !errors.Is(err, errNoFile) {
				t.Errorf("OpenFile of an unlisted file: %v", err)
			}
			if got := s.Bytes(); got != recordOverhead+5 {
				t.Errorf("bytes %d, want %d", got, recordOverhead+5)
			}
			clock.Advance(2 * time.Hour)
			s.Sweep()
			if _, err := os.Stat(filepath.Join(dir, filesDirName, "a")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the expired record's files are still there: %v", err)
			}
		})
	}
}
