"""Local backend: bubblewrap sandboxes with the trusted runner as their PID 1 (docs/sandbox.md).

Threat model in short (the full one, with what changes without cgroups, is in docs/sandbox.md)
----------------------------------------------------------------------------------------------
Covered: buggy or reward-hacking programs from a policy model. Loops and sleepers (CPU and wall TLE),
fork/thread bombs (RLIMIT_NPROC under a per-sandbox uid, pids cgroup, every process killed after each
test), memory in or outside processes (RLIMIT_AS, polled tree RSS, and the memory cgroup, which also
counts tmpfs, memfd and SysV/POSIX shared memory), output floods (OLE), disk filling (read-only root,
capped tmpfs, RLIMIT_FSIZE), network (empty network namespace; seccomp allows AF_UNIX sockets only, so
AF_VSOCK/NETLINK/PACKET/INET/INET6 fail), host files and secrets (minimal read-only mounts, cleared
environment), killing or tracing the runner, forged verdicts (expected outputs and literal assert values
stay in the parent; SE only from the runner's private setup pipe or the parent's own failures), and state
crossing tests or programs (scratch dirs and SysV IPC emptied after every test; fresh IPC namespace per
sandbox; reused sandboxes give each program a new uid and are reset and verified empty in between). A
program whose test ends at the wall cap has its remaining tests run in parallel sandboxes (sandbox/fanout.py),
each a complete run under its own limits; a backend runs at most ``wall_tle_fanout`` such shards at once, so
the host holds at most the batch's concurrency plus that many sandboxes.

Not covered: kernel/bwrap/CPython exploits, side channels, a malicious operator, hostile multi-tenant
use, forged records of non-literal asserts by a program that knows the runner's protocol. Without
cgroups (no root, or not mounted), memory that no process maps is bounded only by the tmpfs sizes and the
IPC namespace's SysV limits, and kernel memory only by the CPU limit. The seccomp filter is x86_64 only.

Two ways to get a non-root, per-sandbox user (RLIMIT_NPROC is ignored for uid 0 and is counted per user):
  * userns (parent is not root): ``bwrap --unshare-user --uid 65534``; process counts are kept per user
    namespace, hence per sandbox. Sandboxes are not reused in this mode.
  * privileged (parent is root): bwrap keeps only CAP_SETUID/CAP_SETGID and the runner switches to a uid
    leased for this sandbox (or, when reused, for each program) alone; an abstract-socket lock makes
    leases unique across processes.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import importlib.util
import logging
import os
import random
import shutil
import socket
import subprocess
import threading
import weakref
from typing import Any, ClassVar

from sandbox import seccomp
from sandbox.backend import RUNNER_PATH, SANDBOX_ENV, SubprocessRunnerBackend, _children_of, real_interpreter
from sandbox.cgroups import Cgroup, CgroupManager
from sandbox.session import RunnerOutcome, cleanup_budget, drive_runner, read_frame
from sandbox.types import IsolationUnavailable, Limits

log = logging.getLogger(__name__)

RUNNER_MOUNT = "/opt/g2rl-sandbox/runner.py"
WORKDIR = "/tmp"
# Extra import directories are mounted here, not at their host paths: a host path under /tmp (a venv in
# a CI checkout, say) would be hidden by the sandbox's private /tmp.
SITE_MOUNT_ROOT = "/opt/g2rl-sandbox/site"
PACKAGES_MOUNT = "/opt/g2rl-sandbox/packages"  # the `packages` (numpy by default), each mounted read-only
DEFAULT_PACKAGES = ("numpy",)
SHM_DIR = "/dev/shm"  # writable (multiprocessing needs it), size-capped, emptied after every test
RUNNER_HEADROOM_MB = 64  # memory cgroup room for bwrap and the runner on top of the candidate's limits
EXTRA_PIDS = 4  # bwrap, the runner and slack on top of the candidate's process cap
CGROUP_MODES = ("auto", "required", "off")
MAX_IDLE_SANDBOXES = 16  # per limits key: idle serve-many sandboxes kept for reuse
RESET_SLACK_S = 5.0  # beyond the cleanup budget, for the reset frame after a program
USERNS_UID = 65534
DEFAULT_UID_BASE = 1_900_000_000  # far above any distribution's uid ranges
DEFAULT_UID_COUNT = 65536
_ETC_FILES = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime")
_ROOT_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

FIX_HINT = (
    "Fix: install bubblewrap (e.g. `apt-get install bubblewrap`), allow user namespaces "
    "(sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1, "
    "kernel.apparmor_restrict_unprivileged_userns=0), or choose backend='unsafe' for trusted code only."
)


def _seccomp_fd() -> int:
    """A pipe holding the BPF program; bwrap reads it to EOF (the program is a few hundred bytes)."""
    r, w = os.pipe()
    try:
        os.write(w, seccomp.build_filter())
    finally:
        os.close(w)
    return r


class _Lease:
    """Per-sandbox resources: the uid (privileged mode) and the seccomp pipe."""

    def __init__(self, uid_lease: UidLease | None, seccomp_fd: int | None, cgroup: Cgroup | None = None):
        self.uid_lease, self.seccomp_fd, self.cgroup = uid_lease, seccomp_fd, cgroup

    def release(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self.uid_lease is not None:
            self.uid_lease.release()
        if self.seccomp_fd is not None:
            try:
                os.close(self.seccomp_fd)
            except OSError:
                pass
            self.seccomp_fd = None


class _PooledSandbox:
    """A serve-many sandbox: bwrap with the runner as PID 1, its cgroup/seccomp lease, its limits key."""

    def __init__(self, proc: subprocess.Popen, lease: _Lease, key: tuple):
        self.proc, self.lease, self.key = proc, lease, key
        self.oom_seen = 0

    def close(self, graceful: bool = False) -> None:
        """Ends the sandbox. graceful (an idle sandbox): close its control pipe, so that the runner exits
        and bwrap reaps it (their CPU time then reaches our RUSAGE_CHILDREN); otherwise, or if that takes
        over a second: SIGKILL the runner (the sandbox's init: its death ends every process in it), then
        bwrap."""
        if graceful and self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=1.0)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.proc.poll() is None:
            for child in _children_of(self.proc.pid):
                try:
                    os.kill(child, 9)
                except (ProcessLookupError, PermissionError):
                    pass
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.lease.release()


class UidLease:
    """A uid used by exactly one live sandbox on this host, held via an abstract unix socket name
    (released automatically when this process dies, leaves no file)."""

    # uid -> times leased by this process, for hygiene checks (tests, benchmarks); at most `count` keys
    leased_by_this_process: ClassVar[dict[int, int]] = {}

    def __init__(self, base: int, count: int):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        start = random.randrange(count)
        for i in range(count):
            uid = base + (start + i) % count
            try:
                self.sock.bind(f"\0g2rl-sandbox-uid-{uid}")
            except OSError:
                continue
            self.uid = uid
            UidLease.leased_by_this_process[uid] = UidLease.leased_by_this_process.get(uid, 0) + 1
            return
        self.sock.close()
        raise RuntimeError(f"all {count} sandbox uids from {base} are in use")

    def release(self) -> None:
        self.sock.close()


def _ancestors(path: str) -> list[str]:
    parts, out = path.strip("/").split("/"), []
    for i in range(1, len(parts)):
        out.append("/" + "/".join(parts[:i]))
    return out


class LocalBackend(SubprocessRunnerBackend):
    name = "local"

    def __init__(self, *, python: str | None = None, site_packages: list[str] | tuple[str, ...] = (),
                 packages: list[str] | tuple[str, ...] = DEFAULT_PACKAGES, bwrap: str | None = None,
                 uid_base: int = DEFAULT_UID_BASE, uid_count: int = DEFAULT_UID_COUNT, cgroups: str = "auto",
                 reuse: bool = True):
        """python: interpreter inside the sandbox (default: the real binary behind sys.executable).
        site_packages: extra read-only import directories (whole trees); none by default.
        packages: top-level packages of the parent's environment mounted read-only, one by one, so that
          they are importable without exposing the rest of the environment (numpy by default; a package
          that is not installed is left out with a warning). Their compiled code must match `python`.
        cgroups: "auto" (use them when the host lets us, else warn once), "required", or "off".
        reuse: serve many programs per sandbox, one at a time, with a complete reset in between (new uid,
          empty /tmp and /dev/shm, no IPC objects, no processes; see runner._serve_many). Needs the
          privileged (root) mode; in user-namespace mode every program gets a new sandbox regardless.
        """
        if cgroups not in CGROUP_MODES:
            raise ValueError(f"cgroups={cgroups!r} is not one of {CGROUP_MODES}")
        self.bwrap = bwrap or shutil.which("bwrap")
        if not self.bwrap:
            raise IsolationUnavailable(
                f"the local backend needs bubblewrap (`bwrap`), not found on PATH. {FIX_HINT}")
        self.python = os.path.realpath(python) if python else real_interpreter()
        self.site_packages = [os.path.realpath(p) for p in site_packages]
        for p in self.site_packages:
            if not os.path.isdir(p):
                raise ValueError(f"site_packages entry {p!r} is not a directory")
        self.package_dirs = _package_dirs(packages)
        self.privileged = os.geteuid() == 0
        self.uid_base, self.uid_count = uid_base, uid_count
        self.cgroups = _cgroup_manager(cgroups)
        self.reuse = bool(reuse) and self.privileged
        self._idle: dict[tuple, list[_PooledSandbox]] = {}
        self._idle_lock = threading.Lock()
        self.prefix = self._interpreter_prefix()
        self._probe()
        if self.reuse:
            atexit.register(self.close_idle)
            LocalBackend._instances.add(self)

    @property
    def isolation(self) -> str:
        who = "uid-lease" if self.privileged else "userns"
        filt = "seccomp" if seccomp.supported() else "no-seccomp"
        groups = f"cgroup-v{self.cgroups.version}" if self.cgroups is not None else "no-cgroup"
        return f"L2:bwrap[pid,net,ipc,uts,mount,{who}]+rlimits+{filt}+{groups}"

    def _interpreter_prefix(self) -> str:
        out = subprocess.run([self.python, "-I", "-S", "-c", "import sys; print(sys.base_prefix)"],
                             capture_output=True, text=True, timeout=30)
        if out.returncode != 0:
            raise RuntimeError(f"cannot run the sandbox interpreter {self.python!r}: {out.stderr.strip()}")
        return os.path.realpath(out.stdout.strip())

    # -- command line ------------------------------------------------------------------------------

    def _bwrap_args(self, limits: Limits, seccomp_fd: int | None = None) -> list[str]:
        args = [self.bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--as-pid-1"]
        if self.privileged:
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        else:
            args += ["--unshare-user", "--uid", str(USERNS_UID), "--gid", str(USERNS_UID), "--disable-userns"]
        if seccomp_fd is not None:
            args += ["--seccomp", str(seccomp_fd)]
        args += ["--ro-bind", "/usr", "/usr"]
        for link in _ROOT_LINKS:
            if os.path.islink(link):
                args += ["--symlink", os.readlink(link), link]
            elif os.path.isdir(link):
                args += ["--ro-bind", link, link]
        for f in _ETC_FILES:
            if os.path.exists(f):
                args += ["--ro-bind", f, f]
        mounted: set[str] = {"/usr"}  # bind-mounted trees: everything below them is already visible
        made: set[str] = set()  # directories created to hold mount points (their contents are not visible)

        def bind(src: str, dest: str) -> None:
            if any(dest == m or dest.startswith(m.rstrip("/") + "/") for m in mounted):
                return  # already visible (e.g. a /usr interpreter)
            for parent in _ancestors(dest):
                if parent not in made and parent not in mounted:
                    args.extend(["--perms", "0755", "--dir", parent])
                    made.add(parent)
            args.extend(["--ro-bind", src, dest])
            mounted.add(dest)

        bind(self.prefix, self.prefix)
        if not self.python.startswith(self.prefix + "/"):
            bind(self.python, self.python)
        for src, dest in self._site_mounts():
            bind(src, dest)
        for src in self.package_dirs:
            bind(src, f"{PACKAGES_MOUNT}/{os.path.basename(src)}")
        bind(RUNNER_PATH, RUNNER_MOUNT)
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--perms", "1777", "--size", str(int(limits.tmpfs_mb) << 20), "--tmpfs", WORKDIR,
                 "--perms", "1777", "--size", str(int(limits.memory_mb) << 20), "--tmpfs", SHM_DIR,
                 "--remount-ro", "/", "--remount-ro", "/dev", "--chdir", WORKDIR, "--clearenv"]
        for key, value in {**SANDBOX_ENV, "HOME": WORKDIR}.items():
            args += ["--setenv", key, value]
        args += ["--", self.python, "-I", "-S"]
        return args

    def _runner_command(self, limits: Limits, lease: Any) -> tuple[list[str], dict[str, Any]]:
        argv = self._bwrap_args(limits, lease.seccomp_fd) + [RUNNER_MOUNT]
        if lease.uid_lease is not None:
            uid = str(lease.uid_lease.uid)
            argv += ["--uid", uid, "--gid", uid]
        pass_fds = (lease.seccomp_fd,) if lease.seccomp_fd is not None else ()
        kwargs: dict[str, Any] = {"env": {}, "start_new_session": True, "pass_fds": pass_fds}
        if lease.cgroup is not None:
            kwargs["preexec_fn"] = lease.cgroup.join_self  # bwrap and all it starts are counted there
        return argv, kwargs

    def _acquire(self, limits: Limits, *, with_uid: bool = True) -> Any:
        """uid (privileged one-program sandboxes; a reused sandbox leases one per program instead),
        seccomp pipe and cgroup of one sandbox."""
        uid_lease = UidLease(self.uid_base, self.uid_count) if self.privileged and with_uid else None
        lease = _Lease(uid_lease, _seccomp_fd() if seccomp.supported() else None)
        if self.cgroups is not None:
            try:
                lease.cgroup = self.cgroups.create(
                    f"sb-{os.getpid()}-{id(lease):x}-{random.getrandbits(32):08x}",
                    memory_bytes=(int(limits.memory_mb) + int(limits.tmpfs_mb) + RUNNER_HEADROOM_MB) << 20,
                    pids=int(limits.pids) + EXTRA_PIDS)
            except OSError:
                lease.release()
                raise
        return lease

    def _release(self, lease: Any) -> None:
        lease.release()

    def _observe(self, lease: Any, outcome: RunnerOutcome, pooled: _PooledSandbox | None = None) -> None:
        if lease.cgroup is None:
            return
        kills = lease.cgroup.oom_kills()
        seen = pooled.oom_seen if pooled is not None else 0
        if kills > seen:  # the counter is per cgroup, and a pooled sandbox's cgroup serves many programs
            outcome.oom_killed = True
        if pooled is not None:
            pooled.oom_seen = kills

    def _session_options(self, lease: Any, limits: Limits) -> dict[str, Any]:
        # +1: the runner itself runs under the same (per-sandbox) uid and counts against RLIMIT_NPROC.
        sys_path = [dest for _, dest in self._site_mounts()] + ([PACKAGES_MOUNT] if self.package_dirs else [])
        return {"workdir": WORKDIR, "sys_path": sys_path, "nproc": int(limits.pids) + 1,
                "scratch_dirs": [SHM_DIR], "private_ipc": True}

    def _site_mounts(self) -> list[tuple[str, str]]:
        """(host directory, mount point inside the sandbox) of each extra import directory."""
        return [(src, f"{SITE_MOUNT_ROOT}/{i}") for i, src in enumerate(self.site_packages)]

    # -- serve-many sandboxes ---------------------------------------------------------------------------

    async def run_raw(self, program: str, spec, limits: Limits, stop=None) -> RunnerOutcome:
        if not self.reuse:
            return await super().run_raw(program, spec, limits, stop)
        key = (int(limits.memory_mb), int(limits.tmpfs_mb), int(limits.pids))
        try:
            sandbox = self._take_idle(key) or self._start_pooled(key, limits)
            uid = UidLease(self.uid_base, self.uid_count)
        except (OSError, RuntimeError) as e:  # the parent's own failure: SE
            return RunnerOutcome([None] * spec.n_tests, error=f"cannot prepare the sandbox: {e}")
        keep = False
        try:
            outcome, keep = await self._drive_pooled(sandbox, uid.uid, program, spec, limits, stop)
            return outcome
        finally:
            if not keep:
                sandbox.close()
            elif not self._put_idle(sandbox):
                # clean, but beyond the pool's size (fan-out peaks): let it exit, so that bwrap reaps the
                # runner and its CPU time reaches our RUSAGE_CHILDREN; off the event loop (it may wait)
                asyncio.get_running_loop().run_in_executor(None, functools.partial(sandbox.close, graceful=True))
            uid.release()  # after the reset or the sandbox's death: no process of it is left

    def _start_pooled(self, key: tuple, limits: Limits) -> _PooledSandbox:
        lease = self._acquire(limits, with_uid=False)
        try:
            argv = self._bwrap_args(limits, lease.seccomp_fd) + [RUNNER_MOUNT, "--serve-many"]
            proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                    env={}, start_new_session=True, pass_fds=(lease.seccomp_fd,)
                                    if lease.seccomp_fd is not None else (),
                                    preexec_fn=lease.cgroup.join_self if lease.cgroup is not None else None)
        except BaseException:
            lease.release()
            raise
        if lease.seccomp_fd is not None:  # bwrap has read it
            os.close(lease.seccomp_fd)
            lease.seccomp_fd = None
        return _PooledSandbox(proc, lease, key)

    async def _drive_pooled(self, sandbox: _PooledSandbox, uid: int, program: str, spec,
                            limits: Limits, stop=None) -> tuple[RunnerOutcome, bool]:
        """One program over the sandbox's pipes; (outcome, whether the sandbox is clean for the next one)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 22)
        rfile = os.fdopen(os.dup(sandbox.proc.stdout.fileno()), "rb", 0)
        wfile = os.fdopen(os.dup(sandbox.proc.stdin.fileno()), "wb", 0)
        rtransport = wtransport = None
        try:
            rtransport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), rfile)
            wtransport, wprotocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, wfile)
            writer = asyncio.StreamWriter(wtransport, wprotocol, None, loop)
            outcome = await drive_runner(reader, writer, program, spec, limits, uid=uid, stop=stop,
                                         **self._session_options(sandbox.lease, limits))
            clean = False
            if outcome.error is None:
                try:
                    done = await asyncio.wait_for(read_frame(reader), 5.0)
                    reset = await asyncio.wait_for(read_frame(reader), cleanup_budget(limits) + RESET_SLACK_S)
                    clean = (done.header.get("op") == "done" and reset.header.get("op") == "reset"
                             and reset.header.get("clean") is True)
                except (asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, OSError):
                    clean = False
            self._observe(sandbox.lease, outcome, sandbox)
            return outcome, clean
        except BaseException:
            sandbox.close()  # cancelled or broken: the sandbox must not outlive its caller's interest
            raise
        finally:
            for transport in (rtransport, wtransport):
                if transport is not None:
                    transport.close()
            for f in (rfile, wfile):
                if rtransport is None or wtransport is None:
                    try:
                        f.close()
                    except OSError:
                        pass

    def _take_idle(self, key: tuple) -> _PooledSandbox | None:
        with self._idle_lock:
            pool = self._idle.get(key, [])
            while pool:
                sandbox = pool.pop()
                if sandbox.proc.poll() is None:
                    return sandbox
                sandbox.close()
        return None

    def _put_idle(self, sandbox: _PooledSandbox) -> bool:
        """Keeps a clean sandbox for reuse; False when the pool is full (or the sandbox died)."""
        with self._idle_lock:
            pool = self._idle.setdefault(sandbox.key, [])
            if len(pool) < MAX_IDLE_SANDBOXES and sandbox.proc.poll() is None:
                pool.append(sandbox)
                return True
        return False

    def idle_sandbox_pids(self) -> list[int]:
        """bwrap pids of the idle sandboxes kept for reuse (expected children of this process)."""
        with self._idle_lock:
            return [s.proc.pid for pool in self._idle.values() for s in pool]

    _instances: ClassVar[weakref.WeakSet] = weakref.WeakSet()

    @classmethod
    def all_idle_sandbox_pids(cls) -> list[int]:
        """Idle serve-many sandboxes of every LocalBackend in this process (for hygiene checks)."""
        return [pid for backend in list(cls._instances) for pid in backend.idle_sandbox_pids()]

    def close_idle(self) -> None:
        with self._idle_lock:
            pools, self._idle = list(self._idle.values()), {}
        for pool in pools:
            for sandbox in pool:
                sandbox.close(graceful=True)

    async def aclose(self) -> None:
        self.close_idle()

    # -- capability probe --------------------------------------------------------------------------

    _probe_cache: ClassVar[dict[tuple, str | None]] = {}
    _probe_lock = threading.Lock()

    def _probe(self) -> None:
        key = (self.bwrap, self.python, tuple(self.site_packages), tuple(self.package_dirs), self.privileged)
        with self._probe_lock:
            if key not in self._probe_cache:
                self._probe_cache[key] = self._run_probe()
        problem = self._probe_cache[key]
        if problem:
            raise IsolationUnavailable(f"bubblewrap sandbox unavailable: {problem}. {FIX_HINT}")

    def _run_probe(self) -> str | None:
        code = "import os,sys; sys.stdout.write('%d %d' % (os.getpid(), os.getuid()))"
        fd = _seccomp_fd() if seccomp.supported() else None
        argv = self._bwrap_args(Limits(), fd) + ["-c", code]
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30, env={},
                                 pass_fds=(fd,) if fd is not None else ())
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"`bwrap` could not run: {e}"
        finally:
            if fd is not None:
                os.close(fd)
        if out.returncode != 0 or not out.stdout.startswith("1 "):
            return f"`bwrap` failed (exit {out.returncode}): {out.stderr.strip()[-500:]}"
        return None


_cgroup_warned = False


def _cgroup_manager(mode: str) -> CgroupManager | None:
    global _cgroup_warned
    if mode == "off":
        return None
    manager = CgroupManager()
    if manager.available:
        return manager
    if mode == "required":
        raise IsolationUnavailable(f"cgroups required but unavailable: {manager.reason}")
    if not _cgroup_warned:
        _cgroup_warned = True
        log.warning("sandbox: running without cgroups (%s); memory outside processes (shared memory, "
                    "tmpfs) and process counts are bounded less tightly, see docs/sandbox.md",
                    manager.reason)
    return None


def _package_dirs(packages: list[str] | tuple[str, ...]) -> list[str]:
    """Host directories of the named top-level packages (plus a wheel's bundled `<name>.libs`)."""
    dirs = []
    for name in packages:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            log.warning("sandbox: package %r is not installed here; programs cannot import it", name)
            continue
        pkg = os.path.realpath(list(spec.submodule_search_locations)[0])
        dirs.append(pkg)
        libs = os.path.join(os.path.dirname(pkg), f"{name}.libs")
        if os.path.isdir(libs):
            dirs.append(os.path.realpath(libs))
    return dirs
