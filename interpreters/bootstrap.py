# pyexec bootstrap: runs the user's entrypoint inside a jail the way
# `python /work/<entrypoint> args...` would, and reports what the server
# needs (the repr of a trailing expression, the error type and line) on a
# separate file descriptor, never in stdout. The report is a sequence of
# fields "<name> <length>\n<utf-8 bytes>" (no json: importing it costs more
# than starting the interpreter's site).
#
# usage: python -u bootstrap.py [-e] [-r FD] [-p CMD]... -- /work/ENTRY [ARG]...
#        python -u bootstrap.py -r FD -w FD
#   -w FD   warm mode: started ahead of a request, block reading the
#           request from FD (fields as in the report: "entry", "arg",
#           "env", "eval", "pre", "layer"), then run it as above
#   -e      eval_last_expr: the value of a trailing expression is reported
#   -r FD   write the report to this descriptor (closed on exec of children)
#   -p CMD  run CMD with /bin/sh -c first; a failing one ends the run
#   -d DIR  a dependency layer: added like site-packages (its .pth files
#           run), ahead of the interpreter's own site-packages
import sys
import os

_BOOT = __file__
_WORK = "/work/"
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
    # A None value is sent as the field name with a "!" suffix.
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
        os.write(fd, b"".join(out) + b"end 0\n")
        os.close(fd)
    except OSError:
        pass


def _user_tb(tb):
    while tb is not None and tb.tb_frame.f_code.co_filename == _BOOT:
        tb = tb.tb_next
    return tb


def _error_line(exc, tb):
    if isinstance(exc, SyntaxError) and (exc.filename or "").startswith(_WORK):
        return exc.lineno
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(_WORK):
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
    sys.argv[:] = [path] + args
    sys.path[0] = os.path.dirname(path)
    from importlib.machinery import SourceFileLoader
    main = type(sys)("__main__")
    g = main.__dict__
    g.update(__file__=path, __cached__=None, __builtins__=__builtins__,
             __loader__=SourceFileLoader("__main__", path), __spec__=None)
    sys.modules["__main__"] = main
    sys.dont_write_bytecode = _NO_BYTECODE
    try:
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
            _report(fd, result=None if value is None else repr(value))
        else:
            exec(compile(src, path, "exec", dont_inherit=True), g)
            _report(fd)
    except SystemExit as e:
        _report(fd)
        _finish(g, _exit_code(e))
    except BaseException as e:
        tb = _user_tb(e.__traceback__)
        e.__traceback__ = tb  # the default hook prints the exception's own
        _report(fd, error_type=type(e).__name__, error_line=_error_line(e, tb))
        sys.excepthook(type(e), e, tb)
        _finish(g, 1)
    _finish(g, 0)


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


def _finish(g, code):
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
    os._exit(code)


def _read_fields(fd):
    data = b""
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    fields = []
    while data:
        head, _, data = data.partition(b"\n")
        name, _, size = head.partition(b" ")
        n = int(size)
        fields.append((name.decode(), data[:n].decode("utf-8", "surrogateescape")))
        data = data[n:]
    return fields


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
    argv, env = [], {}
    eval_last, pre, layers = False, [], []
    for name, value in _read_fields(fd):
        if name == "entry":
            argv.insert(0, value)
        elif name == "arg":
            argv.append(value)
        elif name == "env":
            k, _, v = value.partition("=")
            env[k] = v
        elif name == "eval":
            eval_last = True
        elif name == "pre":
            pre.append(value)
        elif name == "layer":
            layers.append(value)
    os.environ.clear()
    os.environ.update(env)
    return argv, eval_last, pre, layers


def _main():
    argv = sys.argv[1:]
    eval_last, fd, pre, layers, warm = False, -1, [], [], -1
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
    _pdeathsig()
    if warm >= 0:
        _prepare()
        if fd >= 0:
            os.write(fd, b"ready\n")  # the server pools the jail from now on
        argv, eval_last, pre, layers = _warm(warm)
    else:
        argv.pop(0)  # "--"
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
