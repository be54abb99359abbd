package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/jail"
)

// who is how this process runs: as root, as the user who started a
// rootless server (outside its namespace), or as that server inside it.
type who struct {
	rootless bool
	inside   bool             // re-executed into the rootless namespace
	ids      jail.RootlessIDs // outside only
	owner    int              // host uid of a rootless server
}

// lookupWho decides from the effective uid, the rootless marker and mode.
// Outside a rootless namespace it reads the user's sub-id ranges.
func lookupWho(mode string) (who, error) {
	if owner, ok := jail.RootlessOwner(); ok {
		return who{rootless: true, inside: true, owner: owner}, nil
	}
	if !configs.RootlessMode(mode, os.Geteuid()) {
		return who{}, nil
	}
	if os.Geteuid() == 0 {
		return who{}, errors.New("jail.mode rootless: run pyexecd as the service user, not root")
	}
	ids, err := jail.LookupRootlessIDs()
	if err != nil {
		return who{}, err
	}
	return who{rootless: true, ids: ids, owner: ids.UID}, nil
}

// runtimeOf is what the configuration's user-dependent defaults resolve
// from. Inside the namespace the id count is what the namespace maps.
func runtimeOf(w who, env []string) configs.Runtime {
	rt := configs.Runtime{Rootless: w.rootless, Home: lookupEnv(env, "HOME"), XDGRuntimeDir: lookupEnv(env, "XDG_RUNTIME_DIR"),
		HostMemoryMB: hostMemoryMB()}
	switch {
	case w.inside:
		rt.SubIDCount = mappedIDs()
	case w.rootless:
		rt.SubIDCount = w.ids.Count()
	}
	return rt
}

// mappedIDs counts the ids above 0 that this process's user namespace maps.
func mappedIDs() int {
	n := 0
	for _, r := range uidMap() {
		if r.inside > 0 {
			n += r.count
		}
	}
	return n
}

func lookupEnv(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

// relocation is one entry of the manifest `pyexecd setup` writes: a copy
// (Path) of an interpreter whose build prefix (Prefix) the service user
// cannot reach.
type relocation struct {
	Prefix string `json:"prefix"`
	Path   string `json:"path"`
}

// manifestPath is where setup lists the interpreter copies.
func manifestPath(cfg configs.Config) string {
	return filepath.Join(cfg.Jail.SetupDir, "interpreters", "manifest.json")
}

// rootlessMounts prepares the rootless server's mount namespace and
// returns the interpreters it made visible (their python3), for discovery.
func rootlessMounts(cfg configs.Config) ([]string, error) {
	var rels []relocation
	b, err := os.ReadFile(manifestPath(cfg))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read %s: %w", manifestPath(cfg), err)
	default:
		if err := json.Unmarshal(b, &rels); err != nil {
			return nil, fmt.Errorf("read %s: %w", manifestPath(cfg), err)
		}
	}
	overlays := make([]jail.Overlay, 0, len(rels))
	var pythons []string
	for _, r := range rels {
		overlays = append(overlays, jail.Overlay{Prefix: r.Prefix, Source: r.Path})
		pythons = append(pythons, filepath.Join(r.Prefix, "bin", "python3"))
	}
	if err := jail.PrepareRootlessMounts(overlays); err != nil {
		return nil, err
	}
	return pythons, nil
}
