"""Local backend: one bubblewrap sandbox per program, the trusted runner as its PID 1.

Threat model (sandbox.md §2)
----------------------------
Covered: programs written by a policy model that are buggy or reward-hacking. Infinite loops and sleepers
(CPU-time TLE from RLIMIT_CPU plus polling the CPU of the whole process tree; wall cap 3 x cpu + 1 s),
fork and thread bombs (RLIMIT_NPROC counted per sandbox, see below; every process killed through the PID
namespace after each test), memory bombs (RLIMIT_AS), output floods (pipes drained concurrently, 1 MiB
caps, OLE), memory spread over many processes (the runner polls the resident memory of the whole tree
every 0.1 s and kills it above the limit: MLE), disk filling (read-only root, size-capped private tmpfs,
RLIMIT_FSIZE), network access (empty network namespace), host files and secrets (only /usr, the
interpreter prefix, a few /etc files and the runner are mounted, read-only; the environment is cleared to
an allow-list), killing other processes (PID namespace; the runner is its init and cannot be killed from
inside), faking success by exiting early (stdout must match; assert snippets need a per-test sentinel),
reading expected outputs (they never enter the sandbox: the parent compares), and interference between
concurrent runs (separate namespaces, tmpfs and uids).

Not covered: kernel or bwrap exploits, hardware and timing side channels, a malicious operator, hostile
multi-tenant use (use the docker backend with gVisor on a dedicated host), and memory that no process
owns (no cgroups: kernel memory such as inodes of many small files is bounded only by the CPU limit;
tmpfs is capped by its size) or that a tree allocates between two 0.1 s polls. The seccomp deny-list (sandbox/seccomp.py: namespaces, mounts, ptrace, bpf,
keyrings, io_uring, ...) exists for x86_64 only; elsewhere only missing capabilities, NO_NEW_PRIVS and,
in user-namespace mode, --disable-userns stand in its way. Assert-style tests are weaker by construction:
their expected values run next to the candidate.

Two ways to get a non-root, per-sandbox user (RLIMIT_NPROC is ignored for uid 0 and is counted per user):
  * userns (parent is not root): ``bwrap --unshare-user --uid 65534``; the sandbox user maps to the
    caller's uid, and process counts are kept per user namespace, hence per sandbox.
  * privileged (parent is root): bwrap keeps only CAP_SETUID/CAP_SETGID and the runner switches to a uid
    leased for this sandbox alone (an abstract-socket lock makes leases unique across processes), so
    root-owned host files are "other" to the candidate and RLIMIT_NPROC counts this sandbox only. A root
    user namespace would map the candidate onto host uid 0 instead.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import random
import shutil
import socket
import subprocess
import threading
from typing import Any, ClassVar

from sandbox import seccomp
from sandbox.backend import RUNNER_PATH, SANDBOX_ENV, SubprocessRunnerBackend, real_interpreter
from sandbox.cgroups import Cgroup, CgroupManager
from sandbox.session import RunnerOutcome
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
                 uid_base: int = DEFAULT_UID_BASE, uid_count: int = DEFAULT_UID_COUNT, cgroups: str = "auto"):
        """python: interpreter inside the sandbox (default: the real binary behind sys.executable).
        site_packages: extra read-only import directories (whole trees); none by default.
        packages: top-level packages of the parent's environment mounted read-only, one by one, so that
          they are importable without exposing the rest of the environment (numpy by default; a package
          that is not installed is left out with a warning). Their compiled code must match `python`.
        cgroups: "auto" (use them when the host lets us, else warn once), "required", or "off".
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
        self.prefix = self._interpreter_prefix()
        self._probe()

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

    def _acquire(self, limits: Limits) -> Any:
        uid_lease = UidLease(self.uid_base, self.uid_count) if self.privileged else None
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

    def _observe(self, lease: Any, outcome: RunnerOutcome) -> None:
        if lease.cgroup is not None and lease.cgroup.oom_kills() > 0:
            outcome.oom_killed = True

    def _session_options(self, lease: Any, limits: Limits) -> dict[str, Any]:
        # +1: the runner itself runs under the same (per-sandbox) uid and counts against RLIMIT_NPROC.
        sys_path = [dest for _, dest in self._site_mounts()] + ([PACKAGES_MOUNT] if self.package_dirs else [])
        return {"workdir": WORKDIR, "sys_path": sys_path, "nproc": int(limits.pids) + 1,
                "scratch_dirs": [SHM_DIR], "private_ipc": True}

    def _site_mounts(self) -> list[tuple[str, str]]:
        """(host directory, mount point inside the sandbox) of each extra import directory."""
        return [(src, f"{SITE_MOUNT_ROOT}/{i}") for i, src in enumerate(self.site_packages)]

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
