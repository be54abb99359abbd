# The floor of a zygote run's design on this machine: what forking a run
# costs in CPU with nothing of pyexec around it (no server, no HTTP, no
# request, no output capture), step by step, as DESIGN.md's prototype did.
# Each run: fork of a pre-started interpreter, unshare of mount, net, ipc,
# uts, pid and cgroup namespaces, fork of the code as pid 2 (pid 1 waits),
# a tmpfs /work, then what each step adds:
#   fs    /tmp and /dev/shm tmpfs
#   lo    hostname, loopback up
#   proc  a new /proc, its masks and read-only parts (as a zygote run's)
#   user  the code's own user namespace, ids mapped by pid 1, two sysctls,
#         a non-root uid
#   sec   rlimits, no_new_privs and a seccomp filter shaped as the
#         server's (a binary tree, ~400 instructions)
#   py    the code: compile and run a one-line program
#   cg    a cgroup per run in memory, cpu, cpuacct and pids (v1) or one
#         (v2), joined by pid 1 before it unshares, removed after
# Usage (root): python3 floor.py SECONDS WORKERS STEP,STEP,...
# Prints: steps, runs/s, CPU per run (all CPUs, from /proc/stat).
import ctypes
import fcntl
import os
import resource
import struct
import sys
import time
import _socket

NEWNS, NEWNET, NEWIPC, NEWUTS, NEWPID, NEWUSER, NEWCG = (
    0x20000, 0x40000000, 0x08000000, 0x04000000, 0x20000000, 0x10000000, 0x02000000)
MASKED = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
          "/proc/interrupts", "/proc/sysrq-trigger")
READONLY = ("/proc/bus", "/proc/fs", "/proc/irq")
CG_PARENT = "pyexec-floor"

libc = ctypes.CDLL(None, use_errno=True)
PIDNS = os.open("/proc/self/ns/pid", os.O_RDONLY)


def seccomp_prog(n=106):
    # Shaped as the server's (libseccomp's binary tree, ~400 instructions
    # for its allowlist): a search tree over n syscall numbers, every leaf
    # and every miss allowed (this process needs them all). The kernel's
    # cost of attaching a filter grows with its length and shape (seccomp's
    # per-syscall cache is computed by running it for every number).
    allow = struct.pack("HBBI", 0x06, 0, 0, 0x7fff0000)
    nums = list(range(0, 3 * n, 3))

    def tree(lo, hi):
        if hi - lo <= 2:
            out = []
            for k in nums[lo:hi]:
                out += [struct.pack("HBBI", 0x15, 0, 1, k), allow]  # jeq k: allow
            return out + [allow]
        mid = (lo + hi) // 2
        left, right = tree(lo, mid), tree(mid, hi)
        # jge k: on to the right subtree (a long jump), else the left one
        return [struct.pack("HBBI", 0x35, 0, 1, nums[mid]), struct.pack("HBBI", 0x05, 0, 0, len(left))] + left + right
    ins = [struct.pack("HBBI", 0x20, 0, 0, 0)] + tree(0, len(nums))  # ld [nr]

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
    buf = ctypes.create_string_buffer(b"".join(ins))
    return buf, ctypes.byref(Fprog(len(ins), ctypes.addressof(buf))), len(ins)


def cg_dirs():
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return ["/sys/fs/cgroup/" + CG_PARENT]
    return ["/sys/fs/cgroup/%s/%s" % (h, CG_PARENT) for h in ("memory", "cpu", "cpuacct", "pids")]


def mount(src, dst, fstype, flags, data):
    if libc.mount(src, dst, fstype, flags, data) != 0:
        os._exit(10)


def code(steps, prog, r2, w):
    # pid 2: the code.
    if "user" in steps:
        if libc.unshare(NEWUSER) != 0:
            os._exit(11)
        os.write(w, b"u")
        os.read(r2, 1)
        for name, value in (("max_inotify_instances", b"16"), ("max_user_namespaces", b"0")):
            fd = os.open("/proc/sys/user/" + name, os.O_WRONLY)
            os.write(fd, value)
            os.close(fd)
        os.setgroups([])
        os.setresgid(1000, 1000, 1000)
        os.setresuid(1000, 1000, 1000)
    if "sec" in steps:
        for name, v in (("RLIMIT_CORE", 0), ("RLIMIT_NOFILE", 1024), ("RLIMIT_FSIZE", 1 << 30)):
            resource.setrlimit(getattr(resource, name), (v, v))
        if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.prctl(22, 2, prog, 0, 0) != 0:
            os._exit(12)
    if "py" in steps:
        exec(compile(b"x = [i for i in range(3)]\n", "/work/main.py", "exec", dont_inherit=True), {})
    os._exit(0)


def pid1(steps, prog, cg):
    # The run's pid 1, forked by the zygote into a new pid namespace.
    for d in cg:
        with open(d + "/cgroup.procs", "w") as f:
            f.write("0")
    if libc.unshare(NEWNS | NEWNET | NEWIPC | NEWUTS | NEWCG) != 0:
        os._exit(13)
    mount(None, b"/", None, (1 << 14) | (1 << 18), None)  # rec private
    mount(b"tmpfs", b"/work", b"tmpfs", 6, b"size=1m,mode=0700")
    if "fs" in steps:
        mount(b"tmpfs", b"/tmp", b"tmpfs", 6, b"size=1m,mode=1777")
        mount(b"shm", b"/dev/shm", b"tmpfs", 14, b"size=1m,mode=1777")
    if "lo" in steps:
        libc.sethostname(b"pyexec", 6)
        s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
        fcntl.ioctl(s.fileno(), 0x8914, struct.pack("16sH22x", b"lo", 0x49))
        s.close()
    if "proc" in steps or "user" in steps:
        mount(b"proc", b"/proc", b"proc", 14, None)
        for p in MASKED:
            if os.path.isdir(p):
                libc.mount(b"tmpfs", p.encode(), b"tmpfs", 1, b"size=0")
            elif os.path.exists(p):
                libc.mount(b"/dev/null", p.encode(), None, 4096, None)
        for p in READONLY:
            b = p.encode()
            if libc.mount(b, b, None, 4096 | 16384, None) == 0:
                libc.mount(b, b, None, 4096 | 16384 | 32 | 1, None)
    r, w = os.pipe()
    r2, w2 = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(r)
        os.close(w2)
        code(steps, prog, r2, w)
    os.close(w)
    os.close(r2)
    if "user" in steps and os.read(r, 1) == b"u":
        for name in ("uid_map", "gid_map"):
            fd = os.open("/proc/%d/%s" % (child, name), os.O_WRONLY)
            os.write(fd, b"0 0 1\n1000 1000 1\n")
            os.close(fd)
        os.write(w2, b"m")
    _, st = os.waitpid(child, 0)
    os._exit(os.waitstatus_to_exitcode(st))


def one(steps, prog, n):
    cg = []
    if "cg" in steps:
        cg = ["%s/r%d-%d" % (d, os.getpid(), n) for d in cg_dirs()]
        for d in cg:
            os.mkdir(d)
    # As a zygote does: a new pid namespace for the child only.
    if libc.unshare(NEWPID) != 0:
        os._exit(15)
    pid = os.fork()
    if pid == 0:
        try:
            pid1(steps, prog, cg)
        finally:
            os._exit(14)
    libc.setns(PIDNS, NEWPID)
    _, st = os.waitpid(pid, 0)
    for d in cg:
        for _ in range(1000):
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.0005)
    return os.waitstatus_to_exitcode(st)


def busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6]  # user nice system irq softirq


def main():
    seconds, workers = float(sys.argv[1]), int(sys.argv[2])
    steps = set(sys.argv[3].split(",")) if len(sys.argv) > 3 else set()
    buf, prog, size = seccomp_prog()
    exec(compile("def f(x):\n    return [i * 2 for i in range(x)]\ny = f(3)\n", "<warm>", "exec"), {})
    if "cg" in steps:
        for d in cg_dirs():
            os.makedirs(d, exist_ok=True)
    r, w = os.pipe()
    b0 = busy()
    for _ in range(workers):
        if os.fork() == 0:
            os.close(r)
            n, end = 0, time.time() + seconds
            while time.time() < end:
                rc = one(steps, prog, n)
                if rc != 0:
                    os.write(2, b"floor: a run failed: %d\n" % rc)
                    os._exit(1)
                n += 1
            os.write(w, b"%d\n" % n)
            os._exit(0)
    os.close(w)
    failed = 0
    for _ in range(workers):
        _, st = os.wait()
        failed += st != 0
    b1 = busy()
    with os.fdopen(r) as f:
        total = sum(int(x) for x in f.read().split())
    if "cg" in steps:
        for d in cg_dirs():
            os.rmdir(d)
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (b1 - b0) / ticks / max(total, 1) * 1000
    print("%-28s %6.0f runs/s  %5.2f ms CPU/run%s" % (",".join(sorted(steps)), total / seconds, cpu,
                                                     "  FAILED" if failed else ""))


if __name__ == "__main__":
    main()
