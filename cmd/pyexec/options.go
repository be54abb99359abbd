package main

import (
	"os"
	"strings"

	"github.com/pyexec/pyexec/api"
)

// defaultServer is the server URL when neither --server nor PYEXEC_SERVER
// says otherwise.
const defaultServer = "http://localhost:8080"

// globalOpts are the flags every command accepts, before or after its
// name. The names are python-executor's. A zero limit means "the server's
// default".
type globalOpts struct {
	server   string
	timeout  int // seconds
	memoryMB int
	diskMB   int
	cpu      int // cpu shares
	network  bool
	image    string // docker_image
	async    bool
	quiet    bool
	verbose  bool
	help     bool
	// token is the bearer token (ours: python-executor's CLI has none).
	token string
}

// projectOpts are the flags of run and submit.
type projectOpts struct {
	files        []string
	entrypoint   string
	requirements string // path of a requirements.txt
	env          []string
	python       string
	stdinFile    string
}

// evalOpts are the flags of eval.
type evalOpts struct {
	python       string
	noResult     bool
	requirements string
	stdinFile    string
}

// streamOpts are the flags of run and eval that choose live output.
type streamOpts struct {
	on, off bool // --stream, --no-stream
}

// displayOpts are the flags of run and eval that save display items.
type displayOpts struct {
	dir string // --display-dir
}

// opts holds every flag of one invocation.
type opts struct {
	g globalOpts
	p projectOpts
	e evalOpts
	s streamOpts
	d displayOpts
}

// newOpts returns the defaults, reading PYEXEC_SERVER and PYEXEC_TOKEN
// from environ.
func newOpts(environ []string) *opts {
	o := &opts{g: globalOpts{server: defaultServer}}
	if v, ok := lookupEnv(environ, "PYEXEC_SERVER"); ok && v != "" {
		o.g.server = v
	}
	o.g.token, _ = lookupEnv(environ, "PYEXEC_TOKEN")
	return o
}

// globalFlags returns the flags every command accepts.
func (o *opts) globalFlags() *flagSet {
	fs := &flagSet{}
	g := &o.g
	fs.stringVar(&g.server, "server", "", "URL", "server URL (env PYEXEC_SERVER, default "+defaultServer+")")
	fs.stringVar(&g.token, "token", "", "TOKEN", "bearer token, for a server with server.auth_tokens (env PYEXEC_TOKEN, which keeps it out of the process list)")
	fs.intVar(&g.timeout, "timeout", "N", "execution timeout in seconds (0 = server default)")
	fs.intVar(&g.memoryMB, "memory", "N", "memory limit in MB (0 = server default)")
	fs.intVar(&g.diskMB, "disk", "N", "disk limit in MB (0 = server default)")
	fs.intVar(&g.cpu, "cpu", "N", "CPU shares (0 = server default)")
	fs.boolVar(&g.network, "network", "", "allow network access from the code")
	fs.stringVar(&g.image, "image", "", "IMAGE", "interpreter as a Docker image name, e.g. python:3.11-slim")
	fs.boolVar(&g.async, "async", "", "run: submit asynchronously and print the execution id")
	fs.boolVar(&g.quiet, "quiet", "q", "print only the script's stdout, and only on success")
	fs.boolVar(&g.verbose, "verbose", "v", "print execution details on stderr")
	fs.boolVar(&g.help, "help", "h", "show help")
	return fs
}

// flags returns the flag set of command cmd ("" for the union of all,
// used to find the command name).
func (o *opts) flags(cmd string) *flagSet {
	fs := o.globalFlags()
	all := cmd == ""
	if all || cmd == "run" || cmd == "submit" {
		p := &o.p
		fs.listVar(&p.files, "file", "", "PATH", "file to include at the archive root (repeatable, or comma-separated)", true)
		fs.stringVar(&p.entrypoint, "entrypoint", "", "NAME", "file to run (default: main.py, __main__.py, else the first .py)")
		fs.stringVar(&p.requirements, "requirements", "", "FILE", "requirements.txt to install first (the server installs it; --network is not needed)")
		fs.listVar(&p.env, "env", "e", "VAR[=VALUE]", "environment variable: VAR=value, or VAR taken from here (repeatable)", false)
		fs.stringVar(&p.python, "python", "", "VERSION", "Python version, e.g. 3.12 (wins over --image)")
		fs.stringVar(&p.stdinFile, "stdin-file", "", "PATH", "file given to the script as standard input ('-': ours)")
	}
	if all || cmd == "run" || cmd == "eval" {
		fs.boolVar(&o.s.on, "stream", "", "print the output as the code writes it (the default on a terminal)")
		fs.boolVar(&o.s.off, "no-stream", "", "print the output once the code has finished")
		fs.stringVar(&o.d.dir, "display-dir", "", "DIR", "write the run's figures and rich results there (display-1.png, display-2.html, ...)")
	}
	if cmd == "eval" {
		e := &o.e
		fs.stringVar(&e.python, "python", "", "VERSION", "Python version, e.g. 3.12 (wins over --image)")
		fs.boolVar(&e.noResult, "no-result", "", "do not evaluate and print the last expression")
		fs.stringVar(&e.requirements, "requirements", "", "FILE", "requirements.txt to install before running")
		fs.stringVar(&e.stdinFile, "stdin-file", "", "PATH", "file given to the code as standard input")
	}
	return fs
}

// config returns the limits to send. network_disabled is always sent, so
// the code gets network only when asked for with --network.
func (g *globalOpts) config() *api.Config {
	c := &api.Config{NetworkDisabled: ptr(!g.network)}
	for _, f := range []struct {
		v   int
		dst **int
	}{{g.timeout, &c.TimeoutSeconds}, {g.memoryMB, &c.MemoryMB}, {g.diskMB, &c.DiskMB}, {g.cpu, &c.CPUShares}} {
		if f.v != 0 {
			*f.dst = ptr(f.v)
		}
	}
	return c
}

func ptr[T any](v T) *T { return &v }

// resolveEnv turns -e values into KEY=value pairs: "VAR=value" is kept,
// "VAR" takes its value from environ and is an error when unset there.
func resolveEnv(vals, environ []string) ([]string, error) {
	var out []string
	for _, v := range vals {
		if strings.Contains(v, "=") {
			if strings.HasPrefix(v, "=") {
				return nil, usageErrorf("bad --env %q: no variable name", v)
			}
			out = append(out, v)
			continue
		}
		val, ok := lookupEnv(environ, v)
		if !ok {
			return nil, usageErrorf("environment variable %s is not set (use -e %s=value)", v, v)
		}
		out = append(out, v+"="+val)
	}
	return out, nil
}

// lookupEnv finds key in a KEY=value list, the last one winning like
// os.Getenv.
func lookupEnv(environ []string, key string) (string, bool) {
	val, found := "", false
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && k == key {
			val, found = v, true
		}
	}
	return val, found
}

// pythonFromImage derives the Python series ("3.11") from a Docker image
// name such as python:3.11-slim, for /eval, which has no docker_image.
func pythonFromImage(image string) (string, error) {
	_, tag, ok := strings.Cut(image, ":")
	major, rest, ok2 := strings.Cut(tag, ".")
	minor := strings.TrimLeft(rest, "0123456789")
	minor = rest[:len(rest)-len(minor)]
	if !ok || !ok2 || major == "" || strings.Trim(major, "0123456789") != "" || minor == "" {
		return "", usageErrorf("cannot tell the Python version from --image %s; use --python", image)
	}
	return major + "." + minor, nil
}

// readFileArg reads path, or stdin when path is "-".
func (c *cli) readFileArg(path string) (string, error) {
	if path == "-" {
		b, err := readAll(c.stdin)
		return string(b), err
	}
	b, err := os.ReadFile(path)
	return string(b), err
}
