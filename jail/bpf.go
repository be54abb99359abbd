package jail

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/runc/libcontainer/configs"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// compileBPF turns a seccomp profile into the classic BPF program a
// process loads with prctl(PR_SET_SECCOMP): compiled once, in Go, and
// handed to zygotes, whose runs load it themselves after their namespace
// and mount work (see the bootstrap's zygote mode). It understands what
// seccompProfile uses: errno and allow actions and argument conditions.
func compileBPF(p *configs.Seccomp) ([]byte, error) {
	if p.DefaultAction != configs.Errno || p.DefaultErrnoRet == nil {
		return nil, errors.New("seccomp program: want an errno default action")
	}
	def := libseccomp.ActErrno.SetReturnCode(int16(*p.DefaultErrnoRet))
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp program: %w", err)
	}
	defer f.Release()
	// A binary tree of syscall numbers instead of a list: a run pays a few
	// comparisons per syscall, not a walk of the allowlist.
	_ = f.SetOptimize(2)
	for _, call := range p.Syscalls {
		act, err := bpfAction(call)
		if err != nil {
			return nil, err
		}
		if act == def {
			continue
		}
		num, err := libseccomp.GetSyscallFromName(call.Name)
		if err != nil {
			continue // not a syscall of this kernel's headers
		}
		if len(call.Args) == 0 {
			if err := f.AddRule(num, act); err != nil {
				return nil, fmt.Errorf("seccomp program: %s: %w", call.Name, err)
			}
			continue
		}
		var conds []libseccomp.ScmpCondition
		for _, a := range call.Args {
			op, err := bpfOp(a.Op)
			if err != nil {
				return nil, fmt.Errorf("seccomp program: %s: %w", call.Name, err)
			}
			c, err := libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
			if err != nil {
				return nil, fmt.Errorf("seccomp program: %s: %w", call.Name, err)
			}
			conds = append(conds, c)
		}
		if err := f.AddRuleConditional(num, act, conds); err != nil {
			return nil, fmt.Errorf("seccomp program: %s: %w", call.Name, err)
		}
	}
	// ExportBPFMem needs libseccomp 2.6; Debian 12 has 2.5.
	fd, err := unix.MemfdCreate("pyexec-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp program: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "pyexec-bpf")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("seccomp program: export: %w", err)
	}
	if _, err := mf.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("seccomp program: %w", err)
	}
	prog, err := io.ReadAll(mf)
	if err != nil {
		return nil, fmt.Errorf("seccomp program: %w", err)
	}
	if len(prog) == 0 || len(prog)%8 != 0 {
		return nil, fmt.Errorf("seccomp program: %d bytes is not a program", len(prog))
	}
	return prog, nil
}

func bpfAction(c *configs.Syscall) (libseccomp.ScmpAction, error) {
	switch c.Action {
	case configs.Allow:
		return libseccomp.ActAllow, nil
	case configs.Errno:
		if c.ErrnoRet == nil {
			return 0, fmt.Errorf("seccomp program: %s: errno action without errno", c.Name)
		}
		return libseccomp.ActErrno.SetReturnCode(int16(*c.ErrnoRet)), nil
	}
	return 0, fmt.Errorf("seccomp program: %s: unsupported action %v", c.Name, c.Action)
}

func bpfOp(op configs.Operator) (libseccomp.ScmpCompareOp, error) {
	switch op {
	case configs.EqualTo:
		return libseccomp.CompareEqual, nil
	case configs.NotEqualTo:
		return libseccomp.CompareNotEqual, nil
	case configs.MaskEqualTo:
		return libseccomp.CompareMaskedEqual, nil
	case configs.GreaterThan:
		return libseccomp.CompareGreater, nil
	case configs.GreaterThanOrEqualTo:
		return libseccomp.CompareGreaterEqual, nil
	case configs.LessThan:
		return libseccomp.CompareLess, nil
	case configs.LessThanOrEqualTo:
		return libseccomp.CompareLessOrEqual, nil
	}
	return 0, fmt.Errorf("unsupported operator %v", op)
}

// zygoteSeccomp is the looser filter of a zygote itself: the runs' filter
// plus what making a run takes (unshare of every namespace but a user
// namespace, which the zygote's own user-namespace budget of zero refuses;
// mount and umount; the host name; setns, back into its own pid
// namespace). The truly dangerous calls (bpf, keyctl, ptrace, kexec,
// modules, perf, userfaultfd, io_uring, pivot_root, chroot ...) stay
// refused; every run stacks the strict filter
// on top of this one.
func zygoteSeccomp(allowInotify bool) *configs.Seccomp {
	p := seccompProfile(allowInotify)
	for _, name := range []string{"unshare", "setns", "mount", "umount2", "sethostname"} {
		p.Syscalls = append(p.Syscalls, &configs.Syscall{Name: name, Action: configs.Allow})
	}
	return p
}
