"""Trusted in-sandbox runner: one process per program, one forked process per test.

Standalone and stdlib-only: it is copied or bind-mounted into sandboxes (bwrap, Docker) and run as
``python -I -S runner.py [--uid U --gid G]`` (``--uid/--gid``: started as root, switch to that user before
reading anything). It is meant to be PID 1 of the sandbox's PID namespace:
then SIGKILL from the candidate cannot reach it, it reaps orphans, and ``kill(-1, SIGKILL)`` after each
test removes every other process of the sandbox. Outside a PID namespace (the "unsafe" backend) it falls
back to killing the test's session, which misses ``setsid`` escapees: trusted code only.

The runner never sees expected outputs. It compiles the program once, then for each test forks a child
from this warm interpreter (no interpreter start-up per test), sets rlimits in the child, feeds the test
input on fd 0 (a pipe, closed after the input), drains stdout/stderr (and the result pipe, fd 3)
concurrently with byte caps, enforces the CPU limit (RLIMIT_CPU per process plus polling the CPU time of
the whole process tree) and the wall cap, kills and reaps everything, and streams back one raw record.
The parent judges (compares outputs, assigns verdicts).

Wire protocol, version 1 (runner stdin = control in, stdout = records out, stderr = diagnostics)
-----------------------------------------------------------------------------------------------
Every message is a *frame*: a 4-byte big-endian length N, N bytes of a UTF-8 JSON object (the header),
then the raw bytes announced by the header (``data_len`` on input, ``blobs`` on output).

Parent -> runner:
  1. ``{"op": "start", "version": 1, "kind": "stdio"|"call"|"functional", "fn_name": str|null,
        "call_style": "auto"|"lcb"|"apps", "n_tests": N, "workdir": str,
        "sys_path": [str] (extra import paths, e.g. a read-only site-packages),
        "limits": {"cpu_s": float, "wall_s": float, "memory_bytes": int, "nproc": int|null,
                   "nofile": int, "fsize_bytes": int, "stack_bytes": int, "output_bytes": int},
        "data_len": P}`` followed by the P bytes of the program source (UTF-8).
  2. N times: ``{"op": "test", "index": k, "data_len": D}`` followed by D bytes: the stdin of a stdio
     test, the argument text of a call test, or the snippet of a functional test. The parent may send
     all of them at once (pipe back-pressure); the runner streams each into its test without buffering
     it whole.
Runner -> parent:
  1. ``{"op": "ready", "version": 1, "pid": int, "python": str, "compile_error": bool}`` once the
     program is compiled (compile errors are reported per test as well).
  2. N times, in order: ``{"op": "result", "index": k, "status": "exited"|"signaled",
        "exit_code": int|null, "signal": int|null, "cpu_s": float (whole reaped process tree),
        "wall_s": float, "maxrss_kb": int,
        "killed_by": null|"cpu"|"wall"|"output"|"memory" (memory: resident memory of the whole process
        tree above memory_bytes, polled as PID 1 only),
        "compile_error": bool, "setup_error": bool (the runner failed to prepare the test process: an
        infrastructure error), "completed": bool (functional: the per-test sentinel was seen),
        "result_ok": bool (call: a JSON return value arrived on the result pipe),
        "stdout_bytes": int, "stderr_bytes": int, "result_bytes": int,
        "cap_hit": bool, "blobs": [[name, length], ...]}``
     followed by the blobs' bytes in order. Blob names: ``stdout_head``, ``stdout_tail``,
     ``stderr_head``, ``stderr_tail``, ``result``. When a stream fits its cap, ``*_head`` is the whole
     stream and ``*_tail`` is empty; otherwise head and tail are half the cap each and ``cap_hit`` is
     set (the test was killed: OLE).
  3. ``{"op": "done"}``; then the runner exits 0.
  On a protocol or internal error it writes ``{"op": "error", "message": str}`` if it can, and exits 2.
  When its control input is closed (the executor gave up: POLLHUP, checked at least every 0.1 s during a
  test, or EOF between tests) it kills the running test and exits. Executors must also SIGKILL the
  runner itself when they abandon a sandbox: the kernel does not deliver bwrap's --die-with-parent
  signal to a PID-namespace init.
"""

from __future__ import annotations

import json
import os
import resource
import select
import selectors
import signal
import struct
import sys
import time

PROTOCOL_VERSION = 1
_HEADER = struct.Struct(">I")
_MAX_HEADER = 1 << 20  # a JSON header above 1 MiB is a protocol error, not data
_CHUNK = 1 << 16
_CPU_POLL_S = 0.1  # how often the CPU time of a multi-process tree is summed from /proc
_DRAIN_AFTER_EXIT_S = 0.5  # unsafe mode: how long to wait for escaped writers to close the pipes
_RESULT_FD = 3
_SETUP_EXIT = 121  # the forked child could not be set up (before any candidate code ran)
_SETUP_FAILED = b"runner: test process setup failed: "

# Imported once in the runner so that forked tests do not pay for them (sandbox.md §3.1).
_WARM_MODULES = (
    "collections", "heapq", "bisect", "itertools", "functools", "math", "re", "string", "typing",
    "random", "operator", "copy", "threading", "traceback", "atexit", "linecache",
)

# Prepended to functional (assert-style) tests: common imports and LeetCode helpers. The sentinel is
# written by the runner after the snippet, never by this code.
FUNCTIONAL_PRELUDE = '''\
import sys, os, math, re, heapq, bisect, string, random, itertools, functools, operator, collections
from typing import *
from collections import Counter, defaultdict, deque, OrderedDict
from itertools import accumulate, combinations, permutations, product, chain
from functools import lru_cache, reduce, cache
from heapq import heappush, heappop, heapify
from bisect import bisect_left, bisect_right, insort
from math import inf, gcd, sqrt, floor, ceil, log, comb


class ListNode:
    def __init__(self, val=0, next=None):
        self.val = val
        self.next = next


class TreeNode:
    def __init__(self, val=0, left=None, right=None):
        self.val = val
        self.left = left
        self.right = right


def list_node(values):
    head = None
    for v in reversed(list(values)):
        head = ListNode(v, head)
    return head


def linked_list_to_list(node):
    out = []
    while node is not None:
        out.append(node.val)
        node = node.next
    return out


def tree_node(values):
    values = list(values)
    if not values or values[0] is None:
        return None
    root = TreeNode(values[0])
    queue, i = collections.deque([root]), 1
    while queue and i < len(values):
        node = queue.popleft()
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = TreeNode(values[i])
                setattr(node, side, child)
                queue.append(child)
            i += 1
    return root


def is_same_tree(p, q):
    if p is None or q is None:
        return p is q
    return p.val == q.val and is_same_tree(p.left, q.left) and is_same_tree(p.right, q.right)

'''


# ----------------------------------------------------------------------------------------------------
# framing (shared with the parent: sandbox/session.py imports these)


def encode_header(obj: dict) -> bytes:
    body = json.dumps(obj, separators=(",", ":")).encode()
    return _HEADER.pack(len(body)) + body


def _read_exact(fd: int, n: int) -> bytes:
    parts, got = [], 0
    while got < n:
        chunk = os.read(fd, min(n - got, 1 << 20))
        if not chunk:
            raise EOFError(f"control pipe closed after {got} of {n} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_header(fd: int) -> dict:
    (n,) = _HEADER.unpack(_read_exact(fd, _HEADER.size))
    if n > _MAX_HEADER:
        raise ValueError(f"frame header of {n} bytes exceeds {_MAX_HEADER}")
    obj = json.loads(_read_exact(fd, n))
    if not isinstance(obj, dict):
        raise ValueError("frame header is not a JSON object")
    return obj


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


# ----------------------------------------------------------------------------------------------------
# capture with a byte cap: keep head + tail


class _Capture:
    def __init__(self, cap: int):
        self.cap = cap
        self.half = cap // 2
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, data: bytes) -> bool:
        """Appends data; returns True once the total exceeds the cap."""
        self.total += len(data)
        room = self.cap - len(self.head)
        if self.total <= self.cap:
            self.head += data
            return False
        # Over the cap: freeze the head at half the cap and keep a rolling tail.
        if len(self.head) > self.half:
            self.tail += self.head[self.half:]
            del self.head[self.half:]
        elif room > 0 and len(self.head) < self.half:
            take = self.half - len(self.head)
            self.head += data[:take]
            data = data[take:]
        self.tail += data
        if len(self.tail) > self.half:
            del self.tail[: len(self.tail) - self.half]
        return True

    @property
    def over(self) -> bool:
        return self.total > self.cap


# ----------------------------------------------------------------------------------------------------
# process-tree control


def _am_init() -> bool:
    return os.getpid() == 1


def _kill_tree(pid: int) -> None:
    """Kills every process of the test. As PID 1 of a namespace, kill(-1) reaches all but ourselves."""
    if _am_init():
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    try:  # not init (unsafe mode): the test's session only; setsid escapees survive (documented)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_all(pid: int) -> None:
    """Kills and reaps until no child is left (init) or the test's group is gone (unsafe)."""
    if _am_init():
        while True:
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    while True:  # reap whatever children we have (only the direct child in unsafe mode)
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            return


_CLK_TCK = os.sysconf("SC_CLK_TCK")


_PAGE = os.sysconf("SC_PAGE_SIZE")


def _live_tree_usage() -> tuple[float, int, list[int]]:
    """(CPU seconds, resident bytes) of the live processes in our PID namespace other than us. CPU
    includes their already reaped children (cutime/cstime). Resident bytes count pages shared with us
    (copy-on-write after fork) once per process, so the sum errs on the high side: see _tree_pss."""
    ticks = rss_pages = 0
    pids = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        # proc(5) fields 14-17 (utime, stime, cutime, cstime) and 24 (rss), counted from field 3 here
        ticks += sum(int(x) for x in fields[11:15])
        rss_pages += int(fields[21])
        pids.append(int(name))
    return ticks / _CLK_TCK, rss_pages * _PAGE, pids


def _tree_pss(pids: list[int]) -> int:
    """Proportional set size of the processes: shared pages split among their sharers, so forked
    copies of the warm interpreter are not counted N times (dearer than stat: only used to confirm)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                for line in f:
                    if line.startswith(b"Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError):
            continue  # exited meanwhile
    return total


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


# ----------------------------------------------------------------------------------------------------
# the child side (runs after fork; never returns)


def _set_limits(limits: dict) -> None:
    cpu = max(1, int(-(-limits["cpu_s"] // 1)))  # RLIMIT_CPU is whole seconds: ceil
    plan = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"]),
        (resource.RLIMIT_FSIZE, limits["fsize_bytes"], limits["fsize_bytes"]),
        (resource.RLIMIT_NOFILE, limits["nofile"], limits["nofile"]),
        (resource.RLIMIT_CORE, 0, 0),
        (resource.RLIMIT_STACK, limits["stack_bytes"], limits["stack_bytes"]),
    ]
    if limits.get("nproc"):
        plan.append((resource.RLIMIT_NPROC, limits["nproc"], limits["nproc"]))
    for which, soft, hard in plan:
        cur_soft, cur_hard = resource.getrlimit(which)
        if cur_hard != resource.RLIM_INFINITY:  # only ever lower
            hard = min(hard, cur_hard)
            soft = min(soft, hard)
        resource.setrlimit(which, (soft, hard))


def _fresh_std_streams() -> None:
    import io

    def text(fd: int, mode: str, errors: str, line_buffering: bool):
        raw = io.FileIO(fd, mode, closefd=False)
        buf = io.BufferedReader(raw) if mode == "r" else io.BufferedWriter(raw)
        return io.TextIOWrapper(buf, encoding="utf-8", errors=errors, line_buffering=line_buffering)

    sys.stdin = sys.__stdin__ = text(0, "r", "strict", False)
    sys.stdout = sys.__stdout__ = text(1, "w", "strict", False)
    sys.stderr = sys.__stderr__ = text(2, "w", "backslashreplace", True)


def _exit_like_python(code: int) -> None:
    """What the interpreter does at normal exit: join threads, atexit, flush; then _exit."""
    import atexit
    import threading

    try:
        threading._shutdown()  # private but stable: joins non-daemon threads as Py_Finalize does
    except BaseException:
        pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            if stream is sys.stdout and code == 0:
                code = 120  # as CPython: stdout flush failure at exit
    os._exit(code)


def _system_exit_code(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    try:
        print(e.code, file=sys.stderr)
    except BaseException:
        pass
    return 1


def _print_exception(e: BaseException) -> None:
    import traceback

    tb = e.__traceback__
    runner_file = _print_exception.__code__.co_filename  # also right when the runner is exec'd from a string
    while tb is not None and tb.tb_frame.f_code.co_filename == runner_file:
        tb = tb.tb_next  # hide runner frames
    try:
        traceback.print_exception(type(e), e, tb, file=sys.stderr)
    except BaseException:
        pass


def _parse_call_args(text: str, fn, style: str) -> list:
    import inspect

    lines = [ln for ln in text.split("\n") if ln.strip()]
    if style == "lcb" or (style == "auto" and len(lines) != 1):
        return [json.loads(ln) for ln in lines]
    value = json.loads(text)
    if style == "apps":
        if not isinstance(value, list):
            raise TypeError("call_style 'apps' needs a JSON list of arguments")
        return value
    # auto, one line: spread a list whose length equals the positional arity (>= 2)
    try:
        params = inspect.signature(fn).parameters.values()
        arity = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)
    except (TypeError, ValueError):
        arity = 1
    if isinstance(value, list) and arity >= 2 and len(value) == arity:
        return value
    return [value]


def _to_jsonable(value):
    if isinstance(value, tuple):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, list):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k if isinstance(k, str) else json.dumps(_to_jsonable(k)): _to_jsonable(v)
                for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"return value of type {type(value).__name__} is not JSON-serialisable")


def _child(job: dict, code, compile_exc, payload_fd_text: str, sentinel: bytes | None) -> None:
    """Runs one test in the forked child. Never returns."""
    import types

    exit_code = 1
    try:
        # A fresh __main__, as for `python solution.py`.
        main = types.ModuleType("__main__")
        import builtins

        main.__dict__.update({"__file__": "solution.py", "__builtins__": builtins})
        sys.modules["__main__"] = main
        sys.argv = ["solution.py"]
        kind = job["kind"]
        try:
            if compile_exc is not None:
                raise compile_exc
            if kind == "functional":
                source = FUNCTIONAL_PRELUDE + job["program"] + "\n\n" + payload_fd_text + "\n"
                import linecache

                linecache.cache["solution.py"] = (len(source), None, source.splitlines(True), "solution.py")
                exec(compile(source, "solution.py", "exec"), main.__dict__)
                os.write(_RESULT_FD, sentinel)
            elif kind == "call":
                exec(code, main.__dict__)
                fn_name = job["fn_name"]
                fn = main.__dict__.get(fn_name)
                if not callable(fn):
                    sol = main.__dict__.get("Solution")
                    if sol is None:
                        raise NameError(f"neither a function {fn_name!r} nor a class Solution is defined")
                    fn = getattr(sol(), fn_name)
                args = _parse_call_args(payload_fd_text, fn, job.get("call_style", "auto"))
                value = _to_jsonable(fn(*args))
                sys.stdout.flush()
                data = json.dumps(value).encode()
                view = memoryview(data)
                while view:
                    view = view[os.write(_RESULT_FD, view):]
                os.close(_RESULT_FD)
            else:
                exec(code, main.__dict__)
            exit_code = 0
        except SystemExit as e:
            exit_code = _system_exit_code(e)
        except BaseException as e:  # the candidate's exception: traceback on stderr, status 1
            _print_exception(e)
            exit_code = 1
        _exit_like_python(exit_code)
    finally:
        os._exit(exit_code if exit_code else 70)  # only reached if exiting itself failed


def _prepare_child(job: dict, fds: dict) -> None:
    """Child-side plumbing right after fork: fds, session, signals, limits, cwd, std streams."""
    os.setsid()
    os.dup2(fds["stdin_r"], 0)
    os.dup2(fds["stdout_w"], 1)
    os.dup2(fds["stderr_w"], 2)
    first_free = 3
    if fds.get("result_w") is not None:
        os.dup2(fds["result_w"], _RESULT_FD)
        first_free = 4
    os.closerange(first_free, 1 << 16)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGALRM,
                signal.SIGXCPU):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython at start-up
    _set_limits(job["limits"])
    _set_dumpable(1)  # the runner is undumpable; the test may read its own /proc/self/* like any process
    os.chdir(job["workdir"])
    _fresh_std_streams()
    if "random" in sys.modules:  # forked children share the runner's PRNG state: reseed like a new process
        sys.modules["random"].seed()


# ----------------------------------------------------------------------------------------------------
# the runner side


def _set_nonblocking(fd: int) -> None:
    os.set_blocking(fd, False)


def _wipe(path: str) -> None:
    """Empties the work dir between tests (does not follow symlinks)."""
    try:
        entries = list(os.scandir(path))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                _wipe(entry.path)
                os.rmdir(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass


def _run_one(job: dict, code, compile_exc, ctl_in: int, index: int, data_len: int) -> tuple[dict, list]:
    limits = job["limits"]
    cap = limits["output_bytes"]
    kind = job["kind"]
    payload_text = ""
    if kind != "stdio":
        # call/functional: the test text is small and parsed in the child, read it whole
        payload_text = _read_exact(ctl_in, data_len).decode("utf-8", "replace")
        data_len = 0
    sentinel = os.urandom(16).hex().encode() if kind == "functional" else None

    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    res_r = res_w = None
    if kind != "stdio":
        res_r, res_w = os.pipe()
    fds = {"stdin_r": stdin_r, "stdout_w": out_w, "stderr_w": err_w, "result_w": res_w}

    cpu0 = _children_cpu()
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            _prepare_child(job, fds)
        except BaseException as e:  # our fault, not the candidate's: reported as setup_error (SE)
            try:
                os.write(2, _SETUP_FAILED + f"{type(e).__name__}: {e}".encode())
            finally:
                os._exit(_SETUP_EXIT)
        try:
            _child(job, code, compile_exc, payload_text, sentinel)
        finally:
            os._exit(71)
    for fd in (stdin_r, out_w, err_w, res_w):
        if fd is not None:
            os.close(fd)

    captures = {"stdout": _Capture(cap), "stderr": _Capture(cap), "result": _Capture(cap)}
    sel = selectors.DefaultSelector()
    for name, fd in (("stdout", out_r), ("stderr", err_r), ("result", res_r)):
        if fd is not None:
            _set_nonblocking(fd)
            sel.register(fd, selectors.EVENT_READ, name)
    try:
        pidfd = os.pidfd_open(pid)
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    except (AttributeError, OSError):
        pidfd = None

    # stdin streaming state: bytes still to come from the control pipe, and one pending chunk
    remaining = data_len
    pending = b""
    stdin_open = True
    if remaining == 0:
        os.close(stdin_w)
        stdin_open = False
    else:
        _set_nonblocking(stdin_w)
        sel.register(ctl_in, selectors.EVENT_READ, "ctl")

    # The executor closing our control pipe means it gave up on us: stop at once (checked every wake-up,
    # at most every _CPU_POLL_S; POLLHUP is reported even while unread test frames are pending).
    hup = select.poll()
    hup.register(ctl_in, 0)
    wall_deadline = t0 + limits["wall_s"]
    killed_by = None
    status = None
    rusage = None
    next_cpu_poll = t0 + _CPU_POLL_S

    def close_stdin():
        nonlocal stdin_open
        if stdin_open:
            try:
                sel.unregister(stdin_w)
            except (KeyError, ValueError):
                pass
            os.close(stdin_w)
            stdin_open = False

    def kill(reason):
        nonlocal killed_by
        if killed_by is None:
            killed_by = reason
        _kill_tree(pid)

    while status is None:
        now = time.monotonic()
        timeout = max(0.0, min(wall_deadline, next_cpu_poll) - now)
        if pidfd is None:
            timeout = min(timeout, 0.005)
        for key, _ in sel.select(timeout):
            what = key.data
            if what == "exit":
                continue  # reaped below
            if what == "ctl":
                chunk = os.read(ctl_in, min(remaining, _CHUNK))
                if not chunk:
                    raise EOFError("control pipe closed inside a test input")
                remaining -= len(chunk)
                if stdin_open:
                    pending = chunk
                    sel.unregister(ctl_in)
                    sel.register(stdin_w, selectors.EVENT_WRITE, "stdin")
                elif remaining == 0:
                    sel.unregister(ctl_in)
                continue
            if what == "stdin":
                try:
                    n = os.write(stdin_w, pending)
                    pending = pending[n:]
                except BlockingIOError:
                    continue
                except (BrokenPipeError, OSError):
                    pending = b""
                    close_stdin()  # the child stopped reading: the rest of the input is dropped
                    if remaining:
                        sel.register(ctl_in, selectors.EVENT_READ, "ctl")
                    continue
                if not pending:
                    sel.unregister(stdin_w)
                    if remaining:
                        sel.register(ctl_in, selectors.EVENT_READ, "ctl")
                    else:
                        close_stdin()
                continue
            try:
                data = os.read(key.fd, _CHUNK)
            except BlockingIOError:
                continue
            if not data:
                sel.unregister(key.fd)
                continue
            if captures[what].add(data):
                kill("output")
        # As init we also reap orphans as they die (zombies would count against RLIMIT_NPROC).
        while True:
            got, st, ru = os.wait4(-1 if _am_init() else pid, os.WNOHANG)
            if got == 0:
                break
            if got == pid:
                status, rusage = st, ru
                break
        if status is not None:
            break
        if hup.poll(0):
            _kill_tree(pid)
            _reap_all(pid)
            raise EOFError("control pipe closed by the executor during a test")
        now = time.monotonic()
        if now >= wall_deadline:
            kill("wall")
        if now >= next_cpu_poll:
            next_cpu_poll = now + _CPU_POLL_S
            if _am_init():
                # RLIMIT_CPU and RLIMIT_AS are per process: the whole tree is capped here.
                live_cpu, live_rss, live_pids = _live_tree_usage()
                if _children_cpu() - cpu0 + live_cpu > limits["cpu_s"]:
                    kill("cpu")
                elif live_rss > limits["memory_bytes"] and _tree_pss(live_pids) > limits["memory_bytes"]:
                    kill("memory")

    wall = time.monotonic() - t0
    # The direct child is gone: nothing else of this test may survive.
    _kill_tree(pid)
    _reap_all(pid)
    close_stdin()
    drain_deadline = time.monotonic() + _DRAIN_AFTER_EXIT_S
    for key in list(sel.get_map().values()):
        if key.data not in captures:
            continue
        fd = key.fd
        while True:
            try:
                data = os.read(fd, _CHUNK)
            except BlockingIOError:
                if time.monotonic() > drain_deadline:
                    break
                time.sleep(0.005)
                continue
            if not data:
                break
            captures[key.data].add(data)
    sel.close()
    for fd in (out_r, err_r, res_r, pidfd):
        if fd is not None:
            os.close(fd)
    while remaining:  # drop unread input so the control stream stays in sync
        chunk = os.read(ctl_in, min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("control pipe closed inside a test input")
        remaining -= len(chunk)
    cpu = _children_cpu() - cpu0
    _wipe(job["workdir"])

    cap_hit = any(c.over for c in captures.values())
    if cap_hit and killed_by is None:
        killed_by = "output"
    result_bytes = bytes(captures["result"].head)
    record = {
        "op": "result", "index": index,
        "status": "signaled" if os.WIFSIGNALED(status) else "exited",
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_s": round(cpu, 6), "wall_s": round(wall, 6), "maxrss_kb": int(rusage.ru_maxrss),
        "killed_by": killed_by, "compile_error": compile_exc is not None,
        "setup_error": os.WIFEXITED(status) and os.WEXITSTATUS(status) == _SETUP_EXIT
        and bytes(captures["stderr"].head).startswith(_SETUP_FAILED),
        "completed": kind == "functional" and not cap_hit and result_bytes == sentinel,
        "result_ok": kind == "call" and not cap_hit and len(result_bytes) > 0,
        "stdout_bytes": captures["stdout"].total, "stderr_bytes": captures["stderr"].total,
        "result_bytes": captures["result"].total, "cap_hit": cap_hit,
    }
    blobs = [
        ("stdout_head", bytes(captures["stdout"].head)), ("stdout_tail", bytes(captures["stdout"].tail)),
        ("stderr_head", bytes(captures["stderr"].head)), ("stderr_tail", bytes(captures["stderr"].tail)),
        ("result", result_bytes if kind == "call" else b""),
    ]
    return record, blobs


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _prctl(option: int, value: int, what: str) -> None:
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({what}, {value}) failed")
    except (ImportError, AttributeError):
        raise OSError(f"cannot call prctl({what}) (ctypes unavailable)") from None


def _set_dumpable(value: int) -> None:
    """prctl(PR_SET_DUMPABLE). The runner sets 0: same-uid test processes can then neither ptrace it
    nor open /proc/1/fd/* (which would let them write fake records into its output pipe)."""
    _prctl(4, value, "PR_SET_DUMPABLE")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    uid = gid = None
    while argv:
        flag = argv.pop(0)
        if flag == "--uid":
            uid = int(argv.pop(0))
        elif flag == "--gid":
            gid = int(argv.pop(0))
        else:
            print(f"runner: unknown argument {flag!r}", file=sys.stderr)
            return 2
    if uid is not None:
        _drop_privileges(uid, gid if gid is not None else uid)
    # Our control fds move out of 0/1 so that nothing can write records by accident.
    ctl_in = os.dup(0)
    ctl_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # init ignores signals it has no handler for
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)

    def send(obj: dict, blobs: list | None = None) -> None:
        if blobs:
            obj["blobs"] = [[name, len(data)] for name, data in blobs]
        _write_all(ctl_out, encode_header(obj) + b"".join(data for _, data in blobs or []))

    try:
        _set_dumpable(0)
        start = _read_header(ctl_in)
        if start.get("op") != "start" or start.get("version") != PROTOCOL_VERSION:
            raise ValueError(f"expected a version {PROTOCOL_VERSION} start frame, got {start!r}")
        program = _read_exact(ctl_in, int(start["data_len"])).decode("utf-8", "replace")
        job = dict(start, program=program)
        for path in start.get("sys_path") or []:
            sys.path.append(path)
        for name in _WARM_MODULES + (("inspect",) if job["kind"] == "call" else ()):
            try:
                __import__(name)
            except ImportError:
                pass
        code = compile_exc = None
        if job["kind"] != "functional":
            import linecache

            linecache.cache["solution.py"] = (len(program), None, program.splitlines(True), "solution.py")
            try:
                code = compile(program, "solution.py", "exec")
            except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
                compile_exc = e
        send({"op": "ready", "version": PROTOCOL_VERSION, "pid": os.getpid(),
              "python": sys.version.split()[0], "compile_error": compile_exc is not None})
        for k in range(int(start["n_tests"])):
            frame = _read_header(ctl_in)
            if frame.get("op") != "test" or frame.get("index") != k:
                raise ValueError(f"expected test frame {k}, got {frame!r}")
            record, blobs = _run_one(job, code, compile_exc, ctl_in, k, int(frame["data_len"]))
            send(record, blobs)
        send({"op": "done"})
        return 0
    except BaseException as e:  # report and die: the parent turns the missing results into SE
        try:
            send({"op": "error", "message": f"{type(e).__name__}: {e}"})
        except BaseException:
            pass
        print(f"runner: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
