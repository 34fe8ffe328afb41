"""A seccomp-bpf deny-list for the local backend, as raw BPF for `bwrap --seccomp FD` (x86_64 only).

Denied with EPERM: namespace creation and entry (unshare, setns, clone with CLONE_NEW* flags), mounts and
the new mount API, ptrace, bpf, keyrings, perf events, userfaultfd, io_uring, kernel modules, kexec,
swap, reboot, open_by_handle_at. socket() and socketpair() accept only AF_UNIX (what CPython, including
multiprocessing, needs); every other family (AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_VSOCK, which on a
VM reaches the host's vsock port space, ...) fails with EAFNOSUPPORT. clone3 returns ENOSYS (its flags live in memory that BPF cannot read;
glibc then falls back to clone). Syscalls of other ABIs (i386 via int 0x80, x32) are denied, so the
filter cannot be bypassed by switching ABI. Everything else is allowed: this is a hardening layer on top
of the namespaces, not the isolation boundary itself.
"""

from __future__ import annotations

import errno
import platform
import struct

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
_RET_ALLOW = 0x7FFF0000
_RET_ERRNO = 0x00050000

# x86_64 syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl)
_DENY_X86_64 = {
    "ptrace": 101, "pivot_root": 155, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
    "reboot": 169, "init_module": 175, "delete_module": 176, "kexec_load": 246, "add_key": 248,
    "request_key": 249, "keyctl": 250, "unshare": 272, "perf_event_open": 298, "open_by_handle_at": 304,
    "setns": 308, "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
}
_CLONE = 56
_CLONE3 = 435
_SOCKET = 41
_SOCKETPAIR = 53
AF_UNIX = 1
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
_CLONE_NS_FLAGS = (
    0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
)

_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k)


def supported() -> bool:
    return platform.machine() == "x86_64"


def build_filter() -> bytes:
    """The BPF program (struct sock_filter[]) as bytes."""
    if not supported():
        raise RuntimeError(f"no seccomp filter for architecture {platform.machine()!r}")
    deny = _RET_ERRNO | errno.EPERM
    prog = [
        _insn(_LD_W_ABS, 0, 0, 4),  # A = seccomp_data.arch
        _insn(_JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _insn(_RET_K, 0, 0, deny),  # other ABI (i386 int 0x80)
        _insn(_LD_W_ABS, 0, 0, 0),  # A = seccomp_data.nr
        _insn(_JGE_K, 0, 1, X32_SYSCALL_BIT),
        _insn(_RET_K, 0, 0, deny),  # x32 ABI
        _insn(_JEQ_K, 0, 1, _CLONE3),
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
    ]
    for nr in sorted(_DENY_X86_64.values()):
        prog += [_insn(_JEQ_K, 0, 1, nr), _insn(_RET_K, 0, 0, deny)]
    prog += [  # socket families: AF_UNIX only
        _insn(_JEQ_K, 1, 0, _SOCKET),
        _insn(_JEQ_K, 0, 4, _SOCKETPAIR),
        _insn(_LD_W_ABS, 0, 0, 16),  # A = low 32 bits of args[0] (the family; the kernel reads an int)
        _insn(_JEQ_K, 0, 1, AF_UNIX),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.EAFNOSUPPORT),
    ]
    prog += [
        _insn(_JEQ_K, 0, 3, _CLONE),
        _insn(_LD_W_ABS, 0, 0, 16),  # A = low 32 bits of args[0] (clone flags)
        _insn(_JSET_K, 0, 1, _CLONE_NS_FLAGS),
        _insn(_RET_K, 0, 0, deny),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(prog)
