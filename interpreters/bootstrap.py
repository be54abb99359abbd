# pyexec bootstrap: runs the user's entrypoint inside a jail the way
# `python /work/<entrypoint> args...` would, and reports what the server
# needs (the repr of a trailing expression, the error type and line) on a
# separate file descriptor, never in stdout. The report is a sequence of
# fields "<name> <length>\n<utf-8 bytes>" (no json: importing it costs more
# than starting the interpreter's site).
#
# usage: python -u bootstrap.py [-e] [-r FD] [-p CMD]... -- /work/ENTRY [ARG]...
#        python -u bootstrap.py -r FD -w FD
#        python -u bootstrap.py -r FD -z FD -s FD
#   -w FD   warm mode: started ahead of a request, block reading the
#           request from FD (fields as in the report: "entry", "arg",
#           "env", "eval", "pre", "layer"), then run it as above
#   -z FD   zygote mode: a template jail's init (see _zygote); FD is the
#           control socket, one request per message; -s FD holds the
#           seccomp program each run loads
#   -e      eval_last_expr: the value of a trailing expression is reported
#   -r FD   write the report to this descriptor (closed on exec of children)
#   -p CMD  run CMD with /bin/sh -c first; a failing one ends the run
#   -d DIR  a dependency layer: added like site-packages (its .pth files
#           run), ahead of the interpreter's own site-packages
#   -D N:B  offer at most N display items of B bytes together (rich forms
#           of the last expression, matplotlib figures); see _Out
#   -o GLOB -O N:B  send back the files of /work GLOB matches (repeated),
#           at most N of B bytes together
import sys
import os

_BASE_MODULES = set(sys.modules)
_BOOT = __file__
_WORK = "/work/"
_CODE = (_WORK, "<cell ")  # the user's files, and a session's cells
# The bootstrap's own imports write no bytecode, next to it or anywhere
# else; the user's code gets the interpreter's setting back (-B,
# PYTHONDONTWRITEBYTECODE), as under `python /work/ENTRY`.
_NO_BYTECODE = sys.dont_write_bytecode
sys.dont_write_bytecode = True


def _pdeathsig():
    # Die with the server. libcontainer sets a parent-death signal only on
    # its first-stage process; the container's init is forked twice after
    # that and fork clears it, so it is set here, on the init itself.
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
    except Exception:
        pass


def _report(fd, **fields):
    # A None value is sent as the field name with a "!" suffix. What the
    # run offers to show and leaves (_Out.send) comes first.
    if fd < 0:
        return
    out = []
    for k, v in fields.items():
        if v is None:
            out.append(b"%s! 0\n" % k.encode())
            continue
        b = str(v).encode("utf-8", "surrogateescape")
        out.append(b"%s %d\n%s" % (k.encode(), len(b), b))
    try:
        _Out.send(fd)
        _write_all(fd, b"".join(out) + b"end 0\n")
        os.close(fd)
    except OSError:
        pass


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_all(fd):
    # Everything fd gives until its end.
    chunks = []
    while True:
        b = os.read(fd, 1 << 16)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def _copy(src, dst):
    # src's bytes, until its end, to dst.
    while True:
        b = os.read(src, 1 << 16)
        if not b:
            return
        _write_all(dst, b)


def _user_tb(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename == _BOOT:
        tb = tb.tb_next
    return tb


def _error_line(exc, tb):
    if isinstance(exc, SyntaxError) and (exc.filename or "").startswith(_CODE):
        return exc.lineno
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_CODE):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _add_layers(dirs):
    import site
    for d in dirs:
        n = len(sys.path)
        site.addsitedir(d)
        added = sys.path[n:]
        del sys.path[n:]
        sys.path[1:1] = added  # after the script's dir, before site-packages


def _pre_commands(cmds):
    import subprocess
    for cmd in cmds:
        sys.stdout.flush()
        sys.stderr.flush()
        rc = subprocess.call(["/bin/sh", "-c", cmd])
        if rc != 0:
            return rc, cmd
    return 0, None


def _run(path, args, eval_last, fd):
    _Z.coder = os.getpid()  # a fork of the code that ends the program does not report (_finish)
    sys.argv[:] = [path] + args
    sys.path[0] = os.path.dirname(path)
    from importlib.machinery import SourceFileLoader
    main = type(sys)("__main__")
    g = main.__dict__
    g.update(__file__=path, __cached__=None, __builtins__=__builtins__,
             __loader__=SourceFileLoader("__main__", path), __spec__=None)
    sys.modules["__main__"] = main
    sys.dont_write_bytecode = _NO_BYTECODE
    code, sig, _ = _exec_code(g, path, None, eval_last, fd)
    _finish(g, code, sig)


def _exec_code(g, path, src, eval_last, fd):
    # Runs src (None: the file at path) in g as the interpreter runs a
    # program, and reports how it went on fd (closing it). Returns the exit
    # code and signal the process ends with, and whether the code asked to
    # end (SystemExit): a one-shot run ends either way, a session only then.
    try:
        if src is None:
            with open(path, "rb") as f:
                src = f.read()
        if eval_last:
            import _ast as ast  # the C module: "ast" imports ~15 ms of modules
            tree = compile(src, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            exec(compile(tree, path, "exec", dont_inherit=True), g)
            value = None
            if last is not None:
                value = eval(compile(last, path, "eval", dont_inherit=True), g)
                _display(value)
            _report(fd, result=None if value is None else repr(value))
        else:
            exec(compile(src, path, "exec", dont_inherit=True), g)
            _report(fd)
    except SystemExit as e:
        _report(fd)
        return _exit_code(e), 0, True
    except BaseException as e:
        tb = _user_tb(e.__traceback__)
        e.__traceback__ = tb  # the default hook prints the exception's own
        _report(fd, error_type=type(e).__name__, error_line=_error_line(e, tb))
        sys.excepthook(type(e), e, tb)
        # As the interpreter does: an uncaught KeyboardInterrupt ends the
        # process by SIGINT (130 to a shell), once it has cleaned up.
        if isinstance(e, KeyboardInterrupt):
            return 130, 2, False
        return 1, 0, False
    return 0, 0, False


def _exit_code(e):
    # What the interpreter does with an uncaught SystemExit.
    code = e.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def _finish(g, code, sig=0):
    # The part of interpreter shutdown a program can observe: non-daemon
    # threads joined, atexit handlers, objects of __main__ finalized,
    # streams flushed. The rest (tearing down every module) takes about
    # 2 ms and nobody sees it, so the process ends here.
    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
    except BaseException:
        pass
    try:
        import atexit
        atexit._run_exitfuncs()
    except BaseException:
        pass
    try:
        g.clear()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except BaseException:
            pass
    if _Z.status >= 0 and not sig and os.getpid() == _Z.coder:
        # A run reports its end itself (-t; a zygote run's status pipe), its
        # output closed first (what the code's children still hold ends
        # when pid 1 does): the server need not wait for this process's
        # teardown, and then for pid 1 to reap it.
        try:
            os.close(1)
            os.close(2)
            os.write(_Z.status, b"exit %d\n" % code)
        except OSError:
            pass
    if sig:
        import _signal  # the C module: "signal" imports enum
        _signal.signal(sig, _signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # a pid 1 (a cold jail's code) survives it
    os._exit(code)


def _zrequest(data):
    # A request in the report's field format ("<name> <length>\n<bytes>"),
    # as warm mode reads it from its descriptor, a zygote run from its go
    # pipe and a session from each message: entry and arg make argv, env
    # the environment, pre, layer and out (repeated) lists, eval a flag;
    # any other field is kept by name (the last one wins).
    req = {"env": {}, "argv": [], "eval": False, "pre": [], "layers": [], "out": []}
    while data:
        head, _, data = data.partition(b"\n")
        name, _, size = head.partition(b" ")
        n = int(size)
        value = data[:n].decode("utf-8", "surrogateescape")
        data = data[n:]
        name = name.decode()
        if name == "entry":
            req["argv"].insert(0, value)
        elif name == "arg":
            req["argv"].append(value)
        elif name == "env":
            k, _, v = value.partition("=")
            req["env"][k] = v
        elif name == "eval":
            req["eval"] = True
        elif name == "pre":
            req["pre"].append(value)
        elif name == "layer":
            req["layers"].append(value)
        elif name == "out":
            req["out"].append(value)
        else:
            req[name] = value
    return req


def _prepare():
    # Touch, while idle, what every run needs: the first compile in a
    # process pages in the compiler (about 1.5 ms).
    import importlib.machinery
    import _ast  # for eval_last_expr runs; a built-in module, no side effects
    g = {"__name__": "__warm__"}
    exec(compile("def f(x):\n    return [i * 2 for i in range(x)]\ny = f(3)\n",
                 "<warm>", "exec", dont_inherit=True), g)


def _warm(fd):
    # Everything before the request is start-up; the request sets what
    # `python /work/ENTRY` would have started with.
    data = _read_all(fd)
    os.close(fd)
    req = _zrequest(data)
    if "disp" in req:
        _display_setup(req["disp"])
    if "outmax" in req:
        _files_setup(req["out"], req["outmax"])
    os.environ.clear()
    os.environ.update(req["env"])
    return req["argv"], req["eval"], req["pre"], req["layers"]


# ---- what a run shows and leaves: rich results, figures, output files ----
# Sent ahead of the report's own fields as repeated fields of raw bytes
# (the server encodes them): "file" = "<path>\0<data>" per output file
# (each read and written in turn: one file in memory at a time),
# "display" = "<mime>\n<data>" per item, then "display_dropped" and
# "files_dropped" counts of what went past the request's bounds. The
# helpers keep no per-run state outside _Out, so a session's cell loop can
# use them too: _display_setup and _files_setup once, then per cell
# _display(value) for the last expression and _Out.send(fd) (figures still
# open, files, items, counts; it starts the next cell afresh) before the
# cell's own report fields; _report does both.
_RICH = (("_repr_png_", "image/png"), ("_repr_svg_", "image/svg+xml"), ("_repr_html_", "text/html"),
         ("_repr_markdown_", "text/markdown"), ("_repr_json_", "application/json"))


class _Out:
    max_items = 0   # display items one run (cell) may offer; 0: none
    max_bytes = 0   # their data's bytes together
    items = []      # [(mime, bytes)]
    used = 0
    dropped = 0
    hooked = False
    patterns = []   # output file globs, split at "/"
    max_files = 0
    max_file_bytes = 0
    files_dropped = 0

    @staticmethod
    def send(fd):
        try:
            _display_figures()
            _collect_files(fd)
            out = []
            for m, d in _Out.items:
                out.append(b"display %d\n%s\n%s" % (len(m) + 1 + len(d), m.encode(), d))
            for name, n in ((b"display_dropped", _Out.dropped), (b"files_dropped", _Out.files_dropped)):
                if n:
                    out.append(b"%s %d\n%d" % (name, len(str(n)), n))
            _write_all(fd, b"".join(out))
        finally:
            _Out.items, _Out.used, _Out.dropped, _Out.files_dropped = [], 0, 0, 0


def _bounds(spec):
    n, _, b = spec.partition(":")
    return int(n), int(b)


def _display_setup(spec):
    # spec "ITEMS:BYTES". matplotlib is not imported here: a hook waits
    # for the code to import pyplot (the environment's MPLBACKEND=Agg, set
    # by the server, keeps it off any display).
    _Out.max_items, _Out.max_bytes = _bounds(spec)
    if _Out.max_items > 0 and not _Out.hooked:
        _Out.hooked = True
        sys.meta_path.insert(0, _PyplotHook())


class _PyplotHook:
    # Finds nothing itself. When matplotlib.pyplot is first imported, it
    # wraps the module's loader so that pyplot.show() offers the open
    # figures (and closes them) instead of showing them; then it leaves.
    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        if loader is None or isinstance(loader, type) or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)

            def show(*args, **kwargs):
                _display_figures()
            show.__doc__ = getattr(module.show, "__doc__", None)
            module.show = show
        loader.exec_module = exec_module
        return spec


def _display_add(mime, data):
    if len(_Out.items) >= _Out.max_items or _Out.used + len(data) > _Out.max_bytes:
        _Out.dropped += 1
        return
    _Out.items.append((mime, data))
    _Out.used += len(data)


def _display_full():
    if len(_Out.items) >= _Out.max_items:
        _Out.dropped += 1
        return True
    return False


def _png(fig):
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _display_figures():
    # The figures pyplot holds open, as PNG, then closed (as a notebook's
    # inline backend does at the end of a cell). Nothing without pyplot.
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None or _Out.max_items <= 0:
        return
    try:
        managers = helpers.Gcf.get_all_fig_managers()
    except Exception:
        return
    for m in managers:
        if _display_full():
            continue
        try:
            _display_add("image/png", _png(m.canvas.figure))
        except Exception:
            pass
    try:
        helpers.Gcf.destroy_all()
    except Exception:
        pass


def _display(value):
    # The rich forms a value offers, as a notebook shows them: PNG, SVG,
    # HTML, Markdown, JSON, from its _repr_mimebundle_ (IPython's: its
    # entries win) and its _repr_*_ methods (a method that fails or returns
    # None offers nothing). A matplotlib Figure pyplot does not hold comes
    # as PNG.
    if value is None or _Out.max_items <= 0 or isinstance(value, type):
        return
    try:
        if getattr(value, "_pyexec_no_such_attribute_", None) is not None:
            return  # it claims every attribute (a mock): ask it nothing
    except Exception:
        return
    figure = sys.modules.get("matplotlib.figure")
    if figure is not None and isinstance(value, figure.Figure):
        try:
            if getattr(value.canvas, "manager", None) is None and not _display_full():
                _display_add("image/png", _png(value))
        except Exception:
            pass
        return
    bundle = _mimebundle(value)
    for name, mime in _RICH:
        try:
            if mime in bundle:
                data = bundle[mime]
            else:
                method = getattr(value, name, None)
                if not callable(method):
                    continue
                data = method()
                if isinstance(data, tuple) and len(data) == 2:
                    data = data[0]  # (data, metadata)
            b = _display_bytes(mime, data)
        except Exception:
            continue
        if b is not None:
            _display_add(mime, b)


def _mimebundle(value):
    # The entries of value._repr_mimebundle_() (a dict, or a (dict,
    # metadata) tuple) of the types a run offers; {} without one.
    try:
        method = getattr(value, "_repr_mimebundle_", None)
        if not callable(method):
            return {}
        try:
            bundle = method(include=None, exclude=None)
        except TypeError:
            bundle = method()
        if isinstance(bundle, tuple) and len(bundle) == 2:
            bundle = bundle[0]
        if not isinstance(bundle, dict):
            return {}
        return {m: d for m, d in bundle.items() if any(m == mime for _, mime in _RICH) and d is not None}
    except Exception:
        return {}


def _display_bytes(mime, data):
    # A rich form's data as the bytes sent back; None: not of its type.
    if data is None:
        return None
    if mime == "application/json":
        import json
        return json.dumps(data).encode()
    if mime == "image/png":
        if isinstance(data, str):
            import binascii
            return binascii.a2b_base64(data)  # IPython takes base64 text too
        if isinstance(data, (bytes, bytearray)):
            return bytes(data)
        return None
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    if not isinstance(data, str):
        return None
    return data.encode("utf-8", "replace")


def _files_setup(patterns, spec):
    _Out.patterns = [p.split("/") for p in patterns]
    _Out.max_files, _Out.max_file_bytes = _bounds(spec)


def _glob(pat, parts, fnmatch, prefix=False):
    # pat matches the path parts ("**": any number of them); with prefix,
    # whether a path below the directory parts could match.
    while True:
        if not parts:
            return prefix or not pat or pat == ["**"]
        if not pat:
            return False
        if pat[0] == "**":
            return prefix or any(_glob(pat[1:], parts[i:], fnmatch) for i in range(len(parts) + 1))
        if not fnmatch(parts[0], pat[0]):
            return False
        pat, parts = pat[1:], parts[1:]


def _collect_files(out):
    # Sends the regular files of /work the patterns match to descriptor
    # out, each read by descriptor from /work down (no link is followed,
    # nothing but regular files is opened) and written before the next is
    # read. Past the bounds a file is counted, not read.
    if not _Out.patterns:
        return
    from fnmatch import fnmatchcase
    import stat
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    seen, sent = [0], [0, 0]  # entries looked at; files and bytes sent

    def walk(dfd, rel, depth):
        try:
            names = sorted(os.listdir(dfd))
        except OSError:
            return
        for name in names:
            seen[0] += 1
            if seen[0] > 100000:
                return
            parts = rel + [name]
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if depth < 64 and any(_glob(p, parts, fnmatchcase, True) for p in _Out.patterns):
                    try:
                        sub = os.open(name, flags | os.O_DIRECTORY, dir_fd=dfd)
                    except OSError:
                        continue
                    try:
                        walk(sub, parts, depth + 1)
                    finally:
                        os.close(sub)
                continue
            if not stat.S_ISREG(st.st_mode) or not any(_glob(p, parts, fnmatchcase) for p in _Out.patterns):
                continue
            room = _Out.max_file_bytes - sent[1]
            if sent[0] >= _Out.max_files or st.st_size > room:
                _Out.files_dropped += 1
                continue
            try:
                fd = os.open(name, flags | os.O_NONBLOCK, dir_fd=dfd)
            except OSError:
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    continue
                if st.st_size > room:
                    _Out.files_dropped += 1
                    continue
                buf = bytearray(st.st_size)
                view, n = memoryview(buf), 0
                while n < len(buf):
                    k = os.readv(fd, [view[n:]])
                    if not k:
                        break
                    n += k
                grew = n == len(buf) and os.read(fd, 1) != b""
            except OSError:
                continue
            finally:
                os.close(fd)
            if grew:
                _Out.files_dropped += 1  # it grew meanwhile: not sent cut
                continue
            head = "/".join(parts).encode("utf-8", "surrogateescape") + b"\0"
            _write_all(out, b"file %d\n%s" % (len(head) + n, head))
            _write_all(out, view[:n])
            sent[0] += 1
            sent[1] += n
    try:
        top = os.open("/work", flags | os.O_DIRECTORY)
    except OSError:
        return
    try:
        walk(top, [], 0)
    finally:
        os.close(top)

# ---- zygote mode ---------------------------------------------------------
# The zygote is the init of a template jail: a user namespace of its own
# (owned by an unprivileged host id), the capabilities it needs to make a
# run's namespaces and mounts, a looser seccomp filter. It forks one child
# per request, after a new pid namespace for it (unshare, then back with
# setns, so that the zygote itself stays where it is):
#   A  is pid 1 of the run's pid namespace: joins the run's cgroup
#      (descriptors the server opened), unshares mount, net, ipc, uts and
#      cgroup namespaces, mounts a fresh /work, /tmp, /dev/shm and /proc,
#      brings up loopback, forks C, then reaps orphans and forwards signals
#      until C ends, and writes C's status to the status descriptor; its exit
#      ends the namespace;
#   C  drops every capability and group, becomes the run's uid, sets its
#      rlimits, loads the strict seccomp program, walks a run's steps once
#      (_zwarm) unless its request comes at once, and waits on its go pipe
#      for the request (the server forks
#      runs ahead of their requests: jail/zygote_prep.go); then places the
#      request's files (charged to the run) and runs the code as in warm
#      mode.
# The request's message holds what A and C need before the request (uid,
# sandbox, disk, the rlimits, ncg, session) with descriptors: stdin, stdout, stderr, report, status, files,
# ncg cgroup.procs files, the go pipe, a session's socket; the go pipe
# then brings the rest (interpreters.EncodeRequest's fields).
_CLONE_NEWPID = 0x20000000
_CLONE_FLAGS = 0x20000 | 0x40000000 | 0x08000000 | 0x04000000 | 0x02000000  # mount net ipc uts cgroup
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_RDONLY = 2, 4, 8, 1
_MS_REMOUNT, _MS_BIND, _MS_REC, _MS_PRIVATE = 32, 4096, 16384, 1 << 18
_PROC_MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                "/proc/interrupts", "/proc/sysrq-trigger")
_PROC_RO = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys")
_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGCONT", "SIGWINCH")


class _Z:
    comm = b""   # the zygote's process name, which runs keep
    select = None
    status = -1  # the status descriptor (-t; a zygote run's): _finish reports there
    coder = -1   # the pid of the code's process: only it reports (not its forks)
    libc = None
    prog = None  # the seccomp sock_fprog, built once
    pidns = -1   # the zygote's own pid namespace


def _zfail(status_fd, what, err=None):
    # err: an OSError's errno; otherwise the last libc call's.
    try:
        if err is None:
            err = _Z.libc and __import__("ctypes").get_errno()
        os.write(status_fd, ("setup %s errno %s\n" % (what, err)).encode())
    except Exception:
        pass
    os._exit(126)


def _zmount(src, dst, fstype, flags, data, status_fd):
    if _Z.libc.mount(src, dst, fstype, flags, data) != 0:
        _zfail(status_fd, "mount " + dst.decode())


def _zproc(status_fd):
    _zmount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, None, status_fd)
    for p in _PROC_MASKED:
        b = p.encode()
        if os.path.isdir(p):
            _Z.libc.mount(b"tmpfs", b, b"tmpfs", _MS_RDONLY, b"size=0")
        elif os.path.exists(p):
            _Z.libc.mount(b"/dev/null", b, None, _MS_BIND, None)


def _zproc_ro():
    for p in _PROC_RO:
        b = p.encode()
        if _Z.libc.mount(b, b, None, _MS_BIND | _MS_REC, None) == 0:
            _Z.libc.mount(b, b, None, _MS_BIND | _MS_REC | _MS_REMOUNT | _MS_RDONLY, None)


def _zlo_up():
    import _socket, fcntl, _struct
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        fcntl.ioctl(s.fileno(), 0x8914, _struct.pack("16sH22x", b"lo", 0x1 | 0x8 | 0x40))  # SIOCSIFFLAGS UP|LOOPBACK|RUNNING
    finally:
        s.close()


# Directory descriptors _zplace keeps open (the run's RLIMIT_NOFILE is
# 1024; a request may hold thousands of directories).
_ZPLACE_FDS = 64


def _zplace(fd, uid):
    # The request's files, from the server's stream: per entry a line
    # "<kind> <mode> <pathlen> <datalen>\n" then the path, then the data
    # (a link's target). Directories are walked by descriptor, one
    # component at a time, and no link is followed; the most recently used
    # ones stay open (opening one again walks from its nearest open parent).
    f = os.fdopen(fd, "rb", buffering=1 << 16)
    root = os.open("/work", os.O_RDONLY | os.O_DIRECTORY)
    dirs = {}  # path -> descriptor, least recently used first

    def opendir(path):
        if path == "":
            return root
        d = dirs.pop(path, None)
        if d is None:
            parent, _, name = path.rpartition("/")
            d = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=opendir(parent))
            while len(dirs) >= _ZPLACE_FDS:
                os.close(dirs.pop(next(iter(dirs))))
        dirs[path] = d
        return d

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        while True:
            head = f.readline()
            if not head:
                break
            kind, mode, plen, dlen = head.split()
            path = f.read(int(plen)).decode("utf-8", "surrogateescape")
            data = f.read(int(dlen))
            parent, _, name = path.rpartition("/")
            pfd = opendir(parent)
            mode = int(mode, 8)
            if kind == b"d":
                try:
                    os.mkdir(name, mode or 0o755, dir_fd=pfd)
                except FileExistsError:
                    pass
                os.fchmod(opendir(path), mode or 0o755)
            elif kind == b"l":
                os.symlink(data.decode("utf-8", "surrogateescape"), name, dir_fd=pfd)
            else:
                out = os.open(name, flags, mode or 0o644, dir_fd=pfd)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(out, view):]
                    os.fchmod(out, mode or 0o644)
                finally:
                    os.close(out)
    finally:
        for d in dirs.values():
            os.close(d)
        os.close(root)
    f.close()


# The budgets of each run's own user namespace (per user in it).
_RUN_SYSCTLS = (("max_inotify_instances", b"16"), ("max_inotify_watches", b"8192"),
                ("max_fanotify_groups", b"0"), ("max_fanotify_marks", b"0"), ("max_user_namespaces", b"0"))


def _zrun(req, fds, sync):
    # C: the run's code, as the sandbox uid of a user namespace of its own
    # (mapped by A onto the run's zygote uid), without privileges.
    import _signal as signal
    stdin, stdout, stderr, report, status, files = fds[:6]
    libc = _Z.libc
    for name in _FORWARDED + ("SIGCHLD", "SIGPIPE"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # what the interpreter starts with
    ready_w, mapped_r, went = sync
    if libc.unshare(0x10000000) != 0:  # CLONE_NEWUSER
        _zfail(status, "unshare user")
    os.write(ready_w, b"u")
    if os.read(mapped_r, 1) != b"m":
        _zfail(status, "map ids", 0)
    # The zygote's own namespace allows each budget times its runs: these are
    # what keeps one run from taking its siblings' share. Fail closed.
    for name, value in _RUN_SYSCTLS:
        try:
            fd = os.open("/proc/sys/user/" + name, os.O_WRONLY)
        except FileNotFoundError:
            continue  # a kernel without that counter (fanotify)
        except OSError as e:
            _zfail(status, "set user." + name, e.errno)
        try:
            os.write(fd, value)
        except OSError as e:
            _zfail(status, "set user." + name, e.errno)
        finally:
            os.close(fd)
    # A makes /proc/sys read-only once they are set.
    os.write(ready_w, b"s")
    os.close(ready_w)
    if os.read(mapped_r, 1) != b"g":
        _zfail(status, "read-only /proc/sys", 0)
    os.close(mapped_r)
    # A new user namespace starts with a full bounding set: empty it.
    for cap in range(64):
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP until EINVAL
            break
    libc.prctl(47, 4, 0, 0, 0)  # PR_CAP_AMBIENT_CLEAR_ALL
    uid = int(req["sandbox"])
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)  # from the namespace's root: no capability is left
    import resource
    for name, value in (("RLIMIT_CORE", 0), ("RLIMIT_NOFILE", req["nofile"]), ("RLIMIT_FSIZE", req["fsize"]),
                        ("RLIMIT_SIGPENDING", req["sigpending"]), ("RLIMIT_MSGQUEUE", req["msgqueue"])):
        v = int(value)
        resource.setrlimit(getattr(resource, name), (v, v))
    os.dup2(stdin, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    os.dup2(report, 3)
    for fd in (stdin, stdout, stderr, report):
        if fd > 3:
            os.close(fd)
    os.set_inheritable(3, False)
    # C writes its own end there when it leaves by _finish (A would write
    # the same once it has reaped C, whose teardown takes ~0.5 ms more).
    os.set_inheritable(status, False)
    _Z.status = status
    if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, _Z.prog, 0, 0) != 0:  # NO_NEW_PRIVS, SECCOMP
        os.write(2, b"pyexec: cannot load the seccomp filter\n")
        os._exit(126)
    os.chdir("/work")
    go = fds[6 + int(req["ncg"])]
    # Unless its request comes at once (back-to-back load, where the walk
    # only adds CPU: ~10% fewer runs/s measured), the run walks a run's
    # steps while it waits, which takes ~1 ms off the request's latency
    # after an idle moment.
    if not _Z.select([go], [], [], _ZWARM_AFTER)[0]:
        _zwarm()
    # Held, not freed: freeing them would write to many of the zygote's
    # pages (copies, in this process) for nothing.
    _Z.held = [sys.modules.pop(name, None) for name in set(sys.modules) - _BASE_MODULES - _ZYGOTE_KEEP]
    # Prepared: the run waits here, forked ahead, for its request (the
    # program and its environment); without one it leaves.
    data = _read_all(go)
    os.close(go)
    if not data:
        os._exit(0)
    libc.prctl(15, _Z.comm, 0, 0, 0)  # PR_SET_NAME: the interpreter's again
    os.close(went)  # A takes its name back too
    req.update(_zrequest(data))
    _zplace(files, uid)
    os.environ.clear()
    os.environ.update(req["env"])
    return 3


# How long a prepared run waits for its request before it walks a run's
# steps (_zwarm), in seconds.
_ZWARM_AFTER = 0.005


def _zwarm():
    # A prepared run, before its request, walks the steps its request will
    # take (fields parsed, the environment set, a program compiled and run
    # with its last expression, a report made), so that the pages of the
    # zygote's image they write (reference counts, caches) are copied now,
    # off the request's clock. Nothing is kept: the globals are dropped,
    # the report goes to /dev/null, the environment is set again by the
    # request, and what this imports leaves with the zygote's extras.
    try:
        env = dict(os.environ)
        os.environ.clear()
        os.environ.update(env)
        _zrequest(b"entry 12\n/work/main.pyarg 1\nxenv 3\nA=Beval 0\n")
        import _ast as ast
        from importlib.machinery import SourceFileLoader
        path = "/work/main.py"
        tree = compile(b"import os, sys\nx = [i * 2 for i in range(3)]\nx\n",
                       path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        last = ast.Expression(tree.body.pop().value)
        g = {"__name__": "__warm__", "__builtins__": __builtins__, "__loader__": SourceFileLoader("__warm__", path)}
        exec(compile(tree, path, "exec", dont_inherit=True), g)
        value = eval(compile(last, path, "eval", dont_inherit=True), g)
        _report(os.open("/dev/null", os.O_WRONLY | os.O_CLOEXEC), result=repr(value))
    except Exception:
        pass


# What a cold run has imported too by the time the code runs.
_ZYGOTE_KEEP = {"importlib.machinery", "_ast"}


def _zinit(child, status_fd):
    # A, once C runs: pid 1 of the run. Reaps whatever is orphaned, forwards signals to
    # the code (_forward, set before C's request), and reports the code's
    # end; leaving ends the namespace.
    st = _reap(child, False)
    if os.WIFSIGNALED(st):
        msg = b"signal %d\n" % os.WTERMSIG(st)
    else:
        msg = b"exit %d\n" % os.WEXITSTATUS(st)
    try:
        os.write(status_fd, msg)
    except OSError:
        pass
    os._exit(0)


def _init(keep):
    # A cold or pooled jail's bootstrap is pid 1 of its pid namespace. As
    # in a zygote run, pid 1 is a tiny init and the code is its child: the
    # child returns; the parent closes the descriptors in keep (the child's
    # alone: report, request), reaps orphans, forwards signals, and exits
    # as the code ended (128+N for a signal N, as a shell reports it; pid 1
    # cannot die of its own signal).
    child = os.fork()
    if child == 0:
        return
    for fd in keep:
        if fd >= 0:
            os.close(fd)
    # Pid 1 writes nothing: without its stdio, the output ends with the
    # code's (and what the code's children hold).
    null = os.open("/dev/null", os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    st = _reap(child)
    code = 128 + os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)
    if _Z.status >= 0:  # the code's end, unless the code told it (_finish)
        try:
            os.write(_Z.status, b"exit %d\n" % code)
        except OSError:
            pass
    os._exit(code)


def _forward(child):
    # Pid 1 forwards the usual signals to child.
    import _signal  # the C module: "signal" imports enum

    def forward(sig, frame):
        try:
            os.kill(child, sig)
        except OSError:
            pass
    for name in _FORWARDED:
        _signal.signal(getattr(_signal, name), forward)
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)


def _reap(child, forward=True):
    # Pid 1's loop: forwards the usual signals to child (unless already
    # set: forward false), reaps every child of the namespace, and returns
    # child's wait status once it ended.
    if forward:
        _forward(child)
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            os._exit(0)
        except InterruptedError:
            continue
        if pid == child:
            return st


def _zchild(req, fds):
    # A (returns, as C, the report descriptor to run the code with).
    import _signal
    _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
    status = fds[4]
    ncg = int(req["ncg"])
    for fd in fds[6:6 + ncg]:
        try:
            os.write(fd, b"0")
        except OSError as e:
            _zfail(status, "join cgroup", e.errno)
        os.close(fd)
    req["sfd"] = fds[7 + ncg] if "session" in req else -1  # after the go pipe
    libc = _Z.libc
    if libc.unshare(_CLONE_FLAGS) != 0:
        _zfail(status, "unshare")
    _zmount(None, b"/", None, _MS_REC | _MS_PRIVATE, None, status)
    uid = int(req["uid"])
    disk = int(req["disk"])
    _zmount(b"tmpfs", b"/work", b"tmpfs", _MS_NOSUID | _MS_NODEV,
            b"size=%d,mode=0700,uid=%d,gid=%d" % (disk, uid, uid), status)
    _zmount(b"tmpfs", b"/tmp", b"tmpfs", _MS_NOSUID | _MS_NODEV, b"size=%d,mode=1777" % disk, status)
    _zmount(b"shm", b"/dev/shm", b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
            b"size=%d,mode=1777" % min(disk, 64 << 20), status)
    _zproc(status)
    libc.sethostname(b"pyexec", 6)
    _zlo_up()
    ready_r, ready_w = os.pipe()
    mapped_r, mapped_w = os.pipe()
    went_r, went_w = os.pipe()  # C closes it once its request came
    # A prepared run's processes are named so until then (leftover checks
    # tell them from runs by it: jail.PreparedComm).
    libc.prctl(15, b"pyexec-prep", 0, 0, 0)
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(mapped_w)
        os.close(went_r)
        return _zrun(req, fds, (ready_w, mapped_r, went_w))
    os.close(ready_w)
    os.close(mapped_r)
    os.close(went_w)
    for fd in fds[:4] + fds[5:6] + fds[6 + ncg:]:  # then C's go pipe and a session's socket
        os.close(fd)
    # C's user namespace: its root is the zygote's, its sandbox user the
    # run's own uid of the zygote's namespace.
    if os.read(ready_r, 1) == b"u":
        try:
            for name in ("uid_map", "gid_map"):
                fd = os.open("/proc/%d/%s" % (child, name), os.O_WRONLY)
                os.write(fd, b"0 0 1\n%s %s 1\n" % (req["sandbox"].encode(), req["uid"].encode()))
                os.close(fd)
            os.write(mapped_w, b"m")
        except OSError as e:
            os.write(status, ("setup map ids: %s\n" % e).encode())
        else:
            # C has set its namespace's budgets (/proc/sys/user): now
            # /proc/sys becomes read-only for the run.
            if os.read(ready_r, 1) == b"s":
                _zproc_ro()
                os.write(mapped_w, b"g")
    os.close(ready_r)
    os.close(mapped_w)
    _forward(child)  # now, not on the request's clock
    try:
        os.read(went_r, 1)  # EOF: C has its request (or has ended)
    except OSError:
        pass
    os.close(went_r)
    libc.prctl(15, _Z.comm, 0, 0, 0)
    _zinit(child, status)


# The id a zygote's namespace maps onto the server's own uid when a run can
# join its cgroup (v1) only with the server's uid (jail.CgroupJoinerID).
_ZJOINER = 65533


def _zjoiner():
    # Kept as the saved uid only: A's cgroup.procs write passes cgroup v1's
    # check (the opener's uid is the task's uid or saved uid), while the
    # namespace stays owned, and the zygote charged, as its own host id.
    # C sets all three uids to its own before any code runs.
    with open("/proc/self/uid_map") as f:
        if not any(line.split()[:1] == [str(_ZJOINER)] for line in f):
            return
    os.setresuid(0, 0, _ZJOINER)
    _pdeathsig()  # a change of ids clears the parent-death signal


def _zygote(ctl, report, bpf):
    # The C modules: "signal" and "socket" import enum, "array" collections
    # (~1 MB of the zygote's memory, and pages each run would copy).
    import ctypes, _signal as signal, _socket as socket, resource, select
    _Z.select = select.select
    import fcntl, _struct  # for the runs' loopback
    _Z.libc = ctypes.CDLL(None, use_errno=True)
    for fn in ("mount", "unshare", "sethostname", "prctl"):
        getattr(_Z.libc, fn)
    prog = _read_all(bpf)
    os.close(bpf)

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    _Z.buf = ctypes.create_string_buffer(prog, len(prog))
    _Z.prog = ctypes.byref(SockFprog(len(prog) // 8, ctypes.addressof(_Z.buf)))
    _Z.pidns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
    with open("/proc/self/comm", "rb") as f:
        _Z.comm = f.read().strip()
    for fn in ("setns",):
        getattr(_Z.libc, fn)
    _zjoiner()
    _prepare()
    import gc
    gc.collect()
    _zimmortal(ctypes)
    # What the start-up freed (the compiler's warm-up, the walk above) goes
    # back to the kernel rather than into every run's image: ~0.35 MB PSS.
    _Z.libc.malloc_trim(0)
    gc.freeze()  # what the zygote made stays put: fewer copied pages per run
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps A and B
    sock = socket.socket(fileno=ctl)
    os.write(report, b"ready\n")
    os.close(report)
    fdsize = 4  # a C int
    while True:
        try:
            msg, anc, _, _ = sock.recvmsg(1 << 20, socket.CMSG_SPACE(32 * fdsize))
        except InterruptedError:
            continue
        if not msg:
            os._exit(0)  # the server closed its end
        fds = []
        for level, kind, data in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(memoryview(data[:len(data) - len(data) % fdsize]).cast("i"))
        pid = -1
        if _Z.libc.unshare(_CLONE_NEWPID) == 0:  # the run is pid 1 of its own
            try:
                pid = os.fork()
            except OSError:
                pid = -1
            if pid != 0:
                _Z.libc.setns(_Z.pidns, _CLONE_NEWPID)
        if pid == 0:
            sock.close()
            req = _zrequest(msg)
            try:
                fd = _zchild(req, fds)
            except BaseException as e:
                _zfail(fds[4] if len(fds) > 4 else 2, "%s: %s" % (type(e).__name__, e))
            _zexec(req, fd)
        for fd in fds:
            os.close(fd)


def _zimmortal(ctypes):
    # Python 3.12+ never writes the reference count of an immortal object
    # (PEP 683: None, small ints, interned strings...). The zygote makes
    # every object it holds immortal, so that a run that only uses them
    # (a module's functions, their code and constants) does not copy the
    # pages they are on: measured, a trivial run's page faults went from
    # ~735 to ~555. What a run can tell: sys.getrefcount of such an object
    # reads as None's, and it is never freed (docs/jail.md). Only where
    # the count is one Py_ssize_t and immortal with None's value: 3.12 and
    # 3.13, not free-threaded (3.14 keeps flags beside it: not tried yet).
    word = ctypes.c_ssize_t.from_address(id(None)).value
    if sys.version_info[:2] not in ((3, 12), (3, 13)) or "t" in sys.abiflags or not word & 0x80000000:
        return
    import gc
    code = type(_zimmortal.__code__)
    ref = ctypes.c_ssize_t.from_address
    # Marked as it goes (an immortal object is not walked again): no set
    # of what was seen, whose thousands of ints would stay behind in
    # half-empty pools.
    todo = gc.get_objects()
    while todo:
        o = todo.pop()
        count = ref(id(o))
        if count.value == word:
            continue
        count.value = word
        if type(o) is code:  # not traversed by the collector
            todo.append(o.co_consts)
            todo.append(o.co_names)
        else:
            todo.extend(gc.get_referents(o))


def _zexec(req, fd):
    pre, layers, argv = req["pre"], req["layers"], req["argv"]
    if "disp" in req:
        _display_setup(req["disp"])
    if "outmax" in req:
        _files_setup(req["out"], req["outmax"])
    if pre:
        rc, cmd = _pre_commands(pre)
        if rc != 0:
            _report(fd, pre_command_failed=cmd)
            sys.stdout.flush()
            os._exit(rc if 0 < rc < 256 else 1)
    if layers:
        _add_layers(layers)
    if req["sfd"] >= 0:
        _session(req["sfd"], fd)
    _run(argv[0], argv[1:], req["eval"], fd)


# ---- session mode --------------------------------------------------------
# A session is a zygote run whose code does not end after one program: C
# reads requests from its socket (the server's end of a SOCK_SEQPACKET
# pair), one a message in the request's field format, with descriptors
# (SCM_RIGHTS), and answers each with one message:
#   op cell: fds code, stdin, stdout, stderr, report; field "eval" for
#            eval_last_expr, "out" (repeated) and "outmax" for the cell's
#            output files (as a run's -o, -O). The code runs in the session's one __main__
#            (_exec_code, as a one-shot run's) with the cell's stdio and
#            report. Answer "done <exit code>" (0, 1 for an exception, 130
#            for KeyboardInterrupt); SystemExit ends the session instead,
#            with its code, as a program's end (_finish).
#   op put:  field "path" (relative to /work), "mode"; fd a pipe with the
#            data. Parents are made; nothing is resolved through a link.
#   op get:  field "path"; fd a pipe to write the regular file to.
#   op list: fd a pipe for "<kind> <size> <path>\n" lines (f, d, l, o).
#   put, get, list answer "ok" or "error <why>".
# It first sends "ready" (the server takes its pid from the credentials
# the kernel attaches: SIGINT interrupts a cell). Between cells stdio is
# /dev/null. The server ends a session by closing its end or killing it.
_SESSION_FDS = 8


def _session(sfd, report):
    import socket, array, signal
    _Z.coder = os.getpid()  # as in _run
    os.set_inheritable(sfd, False)
    sock = socket.socket(fileno=sfd)
    null = os.open("/dev/null", os.O_RDWR)  # above 3: the report is still open
    try:
        os.close(report)
    except OSError:
        pass
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    main = type(sys)("__main__")
    g = main.__dict__
    g.update(__builtins__=__builtins__, __spec__=None)
    sys.modules["__main__"] = main
    sys.argv[:] = [""]
    sys.path[0] = "/work"
    sys.dont_write_bytecode = _NO_BYTECODE
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as a program starts
    if sys.excepthook is sys.__excepthook__:
        sys.excepthook = _scell_hook
    fdsize = array.array("i").itemsize
    sock.send(b"ready")
    cells = 0
    while True:
        fds = array.array("i")
        try:
            msg, anc, _, _ = sock.recvmsg(1 << 16, socket.CMSG_SPACE(_SESSION_FDS * fdsize))
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    fds.frombytes(data[:len(data) - len(data) % fdsize])
        except (KeyboardInterrupt, InterruptedError):
            continue  # an interrupt that came as the cell ended
        except OSError:
            msg = b""
        if not msg:
            _finish(g, 0)  # the server closed its end
        fds = list(fds)
        reply, req = b"error bad request", {}
        try:
            req = _zrequest(msg)
            op = req.get("op")
            if op == "cell" and len(fds) == 5:
                cells += 1
                reply = _scell(g, req, fds, cells, null)
            elif op in ("put", "get", "list") and len(fds) == 1:
                reply = _sfile(op, req, fds[0])
        except KeyboardInterrupt:
            reply = b"done 130" if req.get("op") == "cell" else b"error interrupted"
        except Exception as e:
            reply = ("error %s" % e).encode("utf-8", "replace")
        finally:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass
        reply = req.get("seq", "0").encode() + b" " + reply
        while True:
            try:
                sock.send(reply)
                break
            except (KeyboardInterrupt, InterruptedError):
                continue
            except OSError:
                _finish(g, 0)


def _scell_hook(kind, value, tb):
    # The default hook, but through linecache, which holds the cells' lines
    # (the interpreter's own reads the file a traceback names).
    import traceback
    traceback.print_exception(kind, value, tb)


def _scell(g, req, fds, n, null):
    code_r, stdin_r, out_w, err_w, rep_w = fds
    src = _read_all(code_r)
    os.dup2(stdin_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.dup2(rep_w, 3, inheritable=False)
    path = "<cell %d>" % n
    import linecache  # tracebacks show the cell's lines
    text = src.decode("utf-8", "replace")
    linecache.cache[path] = (len(text), None, text.splitlines(True), path)
    if "outmax" in req:
        _files_setup(req["out"], req["outmax"])
    try:
        code, _, exited = _exec_code(g, path, src, req["eval"], 3)
        if exited:
            _finish(g, code)
    finally:
        _Out.patterns = []  # the next cell names its own
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        try:
            os.close(3)
        except OSError:
            pass
    return b"done %d" % code


def _sopen(path, create):
    # The directory holding path under /work, opened one part at a time
    # without following a link (made on the way with create), and the
    # last part's name.
    parts = path.split("/")
    if not path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError("invalid path")
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    d = os.open("/work", flags)
    try:
        for p in parts[:-1]:
            if create:
                try:
                    os.mkdir(p, 0o755, dir_fd=d)
                except FileExistsError:
                    pass
            sub = os.open(p, flags, dir_fd=d)
            os.close(d)
            d = sub
    except BaseException:
        os.close(d)
        raise
    return d, parts[-1]


def _sfile(op, req, fd):
    import stat
    try:
        if op == "list":
            _slist(fd)
            return b"ok"
        d, name = _sopen(req.get("path", ""), op == "put")
        try:
            if op == "put":
                mode = int(req.get("mode", "644"), 8) & 0o777
                out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC,
                              mode, dir_fd=d)
                try:
                    if not stat.S_ISREG(os.fstat(out).st_mode):
                        return b"error not a regular file"
                    _copy(fd, out)
                    os.fchmod(out, mode)
                finally:
                    os.close(out)
                return b"ok"
            src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=d)
            try:
                if not stat.S_ISREG(os.fstat(src).st_mode):
                    return b"error not a regular file"
                _copy(src, fd)
            finally:
                os.close(src)
            return b"ok"
        finally:
            os.close(d)
    except FileNotFoundError:
        return b"error no such file"
    except OSError as e:
        if e.errno == 40:  # ELOOP: a link
            return b"error a symbolic link is in the way"
        if e.errno == 20:  # ENOTDIR
            return b"error a parent is not a directory (or is a link)"
        if e.errno == 21:
            return b"error is a directory"
        if e.errno == 28:
            return b"error no space left (disk_mb)"
        return ("error %s" % os.strerror(e.errno or 5)).encode()


def _slist(fd):
    import stat
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    out, count = [], [0]

    def walk(dfd, rel, depth):
        for name in sorted(os.listdir(dfd)):
            count[0] += 1
            if count[0] > 10000:
                return
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except OSError:
                continue
            p = rel + name
            kind = "f" if stat.S_ISREG(st.st_mode) else "d" if stat.S_ISDIR(st.st_mode) else \
                "l" if stat.S_ISLNK(st.st_mode) else "o"
            out.append(("%s %d %s\n" % (kind, st.st_size if kind == "f" else 0, p)).encode("utf-8", "surrogateescape"))
            if kind == "d" and depth < 32:
                try:
                    sub = os.open(name, flags, dir_fd=dfd)
                except OSError:
                    continue
                try:
                    walk(sub, p + "/", depth + 1)
                finally:
                    os.close(sub)
    top = os.open("/work", flags)
    try:
        walk(top, "", 0)
    finally:
        os.close(top)
    _write_all(fd, b"".join(out))



def _main():
    argv = sys.argv[1:]
    eval_last, fd, pre, layers, warm, zygote, bpf = False, -1, [], [], -1, -1, -1
    outs = []
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "-e":
            eval_last = True
        elif opt == "-r":
            fd = int(argv.pop(0))
            try:
                os.set_inheritable(fd, False)
            except OSError:
                fd = -1  # no report channel: run without one
        elif opt == "-p":
            pre.append(argv.pop(0))
        elif opt == "-d":
            layers.append(argv.pop(0))
        elif opt == "-w":
            warm = int(argv.pop(0))
        elif opt == "-z":
            zygote = int(argv.pop(0))
        elif opt == "-s":
            bpf = int(argv.pop(0))
        elif opt == "-t":
            status = int(argv.pop(0))
            try:
                os.set_inheritable(status, False)
                _Z.status = status
            except OSError:
                pass  # no status channel: the server waits for the exit
        elif opt == "-D":
            _display_setup(argv.pop(0))
        elif opt == "-o":
            outs.append(argv.pop(0))
        elif opt == "-O":
            _files_setup(outs, argv.pop(0))
    _pdeathsig()
    if zygote >= 0:
        _zygote(zygote, fd, bpf)
    if warm >= 0:
        _prepare()
        if fd >= 0:
            os.write(fd, b"ready\n")  # the server pools the jail from now on
        if os.getpid() == 1:
            _init((fd, warm))
        argv, eval_last, pre, layers = _warm(warm)
    else:
        argv.pop(0)  # "--"
        if os.getpid() == 1:
            _init((fd,))
    if pre:
        rc, cmd = _pre_commands(pre)
        if rc != 0:
            _report(fd, pre_command_failed=cmd)
            sys.stdout.flush()
            os._exit(rc if 0 < rc < 256 else 1)
    if layers:
        _add_layers(layers)
    _run(argv[0], argv[1:], eval_last, fd)


_main()
