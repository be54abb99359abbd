package jailtest

import (
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// NSOwner returns the host uid that owns the user namespace of process
// pid (ioctl NS_GET_OWNER_UID on /proc/PID/ns/user).
func NSOwner(pid string) (int, error) {
	f, err := os.Open("/proc/" + pid + "/ns/user")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var uid uint32
	// NS_GET_OWNER_UID = _IO(0xb7, 0x4)
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), 0xb704, uintptr(unsafe.Pointer(&uid))); errno != 0 {
		return 0, errno
	}
	return int(uid), nil
}
