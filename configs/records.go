package configs

// The execution records' defaults and bounds (execution.records_dir,
// records_max_mb and queue_max_mb).

// recordOverheadMB is room in execution.records_max_mb for a record's
// fields besides its output.
const recordOverheadMB = 1

// resolveRecordsDir fills an empty RecordsDir for rt.
func (e *ExecutionConfig) resolveRecordsDir(rt Runtime) {
	switch {
	case e.RecordsDir != "":
	case !rt.Rootless:
		e.RecordsDir = "/var/lib/pyexec/records"
	case rt.Home != "":
		e.RecordsDir = rt.Home + "/.local/share/pyexec/records"
	}
}

// validateRecords checks the records dir and the byte budgets: a record
// of the largest output must fit in records_max_mb.
func (c Config) validateRecords(p *problems) {
	e := c.Execution
	absolute(p, "execution.records_dir", e.RecordsDir)
	p.atLeast("execution.queue_max_mb", int64(e.QueueMaxMB), 1)
	need := (2*c.Limits.Max.MaxOutputBytes+(1<<20)-1)>>20 + recordOverheadMB
	if int64(e.RecordsMaxMB) < need {
		p.add("execution.records_max_mb", "must be >= %d (a record of twice limits.max.max_output_bytes, %d bytes, and its fields), got %d",
			need, c.Limits.Max.MaxOutputBytes, e.RecordsMaxMB)
	}
}
