package jailtest

// Hoarder is a Python program that takes as many inotify instances (up to
// 200) and queued real-time signals (sigqueue, up to 200000: kill(2) would
// drop what does not fit silently) as it can, prints "FDS ERRNO QUEUED"
// (the instances it got, the errno of the first refusal, the signals it
// queued) and holds them for 60 s. The per-user budgets tests run it.
const Hoarder = `import ctypes, os, signal, time
libc = ctypes.CDLL(None, use_errno=True)
fds = 0
for _ in range(200):
    if libc.inotify_init1(0) < 0:
        break
    fds += 1
err = ctypes.get_errno()
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
queued = 0
for _ in range(200000):
    if libc.sigqueue(os.getpid(), signal.SIGRTMIN, ctypes.c_void_p(0)) != 0:
        break
    queued += 1
print(fds, err, queued, flush=True)
time.sleep(60)
`

// Probe is a Python program that takes one inotify instance and queues
// one real-time signal, and prints "inotify ok" and "sigqueue ok" (or the
// errno of each refusal): what a Hoarder must leave to everyone else.
const Probe = `import ctypes, os, signal
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
print("inotify", "ok" if fd >= 0 else "errno %d" % ctypes.get_errno())
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGRTMIN])
if libc.sigqueue(os.getpid(), signal.SIGRTMIN, ctypes.c_void_p(0)) == 0:
    print("sigqueue ok")
else:
    print("sigqueue errno %d" % ctypes.get_errno())
`
