package main

import (
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/runner"
	"github.com/pyexec/pyexec/server"
)

// sessionOptions are the server's session options of cfg; when sessions
// are off, or r has no zygotes to fork them from, they are refused with
// the reason.
func sessionOptions(cfg configs.Config, r *runner.Runner) server.SessionOptions {
	s := cfg.Sessions
	o := server.SessionOptions{
		MaxLive: s.MaxLive, IdleDefault: s.IdleTimeout, IdleMax: s.MaxIdleTimeout,
		Grace: s.InterruptGrace, MaxLifetime: s.MaxLifetime,
	}
	if !s.Enabled {
		o.Unavailable = "sessions are turned off on this server (sessions.enabled)"
		return o
	}
	o.Runner, o.Unavailable = r.Sessions()
	return o
}
