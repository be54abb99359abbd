package api

import (
	"encoding/json"
	"time"
)

// Status values of an execution record.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed" // the code ran to its end, whatever its exit code
	StatusFailed    = "failed"    // could not run, or stopped by a limit
	StatusKilled    = "killed"    // stopped by DELETE /api/v1/executions/{id}
)

// File is one source file of a multi-file /eval request.
type File struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// Config carries the per-request limits. A nil field means "the server's
// default". Fields up to NetworkDisabled are python-executor's; the rest are
// pyexec's additions.
type Config struct {
	TimeoutSeconds  *int  `json:"timeout_seconds,omitempty"`
	MemoryMB        *int  `json:"memory_mb,omitempty"`
	DiskMB          *int  `json:"disk_mb,omitempty"`
	CPUShares       *int  `json:"cpu_shares,omitempty"`
	NetworkDisabled *bool `json:"network_disabled,omitempty"`

	CPULimit       *float64 `json:"cpu_limit,omitempty"`        // cores, e.g. 0.5
	PidsLimit      *int     `json:"pids_limit,omitempty"`       // processes and threads
	MaxOutputBytes *int64   `json:"max_output_bytes,omitempty"` // per stream
}

// EvalRequest is the body of POST /api/v1/eval.
type EvalRequest struct {
	Code            string  `json:"code,omitempty"`
	Files           []File  `json:"files,omitempty"`
	Entrypoint      string  `json:"entrypoint,omitempty"`
	Stdin           string  `json:"stdin,omitempty"`
	PythonVersion   string  `json:"python_version,omitempty"`
	EvalLastExpr    bool    `json:"eval_last_expr,omitempty"`
	RequirementsTxt string  `json:"requirements_txt,omitempty"`
	Config          *Config `json:"config,omitempty"`
	// OutputFiles (ours) are glob patterns relative to /work ("**" spans
	// directories) of files to keep with the record (Execution.OutputFiles).
	OutputFiles []string `json:"output_files,omitempty"`
}

// Metadata is the JSON "metadata" part of POST /api/v1/exec/sync and /exec/async.
type Metadata struct {
	Entrypoint      string   `json:"entrypoint"`
	DockerImage     string   `json:"docker_image,omitempty"`
	PythonVersion   string   `json:"python_version,omitempty"`
	RequirementsTxt string   `json:"requirements_txt,omitempty"`
	PreCommands     []string `json:"pre_commands,omitempty"`
	Stdin           string   `json:"stdin,omitempty"`
	EnvVars         []string `json:"env_vars,omitempty"`
	ScriptArgs      []string `json:"script_args,omitempty"`
	Config          *Config  `json:"config,omitempty"`
	// OutputFiles (ours): as EvalRequest.OutputFiles.
	OutputFiles []string `json:"output_files,omitempty"`
}

// Usage is what the jail's cgroup measured.
type Usage struct {
	CPUMS           int64 `json:"cpu_ms"`
	MemoryPeakBytes int64 `json:"memory_peak_bytes"`
}

// Execution is the result record returned by /eval, /exec/sync and
// GET /api/v1/executions/{id}.
type Execution struct {
	ExecutionID string `json:"execution_id"`
	Status      string `json:"status"`
	Stdout      string `json:"stdout"`
	Stderr      string `json:"stderr"`
	// ExitCode is in every record pyexec sends: 0 until the code has
	// exited (pending, running, or never run), as python-executor sends it.
	ExitCode  *int   `json:"exit_code,omitempty"`
	Error     string `json:"error,omitempty"`
	ErrorType string `json:"error_type,omitempty"`
	ErrorLine *int   `json:"error_line,omitempty"`
	// Result is set only for eval_last_expr requests: a JSON string holding
	// the repr() of the last expression, or JSON null when the code did not
	// end in an expression or the expression was None. Use ResultString.
	Result     json.RawMessage `json:"result,omitempty"`
	StartedAt  *time.Time      `json:"started_at,omitempty"`
	FinishedAt *time.Time      `json:"finished_at,omitempty"`
	DurationMS int64           `json:"duration_ms"`

	// ours
	TimedOut        bool   `json:"timed_out"`
	OOMKilled       bool   `json:"oom_killed"`
	StdoutTruncated bool   `json:"stdout_truncated"`
	StderrTruncated bool   `json:"stderr_truncated"`
	PythonVersion   string `json:"python_version,omitempty"`
	Usage           *Usage `json:"usage,omitempty"`
	QueuedMS        int64  `json:"queued_ms"`

	// ours (display.go): rich results and figures; the files the request's
	// output_files kept. A note says what went past the server's bounds.
	Display         []DisplayItem `json:"display,omitempty"`
	DisplayNote     string        `json:"display_note,omitempty"`
	OutputFiles     []OutputFile  `json:"output_files,omitempty"`
	OutputFilesNote string        `json:"output_files_note,omitempty"`
}

// ResultString returns the repr() of the last expression and true, or ""
// and false when there is none (absent or null).
func (e *Execution) ResultString() (string, bool) {
	if len(e.Result) == 0 {
		return "", false
	}
	var s *string
	if err := json.Unmarshal(e.Result, &s); err != nil || s == nil {
		return "", false
	}
	return *s, true
}

// Finished reports whether the record is in a final state.
func (e *Execution) Finished() bool {
	switch e.Status {
	case StatusCompleted, StatusFailed, StatusKilled:
		return true
	}
	return false
}

// Accepted is the 202 body of POST /api/v1/exec/async.
type Accepted struct {
	ExecutionID string `json:"execution_id"`
}

// KillResponse is the body of DELETE /api/v1/executions/{id}.
type KillResponse struct {
	Status string `json:"status"`
}

// Error is the body of every error response.
type Error struct {
	Error string `json:"error"`
}

// Interpreter describes one Python the server can run. It carries no host
// paths.
type Interpreter struct {
	Version string `json:"version"` // full version, "3.12.1"
	Series  string `json:"series"`  // "3.12", what python_version selects
	Default bool   `json:"default,omitempty"`
}

// Interpreters is the body of GET /api/v1/interpreters.
type Interpreters struct {
	Default      string        `json:"default"`
	Interpreters []Interpreter `json:"interpreters"`
}

// Enforcement tells which protections the server applies to every jail.
type Enforcement struct {
	UserNamespace bool     `json:"user_namespace"`
	Namespaces    []string `json:"namespaces"`
	Seccomp       bool     `json:"seccomp"`
	NoNewPrivs    bool     `json:"no_new_privs"`
	CgroupMode    string   `json:"cgroup_mode"` // "v1", "hybrid" or "v2"
	MemoryLimit   bool     `json:"memory_limit"`
	CPULimit      bool     `json:"cpu_limit"`
	PidsLimit     bool     `json:"pids_limit"`
	// Mode is "root" (pyexecd runs as host root) or "rootless" (as an
	// ordinary user, in a user namespace mapped from its sub-id ranges).
	Mode string `json:"mode,omitempty"`
	// IDs are the host ids jails run as.
	IDs *IDMap `json:"ids,omitempty"`
	// Cgroup is where the jails' groups live.
	Cgroup *CgroupInfo `json:"cgroup,omitempty"`
	// Limits says, for each limit, whether it is enforced and by what.
	Limits []LimitEnforcement `json:"limits,omitempty"`
	// UserNamespaceSysctls are the budgets of each jail's own user
	// namespace (/proc/sys/user/max_*).
	UserNamespaceSysctls map[string]string `json:"userns_sysctls,omitempty"`
	// Devices are the only devices a jail can open (cgroup device rules).
	Devices []string `json:"devices,omitempty"`
	// SupplementaryGroups is empty: jails keep none of the server's groups.
	SupplementaryGroups []int `json:"supplementary_groups"`
}

// IDMap is the host id range jails map onto (ours).
type IDMap struct {
	// FirstHostID and Count are the range, in host ids.
	FirstHostID int `json:"first_host_id"`
	Count       int `json:"count"`
	// Jail slot n (one per concurrent jail) owns its user namespace as
	// host uid FirstHostID+2n and runs the code as FirstHostID+2n+1.
	IDsPerJail int `json:"ids_per_jail"`
	// SandboxUID is the uid the code sees itself as inside the jail.
	SandboxUID int `json:"sandbox_uid"`
	// CodeHostUIDs describes the host uids code runs as.
	CodeHostUIDs string `json:"code_host_uids"`
	// NamespaceOwner says who owns the jails' user namespaces (never root).
	NamespaceOwner string `json:"namespace_owner"`
}

// CgroupInfo is the jails' cgroup parent (ours).
type CgroupInfo struct {
	Version string `json:"version"` // "v1", "hybrid" or "v2"
	Parent  string `json:"parent"`  // the parent group's path
	// Delegated: the server is not root and uses a group root gave it.
	Delegated bool `json:"delegated"`
}

// LimitEnforcement is one limit: whether every jail has it, and how (ours).
type LimitEnforcement struct {
	Name     string `json:"name"`
	Enforced bool   `json:"enforced"`
	By       string `json:"by"`
}

// PoolSlot reports the warm jails kept for one interpreter version.
type PoolSlot struct {
	Version string `json:"version"`
	Size    int    `json:"size"`
	Ready   int    `json:"ready"`
	// Failing is true while the pool cannot start jails: requests then
	// run in cold jails (the server's log says why).
	Failing bool  `json:"failing"`
	Served  int64 `json:"served"` // runs in a warm jail
	Missed  int64 `json:"missed"` // runs that found no warm jail ready
}

// Health is the body of GET /health. Status is "ok" (compat); the rest is ours.
type Health struct {
	Status       string        `json:"status"`
	Version      string        `json:"version,omitempty"`
	Interpreters []Interpreter `json:"interpreters,omitempty"`
	Enforced     *Enforcement  `json:"enforced,omitempty"`
	// Pool is empty when no warm jails are configured.
	Pool []PoolSlot `json:"pool,omitempty"`
	// Zygotes are the forking templates, one per interpreter (ours).
	Zygotes []ZygoteSlot `json:"zygotes,omitempty"`
}

// ZygoteSlot reports the zygote of one interpreter: runs are forks of it.
type ZygoteSlot struct {
	Version string `json:"version"`
	Running bool   `json:"running"`
	// Failing is true while the zygote cannot start: its requests then
	// run in cold jails (the server's log says why).
	Failing  bool  `json:"failing"`
	AgeS     int64 `json:"age_seconds"`
	Served   int64 `json:"served"`   // runs forked from it (every generation)
	Missed   int64 `json:"missed"`   // requests that found it not running or busy
	Recycled int64 `json:"recycled"` // generations replaced for age or run count
	// Prepared counts the runs forked ahead, waiting for a request (each
	// holds its namespaces, a per-run cgroup and a run uid).
	Prepared int `json:"prepared"`
}

// Layer is one installed set of requirements in the server's cache: an
// entry of GET /api/v1/deps. Ours.
type Layer struct {
	// Key is the content address: interpreter version, normalised
	// requirements and index settings. DELETE /api/v1/deps/{key} removes it.
	Key           string `json:"key"`
	PythonVersion string `json:"python_version"`
	// Requirements are the normalised requirement lines it was built from.
	Requirements []string `json:"requirements"`
	// Packages are the installed distributions, "name==version".
	Packages   []string  `json:"packages"`
	SizeBytes  int64     `json:"size_bytes"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	// InUse is true while a run has the layer mounted.
	InUse bool `json:"in_use"`
}

// Layers is the body of GET /api/v1/deps.
type Layers struct {
	Layers []Layer `json:"layers"`
}

// LayerRemoved is the body of DELETE /api/v1/deps/{key}.
type LayerRemoved struct {
	Key    string `json:"key"`
	Status string `json:"status"` // "removed"
}
