// Package cgroup owns pyexec's cgroup tree: the service's parent group and
// one group per jail, with their limits (memory with swap off, CPU weight and
// quota, pids) written by github.com/containerd/cgroups/v3, and their usage
// (peak memory, CPU time, OOM kills) read before deletion.
//
// It works on cgroup v1 (legacy), hybrid (v1 controllers plus a cgroup2
// mount without them, as on this project's CI) and v2 (unified). The jail
// package hands libcontainer the path of a group prepared here, so one
// library writes the limits, not two.
//
// Parsing of cgroup files is kept apart from file I/O so it is tested
// without root.
package cgroup
