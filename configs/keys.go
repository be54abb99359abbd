package configs

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// keyDelim separates key parts inside viper. It is not "." because pool.sizes
// has map keys like "3.12" that a "." delimiter would split.
const keyDelim = "::"

// envPrefix starts every environment variable.
const envPrefix = "PYEXEC_"

// leaf is one settable key of Config.
type leaf struct {
	parts []string     // e.g. ["limits", "default", "memory_mb"]
	typ   reflect.Type // the Go type of the field
	// sep separates a list's items in the environment (the field's envsep
	// tag); "" means ",".
	sep string
}

// Key is the dotted name used in messages and YAML paths.
func (l leaf) Key() string { return strings.Join(l.parts, ".") }

func (l leaf) viperKey() string { return strings.Join(l.parts, keyDelim) }

// EnvName is the canonical environment variable of the dotted key.
func EnvName(key string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// Keys lists every dotted key of Config in field order, e.g.
// "limits.default.memory_mb". Each has the environment variable EnvName(key).
func Keys() []string {
	var keys []string
	for _, l := range leaves() {
		keys = append(keys, l.Key())
	}
	return keys
}

// leaves walks Config by its mapstructure tags.
func leaves() []leaf {
	return walk(reflect.TypeFor[Config](), nil, nil)
}

func walk(t reflect.Type, prefix []string, out []leaf) []leaf {
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
		if f.Anonymous && opts == "squash" {
			out = walk(f.Type, prefix, out)
			continue
		}
		parts := append(append([]string(nil), prefix...), name)
		if f.Type.Kind() == reflect.Struct {
			out = walk(f.Type, parts, out)
			continue
		}
		out = append(out, leaf{parts: parts, typ: f.Type, sep: f.Tag.Get("envsep")})
	}
	return out
}

// parse turns the text of an environment variable or flag into a value of
// l's type.
func (l leaf) parse(s string) (any, error) {
	if l.sep != "" && l.typ.Kind() == reflect.Slice {
		return splitListSep(s, l.sep), nil
	}
	return parseValue(l.typ, s)
}

// parseValue turns the text of an environment variable or flag into a value
// of type t.
func parseValue(t reflect.Type, s string) (any, error) {
	if isDuration(t) {
		return parseDuration(s)
	}
	s = strings.TrimSpace(s)
	switch t.Kind() {
	case reflect.String:
		return s, nil
	case reflect.Bool:
		return parseBool(s)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(s, 10, t.Bits())
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer: %w", s, numErr(err))
		}
		return reflect.ValueOf(n).Convert(t).Interface(), nil
	case reflect.Float64:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number: %w", s, numErr(err))
		}
		return f, nil
	case reflect.Slice:
		if t.Elem().Kind() == reflect.String {
			return splitList(s), nil
		}
	case reflect.Map:
		if t.Key().Kind() == reflect.String && t.Elem().Kind() == reflect.Int {
			return parseSizes(s)
		}
	}
	return nil, fmt.Errorf("unsupported type %s", t)
}

// parseDuration accepts a Go duration ("90s", "1h") or a whole number of
// seconds ("3600"), the form python-executor used.
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 1h, or seconds): %w", s, err)
	}
	return d, nil
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (true or false)", s)
}

// splitList splits a comma-separated list, dropping blanks. An empty string
// is the empty list.
func splitList(s string) []string { return splitListSep(s, ",") }

// splitListSep splits a list separated by sep, dropping blanks.
func splitListSep(s, sep string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, sep) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// parseSizes parses "3.12=2,3.11=1".
func parseSizes(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, item := range splitList(s) {
		k, v, ok := strings.Cut(item, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not version=count", item)
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("%q is not version=count: %w", item, numErr(err))
		}
		out[k] = n
	}
	return out, nil
}

// numErr keeps strconv's reason (invalid syntax, out of range) without its
// repetition of the input.
func numErr(err error) error {
	if ne, ok := errors.AsType[*strconv.NumError](err); ok {
		return ne.Err
	}
	return err
}

func isDuration(t reflect.Type) bool { return t == reflect.TypeFor[time.Duration]() }
