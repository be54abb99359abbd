package server

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/pyexec/pyexec/api"
	"github.com/pyexec/pyexec/configs/limits"
)

// Options are the server's settings, as plain values. The zero value of a
// field means the default named in its comment.
type Options struct {
	// Defaults are the limits of a request that leaves a config field out.
	// A zero field takes limits.Defaults' (timeout 300 s, memory 1024 MB,
	// disk 2048 MB, cpu_shares 1024, no CPU quota, 256 pids, 1 MiB of
	// output per stream).
	Defaults limits.Values
	// Max are the largest values a request may ask for. A zero field takes
	// limits.Ceilings' (timeout 3600 s, memory 8192 MB, disk 8192 MB,
	// cpu_shares 262144, cpu_limit the number of CPUs, 4096 pids, 16 MiB of
	// output per stream). The minimums are fixed (limits.Min): timeout 1 s,
	// memory 16 MB, disk 1 MB, cpu_shares 2, cpu_limit 0.01, 8 pids, 1024
	// output bytes.
	Max limits.Values
	// AllowNetwork lets a request ask for network access with
	// "network_disabled": false. When false such a request gets a 400.
	AllowNetwork bool
	// NetworkUnavailable, when not empty, says why runs with network cannot
	// start here (no NAT helper): such a request gets a 400 saying so.
	NetworkUnavailable string

	// MaxConcurrent is the number of jobs running at once. If zero,
	// runtime.NumCPU() is used.
	MaxConcurrent int
	// QueueSize is the number of jobs that may wait for a free slot; past
	// it a submission gets 429 with Retry-After. If zero, limits.QueueSize (256) is used.
	QueueSize int
	// MemoryBudgetMB bounds the sum of the memory limits of the running
	// jobs. A job whose limit does not fit waits in the queue, and the
	// jobs behind it wait with it, until enough running ones finish; no
	// job is started past the budget. Max.MemoryMB must fit in it. If
	// zero, there is no budget.
	MemoryBudgetMB int

	// Tokens are the bearer tokens of the API. None: the server is open.
	Tokens Tokens
	// TokenMaxConcurrent caps the running jobs of one token: its other
	// jobs wait while other tokens' jobs pass them. TokenMaxQueued is how
	// many jobs of one token may wait on top of those; a submission past
	// both gets 429 with Retry-After, and other tokens' are still
	// accepted. Both apply only when Tokens are set. If zero, half of
	// MaxConcurrent and half of QueueSize (rounded up) are used.
	TokenMaxConcurrent int
	TokenMaxQueued     int

	// HTTP bounds the HTTP connections of HTTPServer and Listener.
	HTTP HTTPOptions

	// RecordTTL is how long a finished execution record is kept. If zero,
	// one hour is used.
	RecordTTL time.Duration
	// MaxRecords bounds the number of records kept; the oldest finished
	// ones are evicted first, unfinished ones never. It must be at least
	// MaxConcurrent+QueueSize. If zero, limits.MaxRecords (10000; or that sum, if larger) is used.
	MaxRecords int
	// MaxRecordBytes bounds the finished records kept, their output and
	// fields (about 1 KiB each besides the output); past it the oldest
	// finished ones are evicted. If zero, there is no bound.
	MaxRecordBytes int64
	// RecordsDir holds the execution records: finished ones and their
	// output survive a restart (and a crash); queued and running ones come
	// back failed. Uploads wait there too, as they arrived, for their job
	// to start. Empty: records are kept in memory only and uploads wait in
	// the system's temporary directory.
	RecordsDir string
	// RecordsSync flushes each change of a record to the disk before it
	// is answered (fdatasync), so that records survive a power loss too.
	// Off, they survive a restart and a crash of the server (the kernel
	// holds what was written), and a request does not wait for the disk.
	RecordsSync bool
	// MaxQueuedBytes bounds what the queued jobs hold while they wait:
	// their uploads as they arrived (compressed ones stay compressed; kept
	// in a file), and the code, stdin and arguments kept in memory. Past
	// it a submission gets 429 with Retry-After, unless the queue is
	// empty. If zero, there is no bound.
	MaxQueuedBytes int64

	// MaxCodeBytes bounds the total size of the code of an /eval request,
	// with the names of its files (413 past it). An /eval body may hold
	// 16 MiB more than this, and never more than MaxRequestBytes (413
	// past it). If zero, 100 KiB is used.
	MaxCodeBytes int64
	// MaxRequestBytes bounds a request body and the extracted size of an
	// uploaded archive, the entries' names and link targets included (413
	// past it). The "metadata" part of an upload is bounded at 8 MiB. If
	// zero, 100 MiB is used.
	MaxRequestBytes int64
	// MaxArchiveEntries bounds the number of entries of an uploaded
	// archive, and of the files of an /eval request, counting the parent
	// directories their paths imply (400 past it). If zero, 10000 is used.
	MaxArchiveEntries int

	// Version is reported by /health.
	Version string
	// Enforcement is reported by /health as "enforced".
	Enforcement api.Enforcement
	// AutoDetectImports sets Job.DetectImports on /eval jobs.
	AutoDetectImports bool
	// Results bound each run's display items and output files (ours).
	// Zero: none are sent back.
	Results ResultLimits
	// Layers is the cache of installed requirements behind GET
	// /api/v1/deps and DELETE /api/v1/deps/{key}. If nil, the list is
	// empty and every key is unknown.
	Layers Layers
	// PoolStatus reports the warm pool in /health. Nil: not reported.
	PoolStatus func() []api.PoolSlot
	// ZygoteStatus reports the zygotes in /health. Nil: not reported.
	ZygoteStatus func() []api.ZygoteSlot
	// Sessions configure /api/v1/sessions (ours). A nil Runner: refused.
	Sessions SessionOptions

	// Logger receives the server's logs. If nil, logs are discarded.
	Logger *slog.Logger
}

// withDefaults returns o with every zero field replaced by its default.
func (o Options) withDefaults() Options {
	o.Defaults = o.Defaults.Fill(limits.Defaults())
	o.Max = o.Max.Fill(limits.Ceilings())
	o.Max.CPULimit = limits.CPUCeiling(o.Max.CPULimit)
	if o.MaxConcurrent == 0 {
		o.MaxConcurrent = runtime.NumCPU()
	}
	if o.QueueSize == 0 {
		o.QueueSize = limits.QueueSize
	}
	if o.TokenMaxConcurrent == 0 {
		o.TokenMaxConcurrent = (o.MaxConcurrent + 1) / 2
	}
	if o.TokenMaxQueued == 0 {
		o.TokenMaxQueued = (o.QueueSize + 1) / 2
	}
	o.HTTP = o.HTTP.withDefaults()
	if o.RecordTTL == 0 {
		o.RecordTTL = limits.RecordTTL
	}
	if o.MaxRecords == 0 {
		o.MaxRecords = max(limits.MaxRecords, o.MaxConcurrent+o.QueueSize)
	}
	if o.MaxCodeBytes == 0 {
		o.MaxCodeBytes = limits.MaxCodeKB << 10
	}
	if o.MaxRequestBytes == 0 {
		o.MaxRequestBytes = limits.MaxRequestMB << 20
	}
	if o.MaxArchiveEntries == 0 {
		o.MaxArchiveEntries = 10000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// validate checks options that withDefaults has filled.
func (o Options) validate() error {
	lo := limits.Min()
	checks := []struct {
		name               string
		min, def, max, top float64
	}{
		{"timeout_seconds", float64(lo.TimeoutSeconds), float64(o.Defaults.TimeoutSeconds), float64(o.Max.TimeoutSeconds), 0},
		{"memory_mb", float64(lo.MemoryMB), float64(o.Defaults.MemoryMB), float64(o.Max.MemoryMB), 0},
		{"disk_mb", float64(lo.DiskMB), float64(o.Defaults.DiskMB), float64(o.Max.DiskMB), 0},
		{"cpu_shares", float64(lo.CPUShares), float64(o.Defaults.CPUShares), float64(o.Max.CPUShares), limits.MaxCPUShares},
		{"cpu_limit", lo.CPULimit, o.Defaults.CPULimit, o.Max.CPULimit, 0},
		{"pids_limit", float64(lo.PidsLimit), float64(o.Defaults.PidsLimit), float64(o.Max.PidsLimit), 0},
		{"max_output_bytes", float64(lo.MaxOutputBytes), float64(o.Defaults.MaxOutputBytes), float64(o.Max.MaxOutputBytes), 0},
	}
	for _, c := range checks {
		if c.max < c.min {
			return fmt.Errorf("max %s %g is below the minimum %g", c.name, c.max, c.min)
		}
		if c.top > 0 && c.max > c.top {
			return fmt.Errorf("max %s %g is above %g", c.name, c.max, c.top)
		}
		if c.name == "cpu_limit" && c.def == 0 {
			continue // no quota
		}
		if c.def < c.min || c.def > c.max {
			return fmt.Errorf("default %s %g is outside [%g, %g]", c.name, c.def, c.min, c.max)
		}
	}
	switch {
	case o.MaxConcurrent < 0:
		return fmt.Errorf("max concurrent %d is negative", o.MaxConcurrent)
	case o.QueueSize < 0:
		return fmt.Errorf("queue size %d is negative", o.QueueSize)
	case o.RecordTTL < 0:
		return fmt.Errorf("record TTL %s is negative", o.RecordTTL)
	case o.MaxRecords < o.MaxConcurrent+o.QueueSize:
		return fmt.Errorf("max records %d is below max concurrent + queue size (%d)",
			o.MaxRecords, o.MaxConcurrent+o.QueueSize)
	case o.MaxCodeBytes < 0 || o.MaxRequestBytes < 0 || o.MaxArchiveEntries < 0:
		return fmt.Errorf("size limits must not be negative")
	case o.MaxRecordBytes < 0 || o.MaxQueuedBytes < 0:
		return fmt.Errorf("record and queue byte budgets must not be negative")
	case o.MemoryBudgetMB < 0:
		return fmt.Errorf("memory budget %d MB is negative", o.MemoryBudgetMB)
	case o.MemoryBudgetMB > 0 && o.Max.MemoryMB > o.MemoryBudgetMB:
		return fmt.Errorf("max memory_mb %d is above the memory budget of %d MB: such a job could never start",
			o.Max.MemoryMB, o.MemoryBudgetMB)
	case o.TokenMaxConcurrent < 0 || o.TokenMaxQueued < 0:
		return fmt.Errorf("token quotas must not be negative")
	}
	return o.HTTP.validate()
}

// admission is the dispatcher's share of the options.
func (o Options) admission() admission {
	a := admission{memBudget: int64(o.MemoryBudgetMB) << 20}
	if !o.Tokens.Open() {
		a.callerRunning, a.callerQueued = o.TokenMaxConcurrent, o.TokenMaxQueued
	}
	return a
}
