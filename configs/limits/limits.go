package limits

import (
	"runtime"
	"time"
)

// Values is one set of per-run limits in the units of the API's "config"
// object. The mapstructure tags are its keys in the configuration
// (limits.default.*, limits.max.*).
type Values struct {
	// TimeoutSeconds is the wall-clock limit of a run.
	TimeoutSeconds int `mapstructure:"timeout_seconds"`
	// MemoryMB is the cgroup memory limit of the whole jail, swap off.
	MemoryMB int `mapstructure:"memory_mb"`
	// DiskMB sizes the writable work dir and /tmp (each).
	DiskMB int `mapstructure:"disk_mb"`
	// CPUShares is the relative CPU weight (cgroup v1 shares).
	CPUShares int `mapstructure:"cpu_shares"`
	// CPULimit is a hard quota in cores. In defaults zero means no quota;
	// in ceilings zero means the number of CPUs (see CPUCeiling).
	CPULimit float64 `mapstructure:"cpu_limit"`
	// PidsLimit caps processes and threads in the jail.
	PidsLimit int `mapstructure:"pids_limit"`
	// MaxOutputBytes caps what is kept of each of stdout and stderr; the
	// rest is counted and dropped (the record says truncated), and a stream
	// that goes 16 MiB past it stops the run as failed.
	MaxOutputBytes int64 `mapstructure:"max_output_bytes"`
}

// Fixed lower bounds of the per-run limits, and the kernel's upper bound of
// cpu_shares. They are not configurable: a value below them cannot run
// Python at all.
const (
	MinTimeoutSeconds = 1
	MinMemoryMB       = 16
	MinDiskMB         = 1
	MinCPUShares      = 2
	MinCPULimit       = 0.01
	MinPids           = 8
	MinOutputBytes    = 1024
	MaxCPUShares      = 262144
)

// Min are the lower bounds as Values.
func Min() Values {
	return Values{
		TimeoutSeconds: MinTimeoutSeconds,
		MemoryMB:       MinMemoryMB,
		DiskMB:         MinDiskMB,
		CPUShares:      MinCPUShares,
		CPULimit:       MinCPULimit,
		PidsLimit:      MinPids,
		MaxOutputBytes: MinOutputBytes,
	}
}

// Defaults are the limits of a request that names none (limits.default).
func Defaults() Values {
	return Values{
		TimeoutSeconds: 300,
		MemoryMB:       1024,
		DiskMB:         2048,
		CPUShares:      1024,
		CPULimit:       0, // no quota
		PidsLimit:      256,
		MaxOutputBytes: 1 << 20,
	}
}

// Ceilings are the largest values a request may ask for (limits.max).
// CPULimit 0 means the number of CPUs (CPUCeiling); the configuration
// lowers MemoryMB to its memory budget when that is smaller.
func Ceilings() Values {
	return Values{
		TimeoutSeconds: 3600,
		MemoryMB:       8192,
		DiskMB:         8192,
		CPUShares:      MaxCPUShares,
		CPULimit:       0,
		PidsLimit:      4096,
		MaxOutputBytes: 16 << 20,
	}
}

// CPUCeiling is a ceiling's cpu_limit: c, or the number of CPUs when c is
// zero.
func CPUCeiling(c float64) float64 {
	if c > 0 {
		return c
	}
	return float64(runtime.NumCPU())
}

// Fill returns v with each zero field taken from d.
func (v Values) Fill(d Values) Values {
	if v.TimeoutSeconds == 0 {
		v.TimeoutSeconds = d.TimeoutSeconds
	}
	if v.MemoryMB == 0 {
		v.MemoryMB = d.MemoryMB
	}
	if v.DiskMB == 0 {
		v.DiskMB = d.DiskMB
	}
	if v.CPUShares == 0 {
		v.CPUShares = d.CPUShares
	}
	if v.CPULimit == 0 {
		v.CPULimit = d.CPULimit
	}
	if v.PidsLimit == 0 {
		v.PidsLimit = d.PidsLimit
	}
	if v.MaxOutputBytes == 0 {
		v.MaxOutputBytes = d.MaxOutputBytes
	}
	return v
}

// Run is one run's resolved limits, in the units the jails take.
type Run struct {
	Timeout        time.Duration
	MemoryBytes    int64
	DiskBytes      int64   // size of each of /work and /tmp
	CPUShares      int     // relative weight, v1 shares (2..262144)
	CPULimit       float64 // cores; 0 = no quota
	Pids           int
	MaxOutputBytes int64 // per stream
	Network        bool
}

// Run is v as one run's limits, with network or without.
func (v Values) Run(network bool) Run {
	return Run{
		Timeout:        time.Duration(v.TimeoutSeconds) * time.Second,
		MemoryBytes:    int64(v.MemoryMB) << 20,
		DiskBytes:      int64(v.DiskMB) << 20,
		CPUShares:      v.CPUShares,
		CPULimit:       v.CPULimit,
		Pids:           v.PidsLimit,
		MaxOutputBytes: v.MaxOutputBytes,
		Network:        network,
	}
}
