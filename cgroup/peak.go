package cgroup

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// PeakMark reads a run group's memory peak since it was made (ResetPeak).
type PeakMark struct {
	f  *os.File // v2: the memory.peak descriptor that was reset; nil on v1
	v1 string   // v1: memory.max_usage_in_bytes
}

// ResetPeak starts a new memory peak of the group: the mark's Peak is the
// highest usage from now on, counting from the current usage. On v1 it
// resets memory.max_usage_in_bytes (so Usage's MemoryPeak restarts too);
// on v2 it resets a memory.peak descriptor of its own (kernels from 6.12;
// Usage's MemoryPeak stays the group's whole peak). An error: the group
// cannot (an older v2 kernel). The caller closes the mark.
func (r *RunGroup) ResetPeak() (*PeakMark, error) {
	d := r.dirs[0]
	if !r.v2 {
		p := filepath.Join(d, "memory.max_usage_in_bytes")
		if err := os.WriteFile(p, []byte("0"), 0); err != nil {
			return nil, fmt.Errorf("reset memory peak: %w", err)
		}
		return &PeakMark{v1: p}, nil
	}
	f, err := os.OpenFile(filepath.Join(d, "memory.peak"), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("reset memory peak: %w", err)
	}
	if _, err := f.WriteString("reset\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("reset memory peak: %w", err)
	}
	return &PeakMark{f: f}, nil
}

// Peak is the highest memory usage of the group since the mark was made.
func (m *PeakMark) Peak() (int64, error) {
	if m.f == nil {
		return readUintFile(m.v1)
	}
	v, err := parseUint(io.NewSectionReader(m.f, 0, 64))
	if err != nil {
		return 0, fmt.Errorf("memory peak: %w", err)
	}
	return v, nil
}

// Close releases the mark.
func (m *PeakMark) Close() error {
	if m.f == nil {
		return nil
	}
	return m.f.Close()
}
