package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/interpreters"
)

// setupRecord is what `pyexecd setup --user NAME` made for one user, kept
// in <setup_dir>/setup/NAME.json so that --undo removes exactly that.
type setupRecord struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// SubUID and SubGID are the lines setup added to /etc/subuid and
	// /etc/subgid ("" when the user had a range); ...Made: the file did not
	// exist before.
	SubUID     string `json:"subuid,omitempty"`
	SubGID     string `json:"subgid,omitempty"`
	SubUIDMade bool   `json:"subuid_file_made,omitempty"`
	SubGIDMade bool   `json:"subgid_file_made,omitempty"`
	// Cgroups are the parent groups delegated to the user, one per
	// --cgroup-parent setup was given.
	Cgroups []cgroup.Delegation `json:"cgroups,omitempty"`
	// Interpreters are the copies (and manifest entries) the user needs.
	// Other users' records may share them: --undo removes one only when no
	// other record has it.
	Interpreters []interpreters.Relocation `json:"interpreters,omitempty"`
	// MadeDirs are directories setup created (the setup dir and those
	// below it), removed by --undo when empty.
	MadeDirs []string `json:"made_dirs,omitempty"`
}

// userName is what setup accepts as --user: a user name as useradd makes
// them (and a safe file name).
var userName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$`)

func recordsDir(setupDir string) string { return filepath.Join(setupDir, "setup") }

func recordPath(setupDir, user string) string {
	return filepath.Join(recordsDir(setupDir), user+".json")
}

// readRecord returns the user's record, and false when there is none.
func readRecord(setupDir, user string) (setupRecord, bool, error) {
	b, err := os.ReadFile(recordPath(setupDir, user))
	if errors.Is(err, os.ErrNotExist) {
		return setupRecord{}, false, nil
	}
	if err != nil {
		return setupRecord{}, false, fmt.Errorf("read setup record: %w", err)
	}
	var r setupRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return setupRecord{}, false, fmt.Errorf("read setup record %s: %w", recordPath(setupDir, user), err)
	}
	if r.User != user {
		return setupRecord{}, false, fmt.Errorf("setup record %s is for user %q", recordPath(setupDir, user), r.User)
	}
	return r, true, nil
}

// otherRecords returns every record but user's.
func otherRecords(setupDir, user string) ([]setupRecord, error) {
	entries, err := os.ReadDir(recordsDir(setupDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read setup records: %w", err)
	}
	var out []setupRecord
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || name == user || !userName.MatchString(name) {
			continue
		}
		r, found, err := readRecord(setupDir, name)
		if err != nil {
			return nil, err
		}
		if found {
			out = append(out, r)
		}
	}
	return out, nil
}

// write saves the record (0644: it names nothing secret).
func (r setupRecord) write(setupDir string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write setup record: %w", err)
	}
	return writeAtomic(recordPath(setupDir, r.User), append(b, '\n'), 0o644)
}

// delegation returns the index of the record's delegation of parent, or -1.
func (r setupRecord) delegation(parent string) int {
	return slices.IndexFunc(r.Cgroups, func(d cgroup.Delegation) bool { return d.Parent == parent })
}

// addInterpreter records rel, once per prefix.
func (r *setupRecord) addInterpreter(rel interpreters.Relocation) {
	r.Interpreters = interpreters.MergeRelocations(r.Interpreters, []interpreters.Relocation{rel})
}

// interpreter returns the record's relocation of prefix.
func (r setupRecord) interpreter(prefix string) (interpreters.Relocation, bool) {
	i := slices.IndexFunc(r.Interpreters, func(o interpreters.Relocation) bool { return o.Prefix == prefix })
	if i < 0 {
		return interpreters.Relocation{}, false
	}
	return r.Interpreters[i], true
}

// mkdirRecorded makes dir (0755) and its missing parents, recording those
// it made.
func (r *setupRecord) mkdirRecorded(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil || d == "/" || d == "." {
			break
		}
		missing = append(missing, d)
	}
	for _, d := range slices.Backward(missing) {
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		if err := os.Chmod(d, 0o755); err != nil { // whatever the umask
			return err
		}
		if !slices.Contains(r.MadeDirs, d) {
			r.MadeDirs = append(r.MadeDirs, d)
		}
	}
	return nil
}
