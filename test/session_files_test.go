package test

// Output files of session cells (ours): a cell's output_files are kept
// with its record, which is kept as an execution's.

import (
	"context"
	"net/http"
	"testing"

	"github.com/pyexec/pyexec/api"
)

// TestSessionOutputFiles: files one cell wrote are kept by a later cell
// that names them (regular files only, no link followed), listed in its
// result, downloadable from /api/v1/executions/{id}/files/{path}, plain
// and streamed; every cell's record is an execution's; a cell that names
// no patterns keeps none.
func TestSessionOutputFiles(t *testing.T) {
	s := sharedServer(t)
	id := s.openSession(t, api.SessionRequest{})
	first := s.cell(t, id, writeFilesCode, 0)
	if first.Status != api.StatusCompleted || len(first.OutputFiles) != 0 {
		t.Fatalf("writing cell: %s", describeCell(first))
	}
	req := api.CellRequest{Code: "print('kept')", OutputFiles: []string{"out/**", "*.log"}}
	status, raw := s.postJSON(t, "/api/v1/sessions/"+id+"/eval", req)
	if status != http.StatusOK {
		t.Fatalf("cell with output_files: %d %s", status, raw)
	}
	kept := decode[api.CellResult](t, raw)
	checkKept(t, s, kept.Execution)
	rec := decode[api.Execution](t, s.do(t, http.MethodGet, "/api/v1/executions/"+kept.ExecutionID, "", nil).Body)
	if rec.Status != api.StatusCompleted || rec.Stdout != "kept\n" || len(rec.OutputFiles) != len(wantFiles) {
		t.Fatalf("the cell's execution record: %s", describe(rec))
	}
	checkKept(t, s, rec)
	if r := s.do(t, http.MethodGet, "/api/v1/executions/"+first.ExecutionID, "", nil); r.Status != http.StatusOK {
		t.Errorf("the first cell's record: %d %s", r.Status, r.Body)
	}
	// Streamed: the done event's result lists them too.
	res, err := newClient(t, s).RunCellStream(context.Background(), id,
		api.CellRequest{Code: "open('out/a.txt', 'a').write('more\\n')", OutputFiles: []string{"out/a.txt"}}, nil)
	if err != nil || len(res.OutputFiles) != 1 || res.OutputFiles[0].Size != int64(len("alpha\nmore\n")) {
		t.Fatalf("streamed cell with output_files: %v %+v", err, res)
	}
	if r := s.download(t, res.ExecutionID, "out/a.txt"); r.Status != http.StatusOK || string(r.Body) != "alpha\nmore\n" {
		t.Errorf("download of the streamed cell's file: %d %q", r.Status, r.Body)
	}
	if c := s.cell(t, id, "1", 0); len(c.OutputFiles) != 0 || c.OutputFilesNote != "" {
		t.Errorf("a cell without patterns kept %+v %q", c.OutputFiles, c.OutputFilesNote)
	}
	if status, raw := s.postJSON(t, "/api/v1/sessions/"+id+"/eval", api.CellRequest{Code: "1", OutputFiles: []string{"/etc/*"}}); status != http.StatusBadRequest {
		t.Errorf("an absolute pattern: %d %s", status, raw)
	}
}
