package configs

import (
	"reflect"
	"strings"
	"testing"
)

// TestDefaultImage covers python-executor's PYEXEC_DEFAULT_IMAGE and the
// pool that follows the default interpreter.
func TestDefaultImage(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		env       []string
		wantDef   string
		wantPool  map[string]int
		wantError string
	}{
		{name: "image selects the default", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.11-slim"},
			wantDef: "python:3.11-slim", wantPool: map[string]int{"3.11": 2}},
		{name: "registry image", env: []string{"PYEXEC_DEFAULT_IMAGE=docker.io/library/python:3.13-bookworm"},
			wantDef: "docker.io/library/python:3.13-bookworm", wantPool: map[string]int{"3.13": 2}},
		{name: "python-executor's own default", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.12-slim"},
			wantDef: "python:3.12-slim", wantPool: map[string]int{"3.12": 2}},
		{name: "empty is unset", env: []string{"PYEXEC_DEFAULT_IMAGE="},
			wantDef: "3.12", wantPool: map[string]int{"3.12": 2}},
		{name: "canonical name wins",
			env:     []string{"PYEXEC_DEFAULT_IMAGE=python:3.11-slim", "PYEXEC_INTERPRETERS_DEFAULT=3.13"},
			wantDef: "3.13", wantPool: map[string]int{"3.13": 2}},
		{name: "file default moves the pool", file: "interpreters:\n  default: \"3.10\"\n",
			wantDef: "3.10", wantPool: map[string]int{"3.10": 2}},
		{name: "env pool is kept", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.11-slim", "PYEXEC_POOL_SIZES=3.12=1"},
			wantDef: "python:3.11-slim", wantPool: map[string]int{"3.12": 1}},
		{name: "file pool is kept", file: "pool:\n  sizes:\n    \"3.13\": 3\n", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.11"},
			wantDef: "python:3.11", wantPool: map[string]int{"3.13": 3}},
		{name: "a pool turned off stays off", file: "pool:\n  sizes:\n    \"3.12\": 0\n", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.11"},
			wantDef: "python:3.11", wantPool: map[string]int{"3.12": 0}},
		{name: "not a python image", env: []string{"PYEXEC_DEFAULT_IMAGE=ubuntu:22.04"}, wantError: `interpreters.default: must name a version series`},
		{name: "an image of no version", env: []string{"PYEXEC_DEFAULT_IMAGE=python:latest"}, wantError: `got "python:latest"`},
		{name: "a custom image", env: []string{"PYEXEC_DEFAULT_IMAGE=ghcr.io/acme/py-numpy:3.11"}, wantError: "PYEXEC_DEFAULT_IMAGE"},
		{name: "a patch version", env: []string{"PYEXEC_DEFAULT_IMAGE=python:3.11.7-slim"}, wantError: "interpreters.default"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := LoadOptions{Env: tt.env}
			if tt.file != "" {
				opts.ConfigFile = writeConfig(t, tt.file)
			}
			c, err := Load(opts)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("Load error = %v, want one containing %q", err, tt.wantError)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if c.Interpreters.Default != tt.wantDef || !reflect.DeepEqual(c.Pool.Sizes, tt.wantPool) {
				t.Errorf("default %q, pool %v; want %q, %v", c.Interpreters.Default, c.Pool.Sizes, tt.wantDef, tt.wantPool)
			}
		})
	}
}

func TestIgnoredEnv(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"none", []string{"PYEXEC_PORT=8000", "HOME=/root"}, nil},
		{"every one python-executor reads", []string{
			"PYEXEC_DOCKER_SOCKET=/var/run/docker.sock", "PYEXEC_NETWORK_MODE=bridge", "PYEXEC_DNS_SERVERS=8.8.8.8,8.8.4.4",
			"PYEXEC_CONSUL_ADDR=consul:8500", "PYEXEC_CONSUL_TOKEN=secret", "PYEXEC_CONSUL_PREFIX=python-executor",
		}, []string{
			"PYEXEC_CONSUL_ADDR", "PYEXEC_CONSUL_PREFIX", "PYEXEC_CONSUL_TOKEN",
			"PYEXEC_DNS_SERVERS", "PYEXEC_DOCKER_SOCKET", "PYEXEC_NETWORK_MODE",
		}},
		{"any consul variable", []string{"PYEXEC_CONSUL_DATACENTER=dc1"}, []string{"PYEXEC_CONSUL_DATACENTER"}},
		{"empty is unset", []string{"PYEXEC_CONSUL_ADDR=", "PYEXEC_DOCKER_SOCKET="}, nil},
		{"once each", []string{"PYEXEC_NETWORK_MODE=host", "PYEXEC_NETWORK_MODE=bridge"}, []string{"PYEXEC_NETWORK_MODE"}},
		{"not similar names", []string{"PYEXEC_DOCKER_SOCKETS=x", "PYEXEC_CONSUL=x", "DOCKER_HOST=unix:///x"}, nil},
		{"used ones are not ignored", []string{"PYEXEC_DEFAULT_IMAGE=python:3.11-slim", "PYEXEC_CLEANUP_TTL=300"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IgnoredEnv(tt.env); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("IgnoredEnv = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestIgnoredEnvLoads: the ignored variables change nothing and break nothing.
func TestIgnoredEnvLoads(t *testing.T) {
	c, err := Load(LoadOptions{Env: []string{
		"PYEXEC_DOCKER_SOCKET=/var/run/docker.sock", "PYEXEC_NETWORK_MODE=bridge",
		"PYEXEC_DNS_SERVERS=8.8.8.8", "PYEXEC_CONSUL_ADDR=consul:8500",
	}})
	if err != nil || !reflect.DeepEqual(c, resolvedDefaults()) {
		t.Fatalf("Load = %+v, %v; want the defaults", c, err)
	}
}
