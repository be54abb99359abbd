# pyexec bootstrap: runs the user's entrypoint inside a jail the way
# `python /work/<entrypoint> args...` would, and reports what the server
# needs (the repr of a trailing expression, the error type and line) on a
# separate file descriptor, never in stdout. The report is a sequence of
# fields "<name> <length>\n<utf-8 bytes>" (no json: importing it costs more
# than starting the interpreter's site).
#
# usage: python -u bootstrap.py [-e] [-r FD] [-p CMD]... -- /work/ENTRY [ARG]...
#   -e      eval_last_expr: the value of a trailing expression is reported
#   -r FD   write the report to this descriptor (closed on exec of children)
#   -p CMD  run CMD with /bin/sh -c first; a failing one ends the run
#   -d DIR  a dependency layer: added like site-packages (its .pth files
#           run), ahead of the interpreter's own site-packages
import sys
import os

_BOOT = __file__
_WORK = "/work/"


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
    try:
        with open(path, "rb") as f:
            src = f.read()
        if eval_last:
            import ast
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
    except SystemExit:
        _report(fd)
        raise
    except BaseException as e:
        tb = _user_tb(e.__traceback__)
        e.__traceback__ = tb  # the default hook prints the exception's own
        _report(fd, error_type=type(e).__name__, error_line=_error_line(e, tb))
        sys.excepthook(type(e), e, tb)
        sys.exit(1)


def _main():
    argv = sys.argv[1:]
    eval_last, fd, pre, layers = False, -1, [], []
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
    argv.pop(0)
    _pdeathsig()
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
