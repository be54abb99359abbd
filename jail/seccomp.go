package jail

import (
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"
)

// allowedSyscalls is the seccomp allowlist, in the spirit of Docker's
// default profile for an unprivileged process. Everything else returns
// EPERM: mount, umount2, pivot_root, chroot, ptrace, process_vm_*, bpf,
// keyctl, add_key, request_key, kexec_*, *_module, unshare, setns,
// perf_event_open, userfaultfd, open_by_handle_at, io_uring_*, the new
// mount API (fsopen, fsmount, move_mount, open_tree), quotactl, reboot,
// swapon/off, settimeofday, clock_settime, acct, syslog, iopl, ioperm ...
const allowedSyscalls = `
accept accept4 access alarm arch_prctl bind brk cachestat capget capset chdir chmod chown
clock_getres clock_gettime clock_nanosleep close close_range connect copy_file_range creat
dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_pwait epoll_pwait2 epoll_wait
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fallocate
fchdir fchmod fchmodat fchmodat2 fchown fchownat fcntl fdatasync fgetxattr flistxattr flock
fork fremovexattr fsetxattr fstat fstatfs fsync ftruncate futex futex_requeue futex_wait
futex_waitv futex_wake futimesat get_mempolicy get_robust_list getcpu getcwd getdents
getdents64 getegid geteuid getgid getgroups getitimer getpeername getpgid getpgrp getpid
getppid getpriority getrandom getresgid getresuid getrlimit getrusage getsid getsockname
getsockopt gettid gettimeofday getuid getxattr io_cancel io_destroy io_getevents io_pgetevents io_setup io_submit ioctl
ioprio_get ioprio_set kill landlock_add_rule landlock_create_ruleset landlock_restrict_self
lchown lgetxattr link linkat listen listxattr llistxattr lremovexattr lseek lsetxattr lstat
madvise map_shadow_stack mbind membarrier memfd_create mincore mkdir mkdirat mknod mknodat
mlock mlock2 mlockall mmap mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedsend mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pwrite64 pwritev pwritev2 read readahead readlink readlinkat readv
recvfrom recvmmsg recvmsg remap_file_pages removexattr rename renameat renameat2
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_tgsigqueueinfo sched_get_priority_max
sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler
sched_rr_get_interval sched_setaffinity sched_setattr sched_setparam sched_setscheduler
sched_yield seccomp select semctl semget semop semtimedop sendfile sendmmsg sendmsg sendto
set_mempolicy set_robust_list set_tid_address setfsgid setfsuid setgid setgroups setitimer
setpgid setpriority setregid setresgid setresuid setreuid setrlimit setsid setsockopt setuid
setxattr shmat shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4
splice stat statfs statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill
time timer_create timer_delete timer_getoverrun timer_gettime timer_settime timerfd_create
timerfd_gettime timerfd_settime times tkill truncate umask uname unlink unlinkat utime
utimensat utimes vfork vmsplice wait4 waitid write writev
`

// hotSyscalls are the allowed calls made most often, in that order.
const hotSyscalls = `read openat newfstatat fstat close mmap lseek getdents64 ioctl brk rt_sigaction mprotect pread64 munmap readlink getcwd stat lstat fcntl futex write getrandom sysinfo prlimit64 dup statx rt_sigprocmask`

// namespaceFlags are the clone flags that would create namespaces.
const namespaceFlags = unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC |
	unix.CLONE_NEWUSER | unix.CLONE_NEWPID | unix.CLONE_NEWNET | unix.CLONE_NEWCGROUP

// seccompProfile builds the filter every jail gets. It is built once per
// Manager.
//
// Sockets: only the families Python needs, AF_UNIX, AF_INET, AF_INET6 and
// AF_NETLINK for NETLINK_ROUTE (getaddrinfo, interfaces); everything else
// (AF_VSOCK, which has no namespaces, AF_PACKET, AF_ALG, other netlink
// protocols...) is EPERM. inotify is refused unless allowInotify: on the
// shared read-only mounts it would let a jail watch which files another
// jail opens.
func seccompProfile(allowInotify bool) *configs.Seccomp {
	eperm, enosys := uint(unix.EPERM), uint(unix.ENOSYS)
	p := &configs.Seccomp{
		DefaultAction:   configs.Errno,
		DefaultErrnoRet: &eperm,
		Architectures:   []string{"amd64"},
	}
	// The filter is a list walked on every syscall: the ones a Python
	// start-up makes most go first (measured: ~2.5 ms of a cold start).
	hot := strings.Fields(hotSyscalls)
	seen := map[string]bool{}
	for _, name := range append(hot, strings.Fields(allowedSyscalls)...) {
		if seen[name] {
			continue
		}
		seen[name] = true
		p.Syscalls = append(p.Syscalls, &configs.Syscall{Name: name, Action: configs.Allow})
	}
	// clone only without namespace flags; clone3 passes its flags in
	// memory seccomp cannot read, so it says ENOSYS and glibc falls back
	// to clone.
	p.Syscalls = append(p.Syscalls,
		&configs.Syscall{Name: "clone", Action: configs.Allow, Args: []*configs.Arg{{
			Index: 0, Value: namespaceFlags, ValueTwo: 0, Op: configs.MaskEqualTo,
		}}},
		&configs.Syscall{Name: "clone3", Action: configs.Errno, ErrnoRet: &enosys},
	)
	for _, family := range []uint64{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6} {
		p.Syscalls = append(p.Syscalls, &configs.Syscall{Name: "socket", Action: configs.Allow,
			Args: []*configs.Arg{{Index: 0, Value: family, Op: configs.EqualTo}}})
	}
	p.Syscalls = append(p.Syscalls,
		&configs.Syscall{Name: "socket", Action: configs.Allow, Args: []*configs.Arg{
			{Index: 0, Value: unix.AF_NETLINK, Op: configs.EqualTo},
			{Index: 2, Value: unix.NETLINK_ROUTE, Op: configs.EqualTo}}},
		&configs.Syscall{Name: "socketpair", Action: configs.Allow, Args: []*configs.Arg{
			{Index: 0, Value: unix.AF_UNIX, Op: configs.EqualTo}}},
	)
	if allowInotify {
		for _, name := range []string{"inotify_init", "inotify_init1", "inotify_add_watch", "inotify_rm_watch"} {
			p.Syscalls = append(p.Syscalls, &configs.Syscall{Name: name, Action: configs.Allow})
		}
	}
	// personality only for the harmless values (Docker's list).
	for _, v := range []uint64{0x0, 0x0008, 0x20000, 0x20008, 0xffffffff} {
		p.Syscalls = append(p.Syscalls, &configs.Syscall{Name: "personality", Action: configs.Allow,
			Args: []*configs.Arg{{Index: 0, Value: v, Op: configs.EqualTo}}})
	}
	return p
}
