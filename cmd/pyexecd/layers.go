package main

import (
	"log/slog"

	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/interpreters/requirements"
	"github.com/pyexec/pyexec/layers"
)

// depsIndex is the package index of the configuration.
func depsIndex(d configs.DepsConfig) requirements.Index {
	return requirements.Index{
		URL: d.IndexURL, ExtraURLs: d.ExtraIndexURLs, FindLinks: d.FindLinks, TrustedHosts: d.TrustedHosts,
		SourceBuilds: d.AllowSourceBuilds,
	}
}

// depsConfig is the dependency cache of the configuration.
func depsConfig(cfg configs.Config, log *slog.Logger) layers.Config {
	d := cfg.Deps
	return layers.Config{
		Dir:                d.CacheDir,
		MaxBytes:           int64(d.CacheMaxMB) << 20,
		Index:              depsIndex(d),
		InstallTimeout:     d.InstallTimeout,
		InstallMemoryBytes: int64(d.InstallMemoryMB) << 20,
		InstallDiskBytes:   int64(d.InstallDiskMB) << 20,
		OwnerUID:           cfg.Jail.HostIDBase + cfg.Jail.SandboxUID,
		Logger:             log,
	}
}
