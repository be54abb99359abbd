package jail

/*
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Both modes talk to the server over descriptor 3 (a socket pair): the
// process writes 'r' when it is ready for its id maps, the server writes
// them and answers 'g'. Anything else, or EOF, ends the process.
static void pyexec_wait_for_maps(void) {
	char c = 'r';
	if (write(3, &c, 1) != 1)
		_exit(120);
	if (read(3, &c, 1) != 1 || c != 'g')
		_exit(121);
}

// A request to a holder: lower these rlimits of pid (a jail's init, in the
// holder's namespace, before it runs any code). The server cannot: the
// kernel asks for CAP_SYS_RESOURCE over the jail's namespace, which the
// namespace's owner has and a root without that capability (some hosts,
// this one too) has not. The answer is one int32: 0 or an errno.
struct pyexec_rlimit_req {
	int32_t pid;
	int32_t count;
	struct {
		int32_t resource;
		int32_t pad;
		uint64_t soft, hard;
	} limits[8];
};

static int pyexec_read_full(int fd, void *buf, size_t n) {
	char *p = buf;
	while (n > 0) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void pyexec_serve_rlimits(void) {
	struct pyexec_rlimit_req req;
	for (;;) {
		if (pyexec_read_full(3, &req, sizeof req) != 0)
			_exit(0); // the server closed its end
		int32_t res = 0;
		if (req.count < 0 || req.count > 8)
			res = EINVAL;
		for (int i = 0; res == 0 && i < req.count; i++) {
			struct rlimit rl = {.rlim_cur = req.limits[i].soft, .rlim_max = req.limits[i].hard};
			if (prlimit(req.pid, req.limits[i].resource, &rl, NULL) != 0)
				res = errno;
		}
		if (write(3, &res, sizeof res) != sizeof res)
			_exit(0);
	}
}

// pyexec_preinit runs before the Go runtime starts, in every process of
// this binary, and does nothing unless the server started the process for
// one of these two jobs (the runtime's threads would make
// unshare(CLONE_NEWUSER) fail later):
//
//  - _PYEXEC_USERNS_HOLDER=1: become the owner of a new user namespace
//    (the process was started as an unprivileged uid, so that uid owns it
//    and is charged for it, never host root), wait for the server to write
//    its id maps, then hold it open and serve rlimit requests until the
//    server closes descriptor 3 or dies. Jails join it.
//  - _PYEXEC_AWAIT_IDMAP=1: the server re-executed itself into a new user
//    namespace (rootless mode); wait until its parent has run newuidmap
//    and newgidmap, then execute itself once more, as the namespace's
//    root.
__attribute__((constructor)) static void pyexec_preinit(int argc, char **argv, char **envp) {
	(void)argc;
	(void)envp;
	const char *holder = getenv("_PYEXEC_USERNS_HOLDER");
	const char *await = getenv("_PYEXEC_AWAIT_IDMAP");
	if (holder != NULL && strcmp(holder, "1") == 0) {
		prctl(PR_SET_NAME, "pyexec-holder", 0, 0, 0);
		pid_t parent = getppid();
		if (unshare(CLONE_NEWUSER) != 0)
			_exit(122);
		// The new namespace's credentials clear the parent-death signal
		// the server gave this process: set it again, and leave if the
		// server is already gone.
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent)
			_exit(124);
		pyexec_wait_for_maps();
		pyexec_serve_rlimits();
	}
	if (await != NULL && strcmp(await, "1") == 0) {
		unsetenv("_PYEXEC_AWAIT_IDMAP");
		pyexec_wait_for_maps();
		close(3);
		// The kernel clears the parent-death signal when the exec below
		// gives this process capabilities: the image it starts sets it
		// again and checks that its parent (the process the user started,
		// which runs newuidmap) is still this one.
		char ppid[16];
		snprintf(ppid, sizeof ppid, "%d", (int)getppid());
		setenv("_PYEXEC_ROOTLESS_PPID", ppid, 1);
		// This process was executed before its uid was mapped, so it has
		// no capabilities; executed again as the namespace's root, it has
		// all of them (in its namespace only).
		extern char **environ;
		execve("/proc/self/exe", argv, environ);
		_exit(123);
	}
	// The server re-executed from its sealed copy (ReexecSealed) would be
	// named after the descriptor it ran from ("9").
	const char *sealed = getenv("_PYEXEC_SEALED");
	if (sealed != NULL && strcmp(sealed, "1") == 0)
		prctl(PR_SET_NAME, "pyexecd", 0, 0, 0);
	const char *ppid = getenv("_PYEXEC_ROOTLESS_PPID");
	if (ppid != NULL) {
		pid_t want = (pid_t)atoi(ppid);
		unsetenv("_PYEXEC_ROOTLESS_PPID");
		prctl(PR_SET_NAME, "pyexecd", 0, 0, 0);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != want)
			_exit(124);
	}
}
*/
import "C"

// The environment switches of pyexec_preinit.
const (
	holderEnv     = "_PYEXEC_USERNS_HOLDER"
	awaitIDMapEnv = "_PYEXEC_AWAIT_IDMAP"
)
