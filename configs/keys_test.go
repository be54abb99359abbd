package configs

import (
	"bufio"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSampleMatchesDefaults keeps pyexec.yaml and Defaults() from drifting.
func TestSampleMatchesDefaults(t *testing.T) {
	c, err := Load(LoadOptions{ConfigFile: "pyexec.yaml"})
	if err != nil {
		t.Fatalf("Load(pyexec.yaml): %v", err)
	}
	if want := resolvedDefaults(); !reflect.DeepEqual(c, want) {
		t.Errorf("pyexec.yaml gives\n%+v\nDefaults() is\n%+v", c, want)
	}
}

// TestSampleDocumentsEveryKey checks that every key is in pyexec.yaml and
// that every value line there has a comment above it.
func TestSampleDocumentsEveryKey(t *testing.T) {
	f, err := os.Open("pyexec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	keyLine := regexp.MustCompile(`^( *)([a-z_]+):(.*)$`)
	var stack []string // key path of the current line
	seen := map[string]bool{}
	prev := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		m := keyLine.FindStringSubmatch(line)
		if m != nil {
			depth := len(m[1]) / 2
			stack = append(stack[:min(depth, len(stack))], m[2])
			seen[strings.Join(stack, ".")] = true
			if strings.TrimSpace(m[3]) != "" && !strings.HasPrefix(strings.TrimSpace(prev), "#") {
				t.Errorf("pyexec.yaml:%d: %s has no comment above it", n, strings.Join(stack, "."))
			}
		}
		prev = line
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range Keys() {
		if !seen[k] {
			t.Errorf("pyexec.yaml does not show key %s", k)
		}
	}
}

// envSamples holds, for every key, an environment value that is valid and
// differs from the default. It must list every key.
func envSamples() map[string]string {
	return map[string]string{
		"server.host":                     "0.0.0.0",
		"server.port":                     "9090",
		"server.shutdown_grace":           "30s",
		"server.max_request_mb":           "50",
		"server.read_header_timeout":      "5s",
		"server.read_timeout":             "30s",
		"server.write_timeout":            "45s",
		"server.idle_timeout":             "2m",
		"server.max_header_kb":            "32",
		"server.max_connections":          "100",
		"server.auth_tokens":              "tok-0123456789abcdef,tok-fedcba9876543210",
		"server.auth_tokens_file":         "/etc/pyexec/tokens",
		"server.admin_tokens":             "adm-0123456789abcdef",
		"server.admin_tokens_file":        "/etc/pyexec/admin-tokens",
		"server.token_max_concurrent":     "2",
		"server.token_max_queued":         "20",
		"server.max_code_kb":              "200",
		"log.level":                       "debug",
		"log.format":                      "json",
		"limits.default.timeout_seconds":  "60",
		"limits.default.memory_mb":        "512",
		"limits.default.disk_mb":          "1024",
		"limits.default.cpu_shares":       "512",
		"limits.default.cpu_limit":        "0.5",
		"limits.default.pids_limit":       "128",
		"limits.default.max_output_bytes": "65536",
		"limits.default.network_disabled": "false",
		"limits.max.timeout_seconds":      "7200",
		"limits.max.memory_mb":            "16384",
		"limits.max.disk_mb":              "16384",
		"limits.max.cpu_shares":           "100000",
		"limits.max.cpu_limit":            "4",
		"limits.max.pids_limit":           "8192",
		"limits.max.max_output_bytes":     "33554432",
		"limits.allow_network":            "false",
		"execution.max_concurrent":        "4",
		"execution.queue_size":            "10",
		"execution.cleanup_ttl":           "2h",
		"execution.memory_budget_mb":      "4096",
		"execution.max_records":           "50",
		"results.display_max_items":       "4",
		"results.display_max_mb":          "2",
		"results.output_files_max_count":  "7",
		"results.output_files_max_mb":     "3",
		"execution.auto_detect_imports":   "false",
		"execution.queue_max_mb":          "512",
		"execution.records_dir":           "/srv/records",
		"execution.records_max_mb":        "4096",
		"execution.records_sync":          "true",
		"interpreters.roots":              "/opt/py,/srv/py",
		"interpreters.paths":              "/usr/bin/python3.11",
		"interpreters.system":             "false",
		"interpreters.default":            "3.11",
		"jail.mode":                       "root",
		"jail.state_dir":                  "/tmp/pyexec",
		"jail.allow_unenforced_limits":    "true",
		"jail.setup_dir":                  "/srv/pyexec",
		"jail.allow_inotify":              "true",
		"jail.cgroup_parent":              "svc/pyexec",
		"jail.host_id_base":               "300000",
		"jail.host_id_count":              "70000",
		"jail.sandbox_uid":                "2000",
		"jail.network.helper":             "/opt/passt/pasta",
		"jail.network.allow_cidrs":        "10.1.0.0/16,192.168.7.7/32",
		"jail.network.dns":                "198.51.100.53",
		"pool.sizes":                      "3.12=1,3.11=3",
		"pool.max_age":                    "5m",
		"zygote.enabled":                  "false",
		"zygote.eager":                    "3.11,3.13",
		"zygote.max_age":                  "1h",
		"zygote.max_runs":                 "500",
		"zygote.prepared":                 "0",
		"sessions.enabled":                "false",
		"sessions.max_live":               "3",
		"sessions.idle_timeout":           "30s",
		"sessions.max_idle_timeout":       "3h",
		"sessions.interrupt_grace":        "1s",
		"sessions.max_lifetime":           "1h",
		"deps.cache_dir":                  "/srv/deps",
		"deps.cache_max_mb":               "4096",
		"deps.index_url":                  "https://pypi.example/simple",
		"deps.extra_index_urls":           "https://a.example/simple,https://b.example/simple",
		"deps.find_links":                 "/srv/wheels",
		"deps.trusted_hosts":              "pypi.example",
		"deps.allow_source_builds":        "true",
		"deps.warmup":                     "numpy>=1,<2;requests[socks]\nsix",
		"deps.install_timeout":            "20m",
		"deps.install_memory_mb":          "2048",
		"deps.install_disk_mb":            "1024",
	}
}

// TestEveryKeyHasWorkingEnv sets each key through its variable alone and
// checks that exactly that field changed.
func TestEveryKeyHasWorkingEnv(t *testing.T) {
	samples := envSamples()
	for _, l := range leaves() {
		key := l.Key()
		t.Run(key, func(t *testing.T) {
			text, ok := samples[key]
			if !ok {
				t.Fatalf("envSamples has no value for %s", key)
			}
			want, err := l.parse(text)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Load(LoadOptions{Env: []string{EnvName(key) + "=" + text}})
			if err != nil {
				t.Fatalf("Load with %s=%s: %v", EnvName(key), text, err)
			}
			got := fieldAt(reflect.ValueOf(c), l.parts).Interface()
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s = %#v, want %#v", key, got, want)
			}
			if reflect.DeepEqual(got, fieldAt(reflect.ValueOf(Defaults()), l.parts).Interface()) {
				t.Errorf("sample for %s equals the default; pick another", key)
			}
		})
	}
	if len(samples) != len(leaves()) {
		t.Errorf("envSamples has %d keys, Config has %d", len(samples), len(leaves()))
	}
}

// fieldAt finds the field of v at a key path, following squashed embeds.
func fieldAt(v reflect.Value, parts []string) reflect.Value {
	for _, part := range parts {
		v = fieldByTag(v, part)
	}
	return v
}

func fieldByTag(v reflect.Value, name string) reflect.Value {
	for i := range v.NumField() {
		tag, opts, _ := strings.Cut(v.Type().Field(i).Tag.Get("mapstructure"), ",")
		if opts == "squash" {
			if f := fieldByTag(v.Field(i), name); f.IsValid() {
				return f
			}
			continue
		}
		if tag == name {
			return v.Field(i)
		}
	}
	return reflect.Value{}
}

func TestEnvNames(t *testing.T) {
	keys := Keys()
	names := map[string]string{}
	for _, k := range keys {
		n := EnvName(k)
		if other, dup := names[n]; dup {
			t.Errorf("%s and %s share %s", other, k, n)
		}
		names[n] = k
	}
	for legacy, key := range legacyEnv() {
		if !slices.Contains(keys, key) {
			t.Errorf("legacy %s names unknown key %s", legacy, key)
		}
		if other, ok := names[legacy]; ok && other != key {
			t.Errorf("legacy %s collides with %s", legacy, other)
		}
	}
	for flag, key := range flagKeys() {
		if !slices.Contains(keys, key) {
			t.Errorf("flag --%s names unknown key %s", flag, key)
		}
	}
	if got := EnvName("limits.max.memory_mb"); got != "PYEXEC_LIMITS_MAX_MEMORY_MB" {
		t.Errorf("EnvName = %s", got)
	}
}
