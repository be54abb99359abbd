// Package configs owns the service configuration: its typed shape, the
// defaults, loading and validation.
//
// configs owns viper; nothing below cmd/ imports viper. Load reads, in rising
// order of precedence, the defaults in code, an optional YAML file, PYEXEC_*
// environment variables (python-executor's legacy names included) and a few
// command-line flags, and produces one typed Config. Unknown keys in the file
// are errors. cmd/ calls Load once and passes the sections down as plain
// values.
package configs
