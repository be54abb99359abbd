package api

import "time"

// Session states (ours). A live session is idle or busy; the others are
// final and say how it ended.
const (
	SessionIdle    = "idle"    // waiting for a cell
	SessionBusy    = "busy"    // a cell or a file transfer is running
	SessionClosed  = "closed"  // DELETE /api/v1/sessions/{id}, or the server's shutdown
	SessionExited  = "exited"  // the code ended it: SystemExit, os._exit, a crash
	SessionKilled  = "killed"  // a cell did not stop within the grace after its interrupt
	SessionOOM     = "oom"     // the memory limit ended it
	SessionExpired = "expired" // idle past idle_timeout_seconds, or past the server's maximum life
)

// SessionConfig is a session's config: the run limits (timeout_seconds is
// the default timeout of each cell) plus idle_timeout_seconds.
type SessionConfig struct {
	Config
	// IdleTimeoutSeconds ends the session after this long without a cell
	// or a file transfer. Nil: the server's default; above the server's
	// maximum: 400.
	IdleTimeoutSeconds *int `json:"idle_timeout_seconds,omitempty"`
}

// SessionRequest is the body of POST /api/v1/sessions.
type SessionRequest struct {
	PythonVersion   string         `json:"python_version,omitempty"`
	RequirementsTxt string         `json:"requirements_txt,omitempty"`
	Files           []File         `json:"files,omitempty"` // placed in /work, as /eval's
	Config          *SessionConfig `json:"config,omitempty"`
}

// SessionLimits are the limits a session runs with.
type SessionLimits struct {
	MemoryMB           int     `json:"memory_mb"` // the whole session's
	DiskMB             int     `json:"disk_mb"`   // each of /work and /tmp
	CPUShares          int     `json:"cpu_shares"`
	CPULimit           float64 `json:"cpu_limit,omitempty"`
	PidsLimit          int     `json:"pids_limit"`
	MaxOutputBytes     int64   `json:"max_output_bytes"` // per stream and cell
	TimeoutSeconds     int     `json:"timeout_seconds"`  // a cell's default
	IdleTimeoutSeconds int     `json:"idle_timeout_seconds"`
}

// Session describes a session: the body of POST /api/v1/sessions (201),
// GET and DELETE /api/v1/sessions/{id}.
type Session struct {
	SessionID     string        `json:"session_id"`
	State         string        `json:"state"`
	Reason        string        `json:"reason,omitempty"`    // why it ended, when it did
	ExitCode      *int          `json:"exit_code,omitempty"` // once it ended
	PythonVersion string        `json:"python_version"`
	CreatedAt     time.Time     `json:"created_at"`
	LastUsedAt    time.Time     `json:"last_used_at"`
	EndedAt       *time.Time    `json:"ended_at,omitempty"`
	CellsRun      int           `json:"cells_run"`
	Limits        SessionLimits `json:"limits"`
	Usage         *Usage        `json:"usage,omitempty"` // the whole session's so far
}

// Sessions is the body of GET /api/v1/sessions: the caller's sessions.
type Sessions struct {
	Sessions []Session `json:"sessions"`
}

// CellRequest is the body of POST /api/v1/sessions/{id}/eval.
type CellRequest struct {
	Code string `json:"code"`
	// EvalLastExpr reports the repr() of a trailing expression in result.
	// Nil: true (unlike /eval).
	EvalLastExpr *bool `json:"eval_last_expr,omitempty"`
	// TimeoutSeconds interrupts the cell (KeyboardInterrupt) past it. Nil:
	// the session's timeout_seconds; above the server's maximum: the
	// maximum.
	TimeoutSeconds *int   `json:"timeout_seconds,omitempty"`
	Stdin          string `json:"stdin,omitempty"`
	// OutputFiles: as EvalRequest.OutputFiles, matched in the session's
	// /work when the cell ends; kept with the cell's record.
	OutputFiles []string `json:"output_files,omitempty"`
}

// CellResult is the body of POST /api/v1/sessions/{id}/eval: a record as
// /eval returns it (execution_id names the cell; the record is kept, as a
// run's, for GET /api/v1/executions/{id} and its output files), plus the
// session's state after the cell.
type CellResult struct {
	Execution
	SessionID     string `json:"session_id"`
	Cell          int    `json:"cell"` // 1 for the session's first
	SessionState  string `json:"session_state"`
	SessionReason string `json:"session_reason,omitempty"` // when the cell ended the session
}

// SessionFile is one entry of a session's /work.
type SessionFile struct {
	Path string `json:"path"`
	Kind string `json:"kind"` // "file", "dir", "symlink" or "other"
	Size int64  `json:"size"` // of a regular file
}

// SessionFiles is the body of GET /api/v1/sessions/{id}/files.
type SessionFiles struct {
	Files []SessionFile `json:"files"`
}

// SessionFilePut is the body of PUT /api/v1/sessions/{id}/files/{path}.
type SessionFilePut struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}
