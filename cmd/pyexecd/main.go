package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/pyexec/pyexec/cgroup"
	"github.com/pyexec/pyexec/configs"
	"github.com/pyexec/pyexec/interpreters"
	"github.com/pyexec/pyexec/jail"
	"github.com/pyexec/pyexec/layers"
	"github.com/pyexec/pyexec/runner"
	"github.com/pyexec/pyexec/server"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	jail.Init() // libcontainer's init re-exec: never returns in a jail
	os.Exit(run(os.Args[1:], os.Environ(), os.Stderr))
}

func run(args, env []string, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "setup" { // before the server's flags
		return runSetup(args[1:], env, os.Stdout, stderr)
	}
	fs := pflag.NewFlagSet("pyexecd", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML config file (see configs/pyexec.yaml)")
	fs.String("host", "", "listen address (default 127.0.0.1)")
	fs.String("port", "", "listen port (default 8080)")
	fs.String("log-level", "", "debug, info, warn or error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *showVersion {
		fmt.Fprintln(stderr, "pyexecd", version)
		return 0
	}
	var (
		w      who
		whoErr error
	)
	cfg, err := configs.Load(configs.LoadOptions{ConfigFile: *configFile, Env: env, Flags: fs,
		Runtime: func(mode string) configs.Runtime {
			w, whoErr = lookupWho(mode)
			return runtimeOf(w, env)
		}})
	if whoErr != nil {
		fmt.Fprintln(stderr, "pyexecd:", whoErr)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "pyexecd: config:", err)
		return 2
	}
	log := newLogger(cfg.Log, stderr)
	if w.rootless && !w.inside {
		// The server proper runs inside its user namespace; this process
		// only waits for it.
		code, err := jail.EnterRootless(w.ids, append([]string{"pyexecd"}, args...), env)
		if err != nil {
			log.Error("pyexecd: rootless start failed", "err", err)
			return 1
		}
		return code
	}
	if err := jail.ReexecSealed(); err != nil {
		log.Warn("running unsealed: every jail start copies the binary", "err", err)
	}
	// After the re-exec, so that it is logged once.
	if names := configs.IgnoredEnv(env); len(names) > 0 {
		log.Warn("ignoring python-executor settings that mean nothing here (no Docker containers; records are kept in execution.records_dir, not in Consul)",
			"vars", strings.Join(names, ","))
	}
	if err := serve(cfg, w, env, log); err != nil {
		log.Error("pyexecd stopped", "err", err)
		return 1
	}
	return 0
}

func newLogger(c configs.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(cfg configs.Config, w who, env []string, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	tokens, err := apiTokens(cfg.Server, log)
	if err != nil {
		return err
	}

	cg, err := cgroup.NewManager(cfg.Jail.CgroupParent)
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	// Fail closed: no memory or pids limit, no jails, unless the operator
	// says otherwise (then /health names what is not applied).
	limitsOff := unenforced(cg.Controllers())
	if len(limitsOff) > 0 && !cfg.Jail.AllowUnenforcedLimits {
		for _, l := range limitsOff {
			if l == "memory" || l == "pids" {
				return fmt.Errorf("cgroups: the %s limits cannot be enforced here (%s cgroup parent %s); delegate the controllers or set jail.allow_unenforced_limits", strings.Join(limitsOff, " and "), cg.Mode(), cg.Parent())
			}
		}
	}
	paths := cfg.Interpreters.Paths
	if w.inside {
		relocated, err := rootlessMounts(cfg)
		if err != nil {
			return fmt.Errorf("rootless: %w", err)
		}
		paths = append(append([]string(nil), paths...), relocated...)
	}
	interps, err := interpreters.Discover(ctx, interpreters.Options{
		Roots: cfg.Interpreters.Roots, Paths: paths, System: cfg.Interpreters.System,
		Default: cfg.Interpreters.Default, BaseMounts: jail.DefaultBaseMounts(), Env: env, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("interpreters: %w", err)
	}
	jails, err := jail.New(jail.Config{
		StateDir: cfg.Jail.StateDir, HostIDBase: cfg.Jail.HostIDBase, HostIDCount: cfg.Jail.HostIDCount,
		SandboxUID: cfg.Jail.SandboxUID, Mounts: interps.Mounts(),
		BindTargets:  layers.BindTargets(depsIndex(cfg.Deps)),
		Files:        readOnlyFiles(),
		StartThreads: cfg.Execution.MaxConcurrentResolved(),
		AllowInotify: cfg.Jail.AllowInotify,
		// Figures and output files come back on the report channel.
		MaxReportBytes: cfg.Results.ReportBytes(),
		Network:        netConfig(cfg),
		// Rootless on v1, a run's pid 1 joins its cgroup only with the
		// server's uid (see jail.Config).
		ZygoteCgroupJoiner: w.rootless && cg.Mode() != cgroup.ModeUnified,
		ZygotePrepared:     zygotePrepared(cfg.Zygote.Prepared),
		Logger:             log,
	}, cg)
	if err != nil {
		return fmt.Errorf("jails: %w", err)
	}
	// The last thing serve does, once the jails are gone (jails.Close,
	// deferred next, waits for their removal): the parent group goes too,
	// unless something still uses it. Only a server that got the state dir
	// does this, not one that found another server running on it.
	defer func() {
		if err := cg.RemoveParent(); err != nil {
			log.Warn("cgroup parent", "err", err)
		}
	}()
	defer func() {
		if err := jails.Close(); err != nil {
			log.Warn("jails close", "err", err)
		}
	}()

	layerCache, err := layers.New(depsConfig(cfg, log), jails)
	if err != nil {
		return fmt.Errorf("deps: %w", err)
	}
	defer func() {
		if err := layerCache.Close(); err != nil {
			log.Warn("deps cache close", "err", err)
		}
	}()

	// Every jail sees the layer cache (read-only, not listable), so that a
	// run with requirements can take a pooled jail.
	binds := []jail.Bind{layerCache.Bind()}
	templates, err := runner.PoolTemplates(cfg.Pool.Sizes, cfg.Limits.Default.Run(false), interps, binds)
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	pool, err := jails.NewPool(templates, cfg.Pool.MaxAge)
	if err != nil {
		return fmt.Errorf("pool: %w", err)
	}
	defer pool.Close()
	var zygotes *jail.ZygotePool
	if cfg.Zygote.Enabled {
		zygotes, err = jails.NewZygotePool(runner.ZygoteTemplates(cfg.Zygote.Eager, cfg.Limits.Default.Run(false), interps, binds), cfg.Zygote.MaxAge, int64(cfg.Zygote.MaxRuns))
		if err != nil {
			return fmt.Errorf("zygotes: %w", err)
		}
		defer zygotes.Close()
	}

	run, err := runner.New(runner.Config{Jails: jails, Pool: pool, Zygotes: zygotes, Layers: layerCache, Binds: binds,
		Interpreters: interps, Logger: log})
	if err != nil {
		return err
	}
	srv, err := server.New(server.Options{
		Defaults:          cfg.Limits.Default.Limits,
		Max:               cfg.Limits.Max, // cpu_limit 0: the number of CPUs, as in configs
		AllowNetwork:      cfg.Limits.AllowNetwork,
		MaxConcurrent:     cfg.Execution.MaxConcurrentResolved(),
		QueueSize:         cfg.Execution.QueueSize,
		RecordTTL:         cfg.Execution.CleanupTTL,
		MaxRecords:        cfg.Execution.MaxRecords,
		MaxRecordBytes:    int64(cfg.Execution.RecordsMaxMB) << 20,
		RecordsDir:        cfg.Execution.RecordsDir,
		RecordsSync:       cfg.Execution.RecordsSync,
		MaxQueuedBytes:    int64(cfg.Execution.QueueMaxMB) << 20,
		MaxCodeBytes:      int64(cfg.Server.MaxCodeKB) << 10,
		MaxRequestBytes:   int64(cfg.Server.MaxRequestMB) << 20,
		AutoDetectImports: cfg.Execution.AutoDetectImports,
		Results:           resultLimits(cfg.Results),
		Version:           version,
		Enforcement:       networkHealth(enforcement(jails.Describe(w.rootless, int64(cfg.Limits.Default.DiskMB)<<20), cg, limitsOff), cfg.Limits.AllowNetwork, jails.NetworkStatus(), netConfig(cfg)),
		PoolStatus:        run.PoolStatus,
		ZygoteStatus:      run.ZygoteStatus(),
		Layers:            runner.LayersAPI(layerCache),
		Logger:            log,

		MemoryBudgetMB:     cfg.Execution.MemoryBudgetMB,
		NetworkUnavailable: networkUnavailable(cfg.Limits.AllowNetwork, jails.NetworkStatus()),
		Tokens:             tokens,
		TokenMaxConcurrent: cfg.Server.TokenMaxConcurrent,
		TokenMaxQueued:     cfg.Server.TokenMaxQueued,
		HTTP:               httpOptions(cfg.Server),
		Sessions:           sessionOptions(cfg, run),
	}, run, interps)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer func() {
		if err := srv.Close(); err != nil {
			log.Warn("execution records close", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.Server.Addr())
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := srv.HTTPServer() // timeouts and header limit of server.*
	served := make(chan error, 1)
	go func() { served <- hs.Serve(srv.Listener(ln)) }()
	log.Info("pyexecd serving", "addr", ln.Addr().String(), "version", version,
		"default_python", interps.Default().Version, "interpreters", len(interps.All()),
		"cgroup_mode", cg.Mode().String())
	if len(cfg.Deps.Warmup) > 0 {
		go layerCache.Warm(ctx, interps.Default(), cfg.Deps.Warmup)
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	stop() // a second SIGTERM or SIGINT now ends the process at once
	log.Info("shutting down", "grace", cfg.Server.ShutdownGrace)
	grace, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownGrace)
	defer cancel()
	// Stop taking jobs and let running ones finish within the grace period;
	// past it, the server cancels (kills) them.
	if err := srv.Shutdown(grace); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("server shutdown", "err", err)
	}
	pool.Close() // no more refills; the waiting jails are destroyed
	if zygotes != nil {
		zygotes.Close() // no more forks; their runs were stopped above
	}
	jails.KillAll()
	httpCtx, cancelHTTP := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancelHTTP()
	if err := hs.Shutdown(httpCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	log.Info("stopped")
	return nil
}

// zygotePrepared is zygote.prepared in jail.Config's terms (where zero is
// its default and a negative count is none).
func zygotePrepared(n int) int {
	if n == 0 {
		return -1
	}
	return n
}
