package configs

// ResultsConfig bounds what a run sends back besides its output: the rich
// results and figures of its "display" list, and the files its request
// names in "output_files". Past a bound items are left out and the record
// says so; the run never fails for it. Both travel through the server's
// memory (the report pipe keeps up to ReportBytes per running jail)
// before the files go to disk.
type ResultsConfig struct {
	// DisplayMaxItems caps the display items (rich forms of the last
	// expression, matplotlib figures) of one run; 0 offers none.
	DisplayMaxItems int `mapstructure:"display_max_items"`
	// DisplayMaxMB caps their data together (raw bytes, before base64),
	// in MiB.
	DisplayMaxMB int `mapstructure:"display_max_mb"`
	// OutputFilesMaxCount caps the files of one run's output_files.
	OutputFilesMaxCount int `mapstructure:"output_files_max_count"`
	// OutputFilesMaxMB caps their bytes together, in MiB. They are kept
	// with the record, under execution.records_dir, and count against
	// execution.records_max_mb.
	OutputFilesMaxMB int `mapstructure:"output_files_max_mb"`
}

// The largest bounds results.* may set.
const (
	maxResultItems = 10000
	maxResultMB    = 1024
)

func defaultResults() ResultsConfig {
	return ResultsConfig{DisplayMaxItems: 32, DisplayMaxMB: 8, OutputFilesMaxCount: 100, OutputFilesMaxMB: 16}
}

func (r ResultsConfig) validate(p *problems) {
	for _, f := range []struct {
		key    string
		v, max int
	}{
		{"results.display_max_items", r.DisplayMaxItems, maxResultItems},
		{"results.display_max_mb", r.DisplayMaxMB, maxResultMB},
		{"results.output_files_max_count", r.OutputFilesMaxCount, maxResultItems},
		{"results.output_files_max_mb", r.OutputFilesMaxMB, maxResultMB},
	} {
		if f.v < 0 || f.v > f.max {
			p.add(f.key, "must be in 0..%d, got %d", f.max, f.v)
		}
	}
}

// ReportBytes is what a run's report channel must carry at most: the
// bootstrap's own fields (1 MiB), the display items and output files
// within their bounds, and a header of 64 bytes per item.
func (r ResultsConfig) ReportBytes() int64 {
	return 1<<20 + int64(r.DisplayMaxMB+r.OutputFilesMaxMB)<<20 + int64(r.DisplayMaxItems+r.OutputFilesMaxCount)*(64+4096)
}
