package cgroup

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func readUintFile(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, err := parseUint(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

func readKeyedFile(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	v, _, err := parseKeyed(f, key)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// readWords reads a file of space-separated words (cgroup.controllers).
func readWords(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

// readPids parses a cgroup.procs file.
func readPids(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, f := range bytes.Fields(b) {
		pid, err := strconv.Atoi(string(f))
		if err != nil {
			return nil, fmt.Errorf("%s: parse pid %q: %w", path, f, err)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// killProcs SIGKILLs every task listed in procsFile until none is left, or
// fails after a few seconds. A missing group has nothing to kill.
func killProcs(procsFile string) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids, err := readPids(procsFile)
		// A group removed meanwhile (a zygote's run group, by its own
		// cleanup) answers ENOENT, or ENODEV while it dies: nothing to kill.
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENODEV) {
			return nil
		}
		if err != nil {
			return err
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks still alive after SIGKILL", len(pids))
		}
		killAll(pids)
		time.Sleep(5 * time.Millisecond)
	}
}

// killAll SIGKILLs each of pids.
func killAll(pids []int) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// rmdir removes an empty cgroup directory, retrying while the kernel still
// counts exiting tasks in it. A missing directory is not an error.
func rmdir(path string) error {
	var err error
	for i := 0; i < 100; i++ {
		err = os.Remove(path)
		if err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if !errors.Is(err, syscall.EBUSY) {
			return err
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return err
}

// subdirs lists the directories in dir; a missing dir has none.
func subdirs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names, nil
}

// killTree SIGKILLs the tasks of the group at dir and of every group below
// it (a zygote's group holds its runs' groups).
func killTree(dir string) error {
	subs, err := subdirs(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, sub := range subs {
		errs = append(errs, killTree(filepath.Join(dir, sub)))
	}
	errs = append(errs, killProcs(filepath.Join(dir, "cgroup.procs")))
	return errors.Join(errs...)
}

// rmdirTree removes the group at dir and every group below it, deepest
// first. A missing directory is not an error.
func rmdirTree(dir string) error {
	subs, err := subdirs(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, sub := range subs {
		errs = append(errs, rmdirTree(filepath.Join(dir, sub)))
	}
	errs = append(errs, rmdir(dir))
	return errors.Join(errs...)
}
