package configs

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// LoadOptions are the sources Load reads besides the defaults in code.
type LoadOptions struct {
	// ConfigFile is a YAML file. Empty means none; a named file that does
	// not exist is an error.
	ConfigFile string
	// Env is the environment as "NAME=value" pairs; pass os.Environ(). Nil
	// means no environment. Load never reads the process environment itself.
	Env []string
	// Flags, if not nil, is searched for the flags "host", "port" and
	// "log-level"; those given on the command line override everything else.
	Flags *pflag.FlagSet
	// Runtime, if not nil, resolves the defaults that depend on who runs
	// the server (Config.Resolve) before validation; it gets the resolved
	// jail.mode. Nil: resolved as for root.
	Runtime func(mode string) Runtime
}

// Load builds the Config from, in rising order of precedence, Defaults(),
// opts.ConfigFile, opts.Env and opts.Flags, then validates it. Keys in the
// file that Config does not have are errors.
//
// Environment variables are PYEXEC_ followed by the key in upper case with
// "_" for ".", e.g. PYEXEC_LIMITS_MAX_MEMORY_MB (see EnvName and Keys), plus
// python-executor's names (PYEXEC_HOST, PYEXEC_DEFAULT_TIMEOUT, ...). Lists
// are comma-separated (deps.warmup: ";"-separated, its entries hold
// commas), pool sizes are "3.12=2,3.11=1", durations are Go durations
// ("90s", "1h") or whole seconds ("3600").
func Load(opts LoadOptions) (Config, error) {
	v := viper.NewWithOptions(viper.KeyDelimiter(keyDelim))
	ls := leaves()
	if opts.ConfigFile != "" {
		v.SetConfigFile(opts.ConfigFile)
		v.SetConfigType("yaml")
		if err := v.ReadInConfig(); err != nil {
			return Config{}, fmt.Errorf("read config: %w", err)
		}
		if err := checkKeys(v.AllKeys(), ls); err != nil {
			return Config{}, fmt.Errorf("config %s: %w", opts.ConfigFile, err)
		}
	}
	if err := applyEnv(v, ls, opts.Env); err != nil {
		return Config{}, err
	}
	if err := applyFlags(v, ls, opts.Flags); err != nil {
		return Config{}, err
	}

	cfg := Defaults()
	err := v.UnmarshalExact(&cfg,
		viper.DecodeHook(mapstructure.ComposeDecodeHookFunc(durationHook, quotedStringHook)),
		func(dc *mapstructure.DecoderConfig) { dc.ZeroFields = true }, // a given list or map replaces the default
	)
	if err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	if !v.IsSet("pool" + keyDelim + "sizes") {
		cfg.Pool.Sizes = defaultPool(cfg.Interpreters.Default)
	}
	cfg.Log.Level = strings.ToLower(cfg.Log.Level)
	cfg.Log.Format = strings.ToLower(cfg.Log.Format)
	var rt Runtime
	if opts.Runtime != nil {
		rt = opts.Runtime(cfg.Jail.Mode)
	}
	cfg.Resolve(rt)
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// checkKeys reports the keys of a file that Config does not have, naming them
// all. Keys below a map-typed leaf (pool.sizes.3.12) are that map's entries.
func checkKeys(fileKeys []string, ls []leaf) error {
	known := map[string]bool{}
	var maps []string
	for _, l := range ls {
		known[l.viperKey()] = true
		if l.typ.Kind() == reflect.Map {
			maps = append(maps, l.viperKey()+keyDelim)
		}
	}
	var unknown []string
	for _, k := range fileKeys {
		if known[k] || slices.ContainsFunc(maps, func(p string) bool { return strings.HasPrefix(k, p) }) {
			continue
		}
		unknown = append(unknown, strings.ReplaceAll(k, keyDelim, "."))
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("unknown key %s", strings.Join(unknown, ", "))
}

// durationHook decodes a duration from a Go duration string or from a number
// of seconds (YAML 3600 means an hour, not 3600ns).
func durationHook(from, to reflect.Type, data any) (any, error) {
	if !isDuration(to) || isDuration(from) {
		return data, nil
	}
	rv := reflect.ValueOf(data)
	switch from.Kind() {
	case reflect.String:
		return parseDuration(rv.String())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return time.Duration(rv.Int()) * time.Second, nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return time.Duration(rv.Uint()) * time.Second, nil
	case reflect.Float32, reflect.Float64:
		return time.Duration(rv.Float() * float64(time.Second)), nil
	}
	return data, nil
}

// quotedStringHook refuses a YAML float where a string is wanted: unquoted
// 3.10 is the float 3.1, which would silently name the wrong Python.
func quotedStringHook(from, to reflect.Type, data any) (any, error) {
	if to.Kind() == reflect.String && (from.Kind() == reflect.Float64 || from.Kind() == reflect.Float32) {
		return nil, fmt.Errorf("number %v where a string is expected; quote it", data)
	}
	return data, nil
}

// defaultPool is the pool when none is configured: 2 jails of the default
// interpreter's series, so that requests naming no version find a warm
// jail whichever interpreter is the default. A default that names no
// series keeps the pool of Defaults (Validate refuses such a default).
func defaultPool(def string) map[string]int {
	series, ok := defaultSeries(def)
	if !ok {
		series = defaultPython
	}
	return map[string]int{series: defaultPoolSize}
}
