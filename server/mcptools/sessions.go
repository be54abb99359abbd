package mcptools

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/pyexec/pyexec/api"
)

// Sessions is what the session tools need of a pyexec server: the
// /api/v1/sessions endpoints. An error is a request the server refused
// (its message is shown to the model as is) or one that could not reach
// it.
type Sessions interface {
	CreateSession(ctx context.Context, req api.SessionRequest) (*api.Session, error)
	RunCell(ctx context.Context, id string, req api.CellRequest) (*api.CellResult, error)
	ListSessionFiles(ctx context.Context, id string) (*api.SessionFiles, error)
	GetSessionFile(ctx context.Context, id, path string) ([]byte, error)
	CloseSession(ctx context.Context, id string) (*api.Session, error)
}

// The session tools' names.
const (
	SessionCreateName = "session_create"
	SessionRunName    = "session_run"
	SessionFilesName  = "session_list_files"
	SessionFileName   = "session_get_file"
	SessionCloseName  = "session_close"
)

// maxFileText bounds a file shown as text in a tool result.
const maxFileText = 256 << 10

var (
	sessionCreateTool = &mcp.Tool{
		Name:  SessionCreateName,
		Title: "Start a Python session",
		Description: `Start a persistent Python session (like a Jupyter kernel) and return its session_id.

Unlike run_python, a session keeps its state between calls: variables, functions, imports, loaded data and the files in its working directory /work stay until the session is closed or has been idle too long (idle_timeout, default 10 minutes). Use it when you want to load or compute something once and inspect it over several steps. Run code in it with session_run, look at its files with session_list_files and session_get_file, and close it with session_close when you are done.

The session has no network access and limited memory (memory_mb, for everything it holds at once), disk and CPU. "files" are text files placed in /work at the start.`,
		Annotations: &mcp.ToolAnnotations{Title: "Start a Python session", DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}
	sessionRunTool = &mcp.Tool{
		Name:  SessionRunName,
		Title: "Run code in a Python session",
		Description: `Run Python code in a session started with session_create, like a notebook cell, and return what it printed.

The code runs in the session's one interpreter: it sees every variable, function and import of earlier calls, and what it defines stays for later calls. The working directory is /work. The result holds the cell's stdout and stderr and, when the last line is an expression, its repr() (so "df.shape" or "len(rows)" needs no print); matplotlib figures and rich results come back as images or text, as with run_python.

An exception ends only this cell (the result is an error with the traceback); the session and its state remain. A cell that runs longer than timeout (seconds) is interrupted with KeyboardInterrupt and its state is kept; one that does not stop after the interrupt, calls exit(), or exceeds the memory limit ends the session, and the result says so: start a new one then. Calls to one session run one after the other.

The session's files stay in /work (read them with session_get_file); "output_files" (glob patterns such as "*.png") also keeps the matching files with this cell's record and returns them as resource links with their download paths, which stay valid after the session is closed.`,
		Annotations: &mcp.ToolAnnotations{Title: "Run code in a Python session", DestructiveHint: ptr(false), OpenWorldHint: ptr(false)},
	}
	sessionFilesTool = &mcp.Tool{
		Name:        SessionFilesName,
		Title:       "List a session's files",
		Description: `List the files and directories in a session's working directory /work (paths relative to it, with sizes), such as files its code wrote.`,
		Annotations: &mcp.ToolAnnotations{Title: "List a session's files", ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}
	sessionFileTool = &mcp.Tool{
		Name:        SessionFileName,
		Title:       "Read a file of a session",
		Description: `Return one file of a session's working directory /work: text files as text (at most 256 KiB shown), PNG, JPEG, GIF and WebP images as images; for other binary files only their size and type. path is relative to /work, such as out/result.csv.`,
		Annotations: &mcp.ToolAnnotations{Title: "Read a file of a session", ReadOnlyHint: true, OpenWorldHint: ptr(false)},
	}
	sessionCloseTool = &mcp.Tool{
		Name:        SessionCloseName,
		Title:       "Close a Python session",
		Description: `Close a session started with session_create: its interpreter, state and files are gone. Close sessions you no longer need; a server has a limit on how many can be open at once.`,
		Annotations: &mcp.ToolAnnotations{Title: "Close a Python session", DestructiveHint: ptr(true), IdempotentHint: true, OpenWorldHint: ptr(false)},
	}
)

type sessionCreateInput struct {
	PythonVersion string      `json:"python_version,omitempty" jsonschema:"Python version, such as 3.12 or 3.11. Leave it out for the server's default."`
	Requirements  string      `json:"requirements,omitempty" jsonschema:"Packages to pip-install for the session, in requirements.txt format, one per line."`
	Files         []inputFile `json:"files,omitempty" jsonschema:"Text files placed in /work when the session starts: data, modules to import."`
	MemoryMB      int         `json:"memory_mb,omitempty" jsonschema:"Memory limit of the whole session in MB. Leave it out for the server's default."`
	IdleTimeout   int         `json:"idle_timeout,omitempty" jsonschema:"Seconds without a call after which the session ends. Leave it out for the server's default (600)."`
}

type sessionRunInput struct {
	SessionID   string   `json:"session_id" jsonschema:"The session_id session_create returned."`
	Code        string   `json:"code" jsonschema:"The Python code of the cell. Print what you want to see; the value of a final expression is returned as result."`
	Timeout     int      `json:"timeout,omitempty" jsonschema:"Seconds after which the cell is interrupted (KeyboardInterrupt; the session's state stays). Leave it out for the server's default."`
	OutputFiles []string `json:"output_files,omitempty" jsonschema:"Glob patterns relative to /work of files the code writes that you want back, such as *.csv or out/**/*.png (** spans directories). When the call ends the matching files are kept on the server (bounded in count and total size) and listed in the result as resource links whose URI is the file's download path on the pyexec server (GET it with the same credentials)."`
}

type sessionIDInput struct {
	SessionID string `json:"session_id" jsonschema:"The session_id session_create returned."`
}

type sessionFileInput struct {
	SessionID string `json:"session_id" jsonschema:"The session_id session_create returned."`
	Path      string `json:"path" jsonschema:"The file's path relative to /work, such as out/result.csv."`
}

// SessionTools are the session tools over ss.
func SessionTools(ss Sessions) Tool {
	return func(s *mcp.Server) {
		mcp.AddTool(s, sessionCreateTool, func(ctx context.Context, _ *mcp.CallToolRequest, in sessionCreateInput) (*mcp.CallToolResult, any, error) {
			req := api.SessionRequest{PythonVersion: in.PythonVersion, RequirementsTxt: in.Requirements}
			for _, f := range in.Files {
				req.Files = append(req.Files, api.File{Name: f.Name, Content: f.Content})
			}
			if in.MemoryMB < 0 || in.IdleTimeout < 0 {
				return errorResult(`"memory_mb" and "idle_timeout" must be positive`), nil, nil
			}
			if in.MemoryMB > 0 || in.IdleTimeout > 0 {
				req.Config = &api.SessionConfig{}
				if in.MemoryMB > 0 {
					req.Config.MemoryMB = ptr(in.MemoryMB)
				}
				if in.IdleTimeout > 0 {
					req.Config.IdleTimeoutSeconds = ptr(in.IdleTimeout)
				}
			}
			ses, err := ss.CreateSession(ctx, req)
			if err != nil {
				return refused(ctx, "pyexec did not start the session: ", err)
			}
			return textResult(fmt.Sprintf("session_id: %s\nPython %s, memory %d MB, idle timeout %d s, cell timeout %d s by default. Run code with session_run.",
				ses.SessionID, ses.PythonVersion, ses.Limits.MemoryMB, ses.Limits.IdleTimeoutSeconds, ses.Limits.TimeoutSeconds)), nil, nil
		})
		mcp.AddTool(s, sessionRunTool, func(ctx context.Context, _ *mcp.CallToolRequest, in sessionRunInput) (*mcp.CallToolResult, any, error) {
			if strings.TrimSpace(in.Code) == "" {
				return errorResult(`"code" is empty: give the Python code to run`), nil, nil
			}
			if in.Timeout < 0 {
				return errorResult(`"timeout" must be a positive number of seconds`), nil, nil
			}
			req := api.CellRequest{Code: in.Code, OutputFiles: in.OutputFiles}
			if in.Timeout > 0 {
				req.TimeoutSeconds = ptr(in.Timeout)
			}
			c, err := ss.RunCell(ctx, in.SessionID, req)
			if err != nil {
				return refused(ctx, "pyexec did not run the cell: ", err)
			}
			res := recordResult(&c.Execution)
			if c.SessionReason != "" && c.SessionState != api.SessionIdle && c.SessionState != api.SessionBusy {
				res.Content = append(res.Content, &mcp.TextContent{Text: "The session has ended (" + c.SessionState + "): " + c.SessionReason +
					". Its state is gone; start a new one with session_create."})
			}
			return res, nil, nil
		})
		mcp.AddTool(s, sessionFilesTool, func(ctx context.Context, _ *mcp.CallToolRequest, in sessionIDInput) (*mcp.CallToolResult, any, error) {
			list, err := ss.ListSessionFiles(ctx, in.SessionID)
			if err != nil {
				return refused(ctx, "pyexec did not list the files: ", err)
			}
			if len(list.Files) == 0 {
				return textResult("/work is empty."), nil, nil
			}
			var b strings.Builder
			for _, f := range list.Files {
				switch f.Kind {
				case "file":
					fmt.Fprintf(&b, "%s (%d bytes)\n", f.Path, f.Size)
				case "dir":
					fmt.Fprintf(&b, "%s/\n", f.Path)
				default:
					fmt.Fprintf(&b, "%s (%s)\n", f.Path, f.Kind)
				}
			}
			return textResult(b.String()), nil, nil
		})
		mcp.AddTool(s, sessionFileTool, func(ctx context.Context, _ *mcp.CallToolRequest, in sessionFileInput) (*mcp.CallToolResult, any, error) {
			b, err := ss.GetSessionFile(ctx, in.SessionID, in.Path)
			if err != nil {
				return refused(ctx, "pyexec did not read the file: ", err)
			}
			return fileResult(in.Path, b), nil, nil
		})
		mcp.AddTool(s, sessionCloseTool, func(ctx context.Context, _ *mcp.CallToolRequest, in sessionIDInput) (*mcp.CallToolResult, any, error) {
			ses, err := ss.CloseSession(ctx, in.SessionID)
			if err != nil {
				return refused(ctx, "pyexec did not close the session: ", err)
			}
			return textResult(fmt.Sprintf("session %s is %s after %d cell(s).", ses.SessionID, ses.State, ses.CellsRun)), nil, nil
		})
	}
}

// fileResult shows a file: an image as an image, text as text (bounded),
// anything else by its size and type.
func fileResult(path string, b []byte) *mcp.CallToolResult {
	mime := http.DetectContentType(b)
	switch {
	case mime == "image/png" || mime == "image/jpeg" || mime == "image/gif" || mime == "image/webp":
		return &mcp.CallToolResult{Content: []mcp.Content{&mcp.ImageContent{MIMEType: mime, Data: b}}}
	case utf8.Valid(b) && !strings.ContainsRune(string(b), 0):
		if len(b) > maxFileText {
			cut := maxFileText
			for cut > 0 && !utf8.RuneStart(b[cut]) {
				cut--
			}
			return textResult(fmt.Sprintf("%s (first %d of %d bytes):\n%s", path, cut, len(b), b[:cut]))
		}
		return textResult(path + ":\n" + string(b))
	}
	return textResult(fmt.Sprintf("%s is a binary file of %d bytes (%s); read it with code in session_run.", path, len(b), mime))
}

// refused is the tool result of a request the server refused (or nil and
// the context's error when the call was cancelled).
func refused(ctx context.Context, what string, err error) (*mcp.CallToolResult, any, error) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil, nil, ctx.Err()
	}
	return errorResult(what + err.Error()), nil, nil
}

func textResult(s string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: s}}}
}
