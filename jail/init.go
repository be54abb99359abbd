package jail

import (
	"fmt"
	"os"
	"runtime"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/exeseal"
	// nsenter's C constructor joins the namespaces before the Go runtime
	// starts in the re-executed init.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"golang.org/x/sys/unix"
)

// Init must be the first call of main (and of TestMain) in every binary
// that starts jails: libcontainer re-executes the binary with the argument
// "init" as the container's first process, and Init then never returns.
//
// Otherwise Init pins the calling (main) goroutine to the main thread for
// the life of the process. libcontainer joins a container's mount
// namespace on a locked thread and lets that thread die with its
// goroutine; the Go runtime cannot end the main thread, so without the pin
// the main thread could stay in a jail's mount namespace and
// /proc/self/mountinfo (read by cgroup code) would describe the jail.
func Init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		libcontainer.Init()
	}
	runtime.LockOSThread()
}

// sealedEnv marks a process already re-executed from a sealed copy.
const sealedEnv = "_PYEXEC_SEALED"

// ReexecSealed re-executes the running binary once from a sealed
// in-memory copy, so that libcontainer does not copy the binary for every
// jail (it checks that /proc/self/exe is sealed; CVE-2019-5736). It returns
// only when that is not needed or not possible.
func ReexecSealed() error {
	if os.Getenv(sealedEnv) == "1" || exeseal.IsSelfExeCloned() {
		return nil
	}
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return fmt.Errorf("open own binary: %w", err)
	}
	defer self.Close()
	fi, err := self.Stat()
	if err != nil {
		return fmt.Errorf("stat own binary: %w", err)
	}
	sealed, err := exeseal.CloneBinary(self, fi.Size(), "pyexecd", os.TempDir())
	if err != nil {
		return fmt.Errorf("seal own binary: %w", err)
	}
	env := append(os.Environ(), sealedEnv+"=1")
	err = unix.Exec(fmt.Sprintf("/proc/self/fd/%d", sealed.Fd()), os.Args, env)
	sealed.Close()
	return fmt.Errorf("re-exec sealed binary: %w", err)
}
