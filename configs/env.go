package configs

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// legacyEnv maps python-executor's variable names to keys. The canonical
// name of a key wins over its legacy name when both are set.
func legacyEnv() map[string]string {
	return map[string]string{
		"PYEXEC_HOST":                "server.host",
		"PYEXEC_PORT":                "server.port",
		"PYEXEC_LOG_LEVEL":           "log.level",
		"PYEXEC_DEFAULT_TIMEOUT":     "limits.default.timeout_seconds",
		"PYEXEC_DEFAULT_MEMORY_MB":   "limits.default.memory_mb",
		"PYEXEC_DEFAULT_DISK_MB":     "limits.default.disk_mb",
		"PYEXEC_DEFAULT_CPU_SHARES":  "limits.default.cpu_shares",
		"PYEXEC_AUTO_DETECT_IMPORTS": "execution.auto_detect_imports",
		"PYEXEC_CLEANUP_TTL":         "execution.cleanup_ttl",
		"PYEXEC_DEFAULT_IMAGE":       "interpreters.default", // python:3.11-slim selects 3.11
	}
}

// ignoredEnv are python-executor's variables that mean nothing here:
// pyexec starts no Docker containers (socket, network mode, DNS servers of
// the containers) and keeps its records in memory (Consul). Names ending
// in "_" are prefixes.
func ignoredEnv() []string {
	return []string{"PYEXEC_DOCKER_SOCKET", "PYEXEC_NETWORK_MODE", "PYEXEC_DNS_SERVERS", "PYEXEC_CONSUL_"}
}

// IgnoredEnv returns, sorted, the names of python-executor's variables set
// in env ("NAME=value" pairs) that pyexec does not use: PYEXEC_DOCKER_SOCKET,
// PYEXEC_NETWORK_MODE, PYEXEC_DNS_SERVERS and PYEXEC_CONSUL_*. A variable set
// to "" is not reported: python-executor ignores it too. Load ignores these
// variables; cmd/ warns about them.
func IgnoredEnv(env []string) []string {
	var out []string
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || val == "" || slices.Contains(out, name) {
			continue
		}
		for _, ig := range ignoredEnv() {
			if name == ig || strings.HasSuffix(ig, "_") && strings.HasPrefix(name, ig) {
				out = append(out, name)
				break
			}
		}
	}
	slices.Sort(out)
	return out
}

// flagKeys maps the command-line flags Load honours to keys.
func flagKeys() map[string]string {
	return map[string]string{
		"host":      "server.host",
		"port":      "server.port",
		"log-level": "log.level",
	}
}

// applyEnv sets every key that has a variable in env, "NAME=value" pairs as
// os.Environ returns them. Unknown PYEXEC_* names are ignored.
func applyEnv(v *viper.Viper, ls []leaf, env []string) error {
	vars := map[string]string{}
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(name, envPrefix) {
			vars[name] = val
		}
	}
	byKey := map[string]leaf{}
	for _, l := range ls {
		byKey[l.Key()] = l
	}
	// Legacy names first so that canonical names overwrite them. Set to
	// "", a legacy name is unset, as python-executor reads it.
	for name, key := range legacyEnv() {
		val, ok := vars[name]
		if !ok || val == "" || name == EnvName(key) {
			continue
		}
		if err := set(v, byKey[key], val); err != nil {
			return fmt.Errorf("env %s: %w", name, err)
		}
	}
	for _, l := range ls {
		name := EnvName(l.Key())
		val, ok := vars[name]
		if !ok {
			continue
		}
		if err := set(v, l, val); err != nil {
			return fmt.Errorf("env %s: %w", name, err)
		}
	}
	return nil
}

// applyFlags sets the keys of the flags in fs that were given on the command
// line. It runs after applyEnv, so flags win.
func applyFlags(v *viper.Viper, ls []leaf, fs *pflag.FlagSet) error {
	if fs == nil {
		return nil
	}
	byKey := map[string]leaf{}
	for _, l := range ls {
		byKey[l.Key()] = l
	}
	for name, key := range flagKeys() {
		f := fs.Lookup(name)
		if f == nil || !f.Changed {
			continue
		}
		if err := set(v, byKey[key], f.Value.String()); err != nil {
			return fmt.Errorf("flag --%s: %w", name, err)
		}
	}
	return nil
}

func set(v *viper.Viper, l leaf, text string) error {
	val, err := l.parse(text)
	if err != nil {
		return err
	}
	v.Set(l.viperKey(), val)
	return nil
}
