package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/client"
)

func ExampleClient_Eval() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL) // e.g. "http://localhost:8080"
	if err != nil {
		log.Fatal(err)
	}
	rec, err := c.Eval(context.Background(), api.EvalRequest{
		Code:         "print('hello')\n2 + 2",
		EvalLastExpr: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rec.Stdout)
	if r, ok := rec.ResultString(); ok {
		fmt.Println("result:", r)
	}
	// Output:
	// hello
	// result: 4
}

func ExampleClient_ExecSync() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	tarball, err := client.TarFromMap(map[string]string{
		"main.py":         "from lib.greet import hello\nhello()\n",
		"lib/greet.py":    "def hello():\n    print('hello from a project')\n",
		"lib/__init__.py": "",
	})
	if err != nil {
		log.Fatal(err)
	}
	timeout := 10
	rec, err := c.ExecSync(context.Background(), bytes.NewReader(tarball), api.Metadata{
		Entrypoint: "main.py",
		Config:     &api.Config{TimeoutSeconds: &timeout},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s, exit %d: %s", rec.Status, *rec.ExitCode, rec.Stdout)
	// Output:
	// completed, exit 0: hello from a project
}

func ExampleClient_Wait() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	tarball, err := client.TarFromMap(map[string]string{"job.py": "print('slow job done')\n"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	id, err := c.ExecAsync(ctx, bytes.NewReader(tarball), api.Metadata{Entrypoint: "job.py"})
	if err != nil {
		log.Fatal(err)
	}
	// Wait long-polls with ?wait= and falls back to polling on servers
	// that answer at once.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	rec, err := c.Wait(ctx, id, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(rec.Status, ": ", rec.Stdout)
	// Output:
	// completed: slow job done
}

func ExampleClient_Kill() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	status, err := c.Kill(context.Background(), "exe_running")
	fmt.Println(status, err)
	_, err = c.Kill(context.Background(), "exe_unknown")
	fmt.Println(client.IsNotFound(err))
	// Output:
	// killed <nil>
	// true
}

func ExampleAPIError() {
	srv := fakeServer()
	defer srv.Close()

	c, err := client.New(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	memory := 1 << 20
	_, err = c.Eval(context.Background(), api.EvalRequest{
		Code:   "print(1)",
		Config: &api.Config{MemoryMB: &memory},
	})
	var ae *client.APIError
	if errors.As(err, &ae) {
		fmt.Println(ae.StatusCode, ae.Message)
	}
	// Output:
	// 400 config.memory_mb must be between 16 and 8192
}

func ExampleDetectEntrypoint() {
	for _, names := range [][]string{
		{"util.py", "main.py", "__main__.py"},
		{"setup.py", "src/main.py"},
		{"b.py", "a.py", "lib/0.py"},
	} {
		ep, err := client.DetectEntrypoint(names)
		fmt.Println(ep, err)
	}
	// Output:
	// main.py <nil>
	// src/main.py <nil>
	// a.py <nil>
}

// fakeServer answers like a pyexec server would for the examples above,
// without running anything.
func fakeServer() *httptest.Server {
	reply := func(w http.ResponseWriter, code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	zero := 0
	done := func(stdout string) api.Execution {
		return api.Execution{ExecutionID: "exe_1", Status: api.StatusCompleted, Stdout: stdout, ExitCode: &zero}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/eval", func(w http.ResponseWriter, r *http.Request) {
		var req api.EvalRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		if req.Config != nil && req.Config.MemoryMB != nil && *req.Config.MemoryMB > 8192 {
			reply(w, 400, api.Error{Error: "config.memory_mb must be between 16 and 8192"})
			return
		}
		rec := done("hello\n")
		rec.Result = json.RawMessage(`"4"`)
		reply(w, 200, rec)
	})
	mux.HandleFunc("POST /api/v1/exec/sync", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		reply(w, 200, done("hello from a project\n"))
	})
	mux.HandleFunc("POST /api/v1/exec/async", func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseMultipartForm(1 << 20)
		reply(w, 202, api.Accepted{ExecutionID: "exe_1"})
	})
	mux.HandleFunc("GET /api/v1/executions/{id}", func(w http.ResponseWriter, r *http.Request) {
		reply(w, 200, done("slow job done\n"))
	})
	mux.HandleFunc("DELETE /api/v1/executions/{id}", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.PathValue("id"), "running") {
			reply(w, 404, api.Error{Error: "execution not found"})
			return
		}
		reply(w, 200, api.KillResponse{Status: api.StatusKilled})
	})
	return httptest.NewServer(mux)
}
