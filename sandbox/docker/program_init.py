"""Per-program set-up inside a warm sandbox container: run as root by ``docker exec``, stdlib only.

sandbox/docker_backend.py passes this file's source on the exec command line; one exec serves the
container's programs one after another (a docker exec and an interpreter start cost ~180 ms here). It
reads the runner's source and the seccomp filter from stdin once (length-prefixed), then per program its
parameters (a length-prefixed JSON object), and:
1. checks that the container is clean (no process but PID 1 and this one) and says so in a greeting;
2. creates fresh PID, mount, IPC, UTS and network namespaces and becomes their PID 1: mounts a fresh /proc, an
   empty size-capped tmpfs on /tmp (the tests' work dir and HOME) and on /dev/shm, the new namespace's
   /dev/mqueue, caps SysV shared memory and message queues, keeps only the runner's
   capabilities, installs the seccomp filter and runs the runner (sandbox/runner.py) in-process. As PID 1
   the runner cannot be signalled from inside; the tests run under another uid (``--child-uid``), so they
   cannot prlimit, renice or ptrace it either;
3. when the runner exits, its namespaces die with every process, mount, segment and file in them; it then
   reports what is left in the container in a trailer, and the backend recycles a container that is not
   clean.
Messages on stdout: MAGIC (4 bytes), a 4-byte big-endian length, a JSON object.
"""

import ctypes
import json
import os
import signal
import struct
import sys
import time

HELLO, END = b"G2RL", b"G2RE"
CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x04000000, 0x08000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 0x40000
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CAPABILITY_VERSION_3 = 0x20080522
SCHED_RESET_ON_FORK = 0x40000000
RUNNER_NICE = -10

libc = ctypes.CDLL(None, use_errno=True)


def check(rc, what):
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def send(magic, obj):
    body = json.dumps(obj).encode()
    data = magic + struct.pack(">I", len(body)) + body
    while data:
        data = data[os.write(1, data):]


def read_exact(n):
    parts = []
    while n:
        chunk = os.read(0, n)
        if not chunk:
            raise EOFError("stdin closed during set-up")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def read_blob():
    return read_exact(struct.unpack(">Q", read_exact(8))[0])


def other_processes():
    """Live processes of the container other than PID 1 and this one."""
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            if stat[stat.rfind(b")") + 2:][:1] != b"Z":
                found.append(int(name))
    return found


def memory():
    """Shared-memory and anonymous bytes charged to the container's memory cgroup, and how many times
    its OOM killer has fired (cgroup v1 or v2)."""
    for stat_path, keys, events_path in (
            ("/sys/fs/cgroup/memory/memory.stat", ("total_shmem", "total_rss"),
             "/sys/fs/cgroup/memory/memory.oom_control"),
            ("/sys/fs/cgroup/memory.stat", ("shmem", "anon"), "/sys/fs/cgroup/memory.events")):
        try:
            with open(stat_path) as f:
                stat = dict(line.split() for line in f if line.strip())
            with open(events_path) as f:
                events = dict(line.split() for line in f if line.strip())
        except (OSError, ValueError):
            continue
        return {"shmem": int(stat.get(keys[0], 0)), "anon": int(stat.get(keys[1], 0)),
                "oom_kill": int(events.get("oom_kill", 0))}
    return {"shmem": None, "anon": None, "oom_kill": None}


def settled_memory(p, timeout=0.5):
    """memory() once the dead namespaces' pages are uncharged (the kernel frees an IPC namespace and its
    segments asynchronously)."""
    deadline = time.monotonic() + timeout
    m = memory()
    while (m["shmem"] or 0) > p["clean_shmem_bytes"] and time.monotonic() < deadline:
        time.sleep(0.01)
        m = memory()
    return m


def kill_others():
    left = other_processes()
    if left:
        try:
            os.kill(-1, signal.SIGKILL)  # everything but PID 1 and ourselves
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 2
        while other_processes() and time.monotonic() < deadline:
            time.sleep(0.005)
    return len(left)


def mount(source, target, fstype, flags, data=None):
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), f"mount {target}")


def keep_only_capabilities(caps):
    mask = sum(1 << c for c in caps)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)(Data(mask & 0xFFFFFFFF, mask & 0xFFFFFFFF, 0), Data(mask >> 32, mask >> 32, 0))
    check(libc.capset(ctypes.byref(Header(CAPABILITY_VERSION_3, 0)), data), "capset")


def install_seccomp(bpf):
    if not bpf:
        return

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    prog = Fprog(len(bpf) // 8, bpf)
    check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "seccomp")


def become_program_init(p, runner_src, bpf):
    """In the fresh PID namespace, as its PID 1: private mounts and IPC, then the runner."""
    check(libc.unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET), "unshare(mount, ipc, uts, net)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # The tests' uid owns its scratch places (the runner empties them between tests, as root)
    owner = f"mode=0700,uid={p['uid']},gid={p['uid']},nr_inodes={p['nr_inodes']}"  # inodes: kernel memory
    mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={p['tmpfs_mb']}m,{owner}")
    mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, f"size={p['shm_mb']}m,{owner}")
    if os.path.isdir("/dev/mqueue"):  # docker's is the container's IPC namespace: show ours instead
        mount("mqueue", "/dev/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        os.chown("/dev/mqueue", p["uid"], p["uid"])
        os.chmod("/dev/mqueue", 0o700)
    for name, value in p["ipc_sysctls"].items():  # per IPC namespace: a fresh one starts at the defaults
        with open(f"/proc/sys/kernel/{name}", "w") as f:
            f.write(str(value))
    # the image's packages (numpy & co.) without running site.main(): no .pth files, no user site
    import site
    sys.path += [d for d in site.getsitepackages() if os.path.isdir(d) and d not in sys.path]
    # The runner outweighs the tests in the container's one CPU (nice -10 is ~9x the weight of nice 0), so
    # busy tests cannot delay its kills past the parent's deadline; reset-on-fork gives every test process
    # plain nice 0 again.
    os.sched_setscheduler(0, os.SCHED_OTHER | SCHED_RESET_ON_FORK, os.sched_param(0))
    os.setpriority(os.PRIO_PROCESS, 0, RUNNER_NICE)
    keep_only_capabilities(p["runner_caps"])
    install_seccomp(bpf)
    sys.argv = ["runner.py", *p["runner_args"]]
    exec(compile(runner_src, "runner.py", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})  # noqa: S102


def run_program(p, runner_src, bpf):
    """One program in fresh namespaces; returns the wait status of its PID namespace's init. A helper
    child creates the PID namespace: one process can unshare(CLONE_NEWPID) only once."""
    helper = os.fork()
    if helper == 0:
        code = 2
        try:
            check(libc.unshare(CLONE_NEWPID), "unshare(pid)")
            init = os.fork()
            if init == 0:
                code = 0
                try:
                    become_program_init(p, runner_src, bpf)
                except SystemExit as e:
                    code = e.code if isinstance(e.code, int) else 1
                os._exit(code)
            _, status = os.waitpid(init, 0)  # returns once every process of the namespace is gone
            code = os.waitstatus_to_exitcode(status) & 0xFF
        except BaseException as e:  # noqa: BLE001 - set-up failed before any candidate code: infrastructure
            body = json.dumps({"op": "error", "message": f"program init: {type(e).__name__}: {e}"}).encode()
            os.write(1, struct.pack(">I", len(body)) + body)
        os._exit(code)
    _, status = os.waitpid(helper, 0)
    return status


def main():
    """One exec serves the container's programs one after another until stdin closes."""
    runner_src, bpf = read_blob(), read_blob()
    while True:
        try:
            p = json.loads(read_blob())
        except EOFError:
            return
        if p is None:  # the backend hands the container to a new exec
            return
        left = kill_others()
        send(HELLO, {"left": left, "survivors": len(other_processes()), **memory()})
        status = run_program(p, runner_src, bpf)
        send(END, {"runner_status": status, "left": len(other_processes()), **settled_memory(p)})


main()
