package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/server"
)

// apiTokens reads the server's bearer tokens (the token files included)
// and warns when the API is open on an address other hosts can reach.
func apiTokens(c configs.ServerConfig, log *slog.Logger) (server.Tokens, error) {
	user, admin, err := c.Tokens()
	if err != nil {
		return server.Tokens{}, err
	}
	t := server.Tokens{User: user, Admin: admin}
	switch {
	case t.Open() && !c.Loopback():
		log.Warn("the API is open to anyone who can reach this address: no server.auth_tokens are set "+
			"(set some, or listen on a loopback address, or put an authenticating proxy in front)",
			"addr", c.Addr())
	case !t.Open():
		log.Info("the API needs a bearer token", "tokens", len(user), "admin_tokens", len(admin))
	}
	return t, nil
}

// httpOptions are the connection limits of the config.
func httpOptions(c configs.ServerConfig) server.HTTPOptions {
	return server.HTTPOptions{
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderKB << 10,
		MaxConnections:    c.MaxConnections,
	}
}

// hostMemoryMB is the host's memory (MemTotal of /proc/meminfo) in MiB,
// or 0 if it cannot be read.
func hostMemoryMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	kb, err := memTotalKB(f)
	if err != nil {
		return 0
	}
	return int(kb >> 10)
}

// memTotalKB reads the MemTotal line of /proc/meminfo ("MemTotal:
// 24684084 kB").
func memTotalKB(r io.Reader) (int64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("meminfo: unexpected MemTotal line %q", sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("meminfo: MemTotal %q", f[0])
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("meminfo: %w", err)
	}
	return 0, fmt.Errorf("meminfo: no MemTotal line")
}
