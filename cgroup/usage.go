package cgroup

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Usage is what a jail's group consumed.
type Usage struct {
	// CPU is the CPU time used by every task of the group.
	CPU time.Duration
	// MemoryPeak is the highest memory use seen, in bytes.
	MemoryPeak int64
	// OOMKills counts tasks the kernel killed for hitting the memory limit.
	OOMKills int64
}

// parseUint parses a single-value cgroup file such as
// memory.max_usage_in_bytes or cpuacct.usage. "max" reads as 0.
func parseUint(r io.Reader) (int64, error) {
	b, err := io.ReadAll(io.LimitReader(r, 64))
	if err != nil {
		return 0, fmt.Errorf("read value: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parse value %q: %w", s, err)
	}
	return v, nil
}

// parseKeyed parses a flat keyed file ("key value" per line) such as
// v2 cpu.stat and memory.events or v1 memory.oom_control, and returns the
// value of key, or 0 and false when the key is absent.
func parseKeyed(r io.Reader, key string) (int64, bool, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if !ok || k != key {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, false, fmt.Errorf("parse %s %q: %w", key, v, err)
		}
		return n, true, nil
	}
	if err := sc.Err(); err != nil {
		return 0, false, fmt.Errorf("read keyed file: %w", err)
	}
	return 0, false, nil
}
