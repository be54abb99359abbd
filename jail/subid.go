package jail

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// SubIDRange is one line of /etc/subuid or /etc/subgid: Count ids from
// Start that User may map into user namespaces (with newuidmap).
type SubIDRange struct {
	User  string // a name or a numeric uid, as written in the file
	Start int
	Count int
}

// The files newuidmap and newgidmap read.
const (
	SubUIDFile = "/etc/subuid"
	SubGIDFile = "/etc/subgid"
)

// ParseSubIDs reads the ranges of a subuid/subgid file. Blank lines and
// comments are skipped; a malformed line is an error naming it.
func ParseSubIDs(r io.Reader) ([]SubIDRange, error) {
	var out []SubIDRange
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) != 3 || f[0] == "" {
			return nil, fmt.Errorf("line %d: want user:start:count", n)
		}
		start, err1 := strconv.Atoi(f[1])
		count, err2 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || start < 0 || count <= 0 {
			return nil, fmt.Errorf("line %d: bad start or count", n)
		}
		out = append(out, SubIDRange{User: f[0], Start: start, Count: count})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read sub-id file: %w", err)
	}
	return out, nil
}

// SubIDsOf returns the first range of ranges that belongs to the user
// with this name or numeric uid, and false when there is none.
func SubIDsOf(ranges []SubIDRange, name string, uid int) (SubIDRange, bool) {
	id := strconv.Itoa(uid)
	for _, r := range ranges {
		if (name != "" && r.User == name) || r.User == id {
			return r, true
		}
	}
	return SubIDRange{}, false
}

// ReadSubIDs returns the user's range from file (SubUIDFile or
// SubGIDFile).
func ReadSubIDs(file, name string, uid int) (SubIDRange, error) {
	f, err := os.Open(file)
	if err != nil {
		return SubIDRange{}, fmt.Errorf("read %s: %w", file, err)
	}
	defer f.Close()
	ranges, err := ParseSubIDs(f)
	if err != nil {
		return SubIDRange{}, fmt.Errorf("%s: %w", file, err)
	}
	r, ok := SubIDsOf(ranges, name, uid)
	if !ok {
		return SubIDRange{}, fmt.Errorf("%s has no range for user %s (uid %d): run `pyexecd setup --user %s` as root", file, name, uid, name)
	}
	return r, nil
}
