"""Trusted in-sandbox runner: one process per program, one forked process per test.

Standalone and stdlib-only: it is copied or bind-mounted into sandboxes (bwrap, Docker) and run as
``python -I -S runner.py [--uid U --gid G] [--child-uid U --child-gid G]`` (``--uid/--gid``: started as
root, switch to that user before reading anything; ``--child-uid/--child-gid``: test processes switch to
that user after their rlimits, so that they cannot prlimit, renice or ptrace the runner). It is meant to be PID 1 of the sandbox's PID namespace: then SIGKILL from the
candidate cannot reach it, it reaps orphans, and ``kill(-1, SIGKILL)`` after each test removes every other
process of the sandbox. Outside a PID namespace (the "unsafe" backend, docker ``exec``) it falls back to
killing the test's session, which misses ``setsid`` escapees: the caller must kill those.

The runner never sees expected outputs. It compiles the program once, then for each test forks a child
from this interpreter, sets rlimits in the child, feeds the test input on fd 0, drains stdout/stderr
(and the result pipe, fd 3) concurrently with byte caps, enforces the CPU limit (RLIMIT_CPU per process
plus polling the CPU time of the whole tree) and the wall cap, kills and reaps everything, empties the
scratch directories (and, in a private IPC namespace, every SysV IPC object), and streams back one raw
record. The parent judges (compares outputs, assigns verdicts). See docs/sandbox.md.

Interface to the parent (sandbox/session.py; the docker backend drives the same protocol)
-------------------------------------------------------------------------------------------
Changes in version 2 (for backends that start this file): headers are still JSON (parsed with the C
scanner of ``_json`` so the runner does not import ``json``/``re``); the start frame gained the optional
keys ``scratch_dirs``, ``private_ipc``, ``cleanup_s``, ``helpers`` and ``warm_modules``; test frames gained
the optional ``output_bytes``; result records gained ``cleanup`` and ``skipped``; ``setup_error`` now
comes from a private pipe that is closed before candidate code runs (never from stderr text).

Changes in version 3: the parent sends each test frame after the previous result (not all at once),
and may end a program early with an ``end`` frame.

Every message is a *frame*: a 4-byte big-endian length N, N bytes of a UTF-8 JSON object (the header),
then the raw bytes announced by the header (``data_len`` on input, ``blobs`` on output).

Parent -> runner:
  1. ``{"op": "start", "version": 3, "kind": "stdio"|"call"|"functional", "fn_name": str|null,
        "call_style": "auto"|"lcb"|"apps", "n_tests": N, "workdir": str,
        "sys_path": [str] (extra read-only import paths),
        "scratch_dirs": [str] (optional: more directories emptied after every test, e.g. /dev/shm),
        "private_ipc": bool (optional: the sandbox has its own IPC namespace, so every SysV object in it
                       is removed after every test; never set it when sharing the host's),
        "cleanup_s": float (optional, default 2: time allowed to empty the scratch directories),
        "helpers": {name: source} (optional, functional tests: names bound before the program, from
                   HELPER_DEFS, or "module" / "module.attr" for imports),
        "warm_modules": [str] (optional: imported once in the runner so forked tests share them),
        "limits": {"cpu_s": float, "wall_s": float, "memory_bytes": int, "nproc": int|null,
                   "nofile": int, "fsize_bytes": int, "stack_bytes": int, "output_bytes": int},
        "data_len": P}`` followed by the P bytes of the program source (UTF-8).
  2. Up to N times: ``{"op": "test", "index": k, "data_len": D, "output_bytes": int (optional, per test)}``
     followed by D bytes: the stdin of a stdio test, the argument text of a call test, or the snippet
     of a functional test (already rewritten by the parent: see sandbox/functional.py). The parent may
     instead send ``{"op": "end"}`` before test N: the runner then runs no further test and answers
     ``done`` at once (the parent runs the remaining tests elsewhere, see sandbox/fanout.py).
Runner -> parent:
  1. ``{"op": "ready", "version": 3, "pid": int, "python": str, "compile_error": bool}``.
  2. N times, in order: ``{"op": "result", "index": k, "status": "exited"|"signaled"|"skipped",
        "exit_code": int|null, "signal": int|null, "cpu_s": float, "wall_s": float, "maxrss_kb": int,
        "killed_by": null|"cpu"|"wall"|"output"|"memory", "compile_error": bool,
        "setup_error": bool (the runner could not prepare the test process, reported on its private
                  pipe before any candidate code ran: an infrastructure error),
        "cleanup": "ok"|"timeout"|"failed"|"reset" (emptying the scratch dirs / IPC after the test;
                  "timeout"/"failed" mean the sandbox may hold the candidate's state: the remaining tests
                  are "skipped" and the sandbox must not be reused; "reset": the last test of a program in
                  a reused sandbox, cleaned and checked by the reset that follows),
        "skipped": null|"dirty" (not run because an earlier test of this program left state behind),
        "completed": bool (functional: the per-test completion line was seen),
        "result_ok": bool (call: a return value arrived on the result pipe),
        "stdout_bytes": int, "stderr_bytes": int, "result_bytes": int, "cap_hit": bool,
        "blobs": [[name, length], ...]}`` then the blobs' bytes. Blob names: ``stdout_head``,
     ``stdout_tail``, ``stderr_head``, ``stderr_tail``, ``result``. When a stream fits its cap,
     ``*_head`` is the whole stream; otherwise head and tail are half the cap each and ``cap_hit`` is set.
  3. ``{"op": "done", "dirty": bool}``; then the runner exits 0.
  On a protocol or internal error it writes ``{"op": "error", "message": str}`` if it can, and exits 2.
  When its control input is closed it kills the running test and exits. Executors must also SIGKILL the
  runner itself when they abandon a sandbox (a PID-namespace init gets no parent-death signal).
"""

from __future__ import annotations

# Only builtin or already-loaded modules at start-up: every import here is paid once per sandbox
# (selectors, signal and struct would add ~30 ms; the child imports what the program needs).
import _json
import _signal as signal
import gc
import os
import resource
import select
import sys
import time

PROTOCOL_VERSION = 3
_HEADER_SIZE = 4  # big-endian frame length
_MAX_HEADER = 1 << 20  # a JSON header above 1 MiB is a protocol error, not data
_CHUNK = 1 << 16
_CPU_POLL_S = 0.1  # how often the CPU time / memory of a multi-process tree is summed from /proc
_DRAIN_AFTER_EXIT_S = 0.5  # unsafe mode: how long to wait for escaped writers to close the pipes
_RESULT_FD = 3
_SETUP_EXIT = 121  # the forked child could not be set up (only meaningful with a setup-pipe message)
_SOLUTION_NAME = "solution.py"
# Extra frames below the program's module frame in a forked test (measured at run time, see _child):
# the recursion limit is raised by that many so that `python solution.py` depth limits hold.
_DEFAULT_RECURSION_LIMIT = 1000
# Imported once by a serve-many sandbox before its first program (copy-on-write in every fork): what
# competitive and LeetCode-style programs import most, and what the runner needs on error paths.
SERVE_MANY_WARM_MODULES = (
    "collections", "heapq", "bisect", "itertools", "functools", "math", "re", "string", "typing", "random",
    "operator", "copy", "threading", "traceback", "linecache", "inspect", "fractions", "decimal",
)


# ----------------------------------------------------------------------------------------------------
# JSON without the json package (its import costs ~13 ms per sandbox, mostly `re`)


class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN / Infinity, as json.loads
    memo: dict = {}


_scan = _json.make_scanner(_ScanContext())


def json_loads(text: str):
    """Strict JSON of a whole string (trusted input only: recursion is not bounded here)."""
    end = len(text)
    i = 0
    while i < end and text[i] in " \t\r\n":
        i += 1
    try:
        value, i = _scan(text, i)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    while i < end and text[i] in " \t\r\n":
        i += 1
    if i != end:
        raise ValueError("extra data after the JSON document")
    return value


def json_dumps(value) -> str:
    """Compact JSON of None/bool/int/float/str/list/tuple/dict (str keys), like json.dumps."""
    t = type(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if t is int:
        return int.__repr__(value)
    if t is float:
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if t is str:
        return _json.encode_basestring_ascii(value)
    if t is list or t is tuple:
        return "[" + ",".join(json_dumps(v) for v in value) + "]"
    if t is dict:
        return "{" + ",".join(_json.encode_basestring_ascii(str(k)) + ":" + json_dumps(v)
                              for k, v in value.items()) + "}"
    raise TypeError(f"value of type {t.__name__} is not JSON-serialisable")


# ----------------------------------------------------------------------------------------------------
# framing (the parent imports encode_header from here)


def encode_header(obj: dict) -> bytes:
    body = json_dumps(obj).encode()
    return len(body).to_bytes(_HEADER_SIZE, "big") + body


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
    n = int.from_bytes(_read_exact(fd, _HEADER_SIZE), "big")
    if n > _MAX_HEADER:
        raise ValueError(f"frame header of {n} bytes exceeds {_MAX_HEADER}")
    obj = json_loads(_read_exact(fd, n).decode())
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


_SUPERVISES_ALL = False  # set in a program supervisor of the serve-many mode (a subreaper, see _serve_many)


def _am_init() -> bool:
    """True when every other process of the test is ours to count and kill: as PID 1 of the sandbox, or
    as the subreaper supervisor of one program under its own uid (kill(-1) then reaches exactly it)."""
    return _SUPERVISES_ALL or os.getpid() == 1


def _kill_tree(pid: int) -> None:
    """Kills every process of the test. As PID 1 of a namespace, kill(-1) reaches all but ourselves."""
    if _am_init():
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return
    try:  # not init: the test's session only; setsid escapees survive (the caller kills those)
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_all(pid: int) -> None:
    """Kills and reaps until no child is left (init) or the test's group is gone (not init)."""
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
    while True:  # reap whatever children we have (only the direct child when not init)
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if got == 0:
            return


_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _live_tree_usage() -> tuple[float, int, list[int]]:
    """(CPU seconds, resident bytes, pids) of the live processes in our PID namespace other than us.
    CPU includes their reaped children. Resident bytes count shared pages once per process (high side)."""
    ticks = rss_pages = 0
    pids = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (me, 1):  # not us, not the serve-many parent
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
    """Proportional set size of the processes (shared pages split among sharers); confirms _live_tree_usage."""
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
# helpers for functional (assert-style) tests: written by us after the names in LeetCode-style data
# (LeetCodeDataset prompts, as used by Klear: ListNode/list_node/is_same_list, TreeNode/tree_node/
# is_same_tree). Compiled once per runner, bound by name only when the test data uses them.

HELPER_SOURCE = '''\
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
    head = tail = None
    for v in values:
        node = ListNode(v)
        if head is None:
            head = tail = node
        else:
            tail.next = node
            tail = node
    return head


def linked_list_to_list(node):
    out = []
    while node is not None:
        out.append(node.val)
        node = node.next
    return out


def tree_node(values):
    values = list(values)
    if not values:
        return None
    root = TreeNode(values[0])
    queue, i = [root], 1
    while queue:
        node = queue.pop(0)
        for side in ("left", "right"):
            if i < len(values) and values[i] is not None:
                child = TreeNode(values[i])
                setattr(node, side, child)
                queue.append(child)
            i += 1
    return root


def is_same_list(p, q):
    while p and q:
        if p.val != q.val:
            return False
        p, q = p.next, q.next
    return p is None and q is None


def is_same_tree(p, q):
    stack = [(p, q)]
    while stack:
        a, b = stack.pop()
        if not a and not b:
            continue
        if not a or not b or a.val != b.val:
            return False
        stack.append((a.left, b.left))
        stack.append((a.right, b.right))
    return True
'''
HELPER_DEFS = ("ListNode", "TreeNode", "list_node", "linked_list_to_list", "tree_node", "is_same_list",
               "is_same_tree")
_helpers_ns: dict = {}


def _helper_namespace() -> dict:
    if not _helpers_ns:
        exec(compile(HELPER_SOURCE, "<g2rl-helpers>", "exec"), _helpers_ns)
    return _helpers_ns


def bind_helpers(namespace: dict, helpers: dict) -> None:
    """Binds the names the parent resolved: HELPER_DEFS from our source, the rest from stdlib modules
    ("module" or "module.attr"); `inf` is float('inf') as in the LeetCode prompts."""
    for name, source in helpers.items():
        if source == "helper":
            namespace[name] = _helper_namespace()[name]
        elif source == "inf":
            namespace[name] = float("inf")
        else:
            module, _, attr = source.partition(".")
            mod = __import__(module)
            namespace[name] = getattr(mod, attr) if attr else mod


# ----------------------------------------------------------------------------------------------------
# the record channel of functional tests and its guard (sandbox/functional.py rewrites asserts into
# calls of these; the parent decodes the lines and judges)

_MAX_ENCODE_DEPTH = 64
_MAX_LINKED_NODES = 1 << 20
_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: classes made by Python code (the candidate's included)
# Dunders through which a value could lie to a comparison or a truth test.
_LYING_DUNDERS = ("__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__",
                  "__hash__", "__abs__", "__sub__", "__rsub__", "__add__", "__radd__", "__contains__",
                  "__iter__", "__getattribute__", "__getattr__", "__instancecheck__", "__class__")


class GuardError(TypeError):
    """A value in an assert has a type that overrides comparison or truth (it could fake a pass)."""


def _trusted_type(t) -> bool:
    if not t.__flags__ & _HEAPTYPE:
        return True  # built-in (C) types: their comparisons cannot be redefined from Python
    if _helpers_ns and (t is _helpers_ns.get("ListNode") or t is _helpers_ns.get("TreeNode")):
        return True
    for klass in t.__mro__:
        if not klass.__flags__ & _HEAPTYPE:
            break
        for name in _LYING_DUNDERS:
            if name in klass.__dict__:
                return False
    return True


def guard(value, _depth: int = 0):
    """Returns value unchanged if neither it nor anything it contains can lie to ==/</truth tests."""
    t = type(value)
    if not _trusted_type(t):
        raise GuardError(f"assert on a value of type {t.__name__}, which overrides comparison or truth")
    if _depth < _MAX_ENCODE_DEPTH and t in (list, tuple, set, frozenset, dict):
        for item in (value.items() if t is dict else value):
            if t is dict:
                guard(item[0], _depth + 1)
                guard(item[1], _depth + 1)
            else:
                guard(item, _depth + 1)
    return value


def _linked_values(node, next_attr: str) -> list:
    out, seen = [], 0
    while node is not None:
        seen += 1
        if seen > _MAX_LINKED_NODES:
            raise GuardError("linked structure too long or cyclic")
        out.append(encode_value(object.__getattribute__(node, "val")))
        node = object.__getattribute__(node, next_attr)
    return out


def _tree_levels(root) -> list:
    """LeetCode level order with None holes, trailing Nones trimmed."""
    out, queue, i = [], [root], 0
    while i < len(queue):
        node = queue[i]
        i += 1
        if len(queue) > _MAX_LINKED_NODES:
            raise GuardError("tree too large or cyclic")
        if node is None:
            out.append(None)
            continue
        out.append(encode_value(object.__getattribute__(node, "val")))
        queue.append(object.__getattribute__(node, "left"))
        queue.append(object.__getattribute__(node, "right"))
    while out and out[-1] is None:
        out.pop()
    return out


class _Unencodable:
    pass


def encode_value(value, _depth: int = 0):
    """Plain data (exact builtin types) for the parent: ListNode/TreeNode become tagged tuples; anything
    else raises GuardError. The parent re-parses the repr of the result with ast.literal_eval."""
    t = type(value)
    if _depth > _MAX_ENCODE_DEPTH:
        raise GuardError("value nested too deeply")
    if value is None or t in (bool, int, str, bytes, complex):
        return value
    if t is float:
        if value != value or value in (float("inf"), float("-inf")):
            return ("__float__", repr(value))
        return value
    if t in (list, tuple):
        out = [encode_value(v, _depth + 1) for v in value]
        if t is list:
            return out
        if len(out) == 2 and type(out[0]) is str and out[0].startswith("__"):
            return ("__tuple__", tuple(out))  # a real tuple shaped like one of our tags stays a tuple
        return tuple(out)
    if t in (set, frozenset):
        return ("__set__", tuple(sorted((encode_value(v, _depth + 1) for v in value), key=repr)))
    if t is dict:
        return {encode_value(k, _depth + 1): encode_value(v, _depth + 1) for k, v in value.items()}
    # Subclasses of the builtin containers (Counter, OrderedDict, defaultdict, namedtuple) compare like
    # their base; forging them gains nothing, since the expected value never enters the sandbox.
    if isinstance(value, dict):
        return {encode_value(k, _depth + 1): encode_value(v, _depth + 1) for k, v in dict.items(value)}
    if isinstance(value, tuple):
        return encode_value(tuple(tuple.__iter__(value)), _depth)
    if isinstance(value, list):
        return [encode_value(v, _depth + 1) for v in list.__iter__(value)]
    if type(value).__name__ == "deque" and type(value).__module__ == "collections":
        return ("__deque__", tuple(encode_value(v, _depth + 1) for v in value))
    helpers = _helpers_ns
    if helpers and t is helpers.get("ListNode"):
        return ("__ListNode__", tuple(_linked_values(value, "next")))
    if helpers and t is helpers.get("TreeNode"):
        return ("__TreeNode__", tuple(_tree_levels(value)))
    item = getattr(t, "item", None)
    if not t.__flags__ & _HEAPTYPE and item is not None and t.__module__ == "numpy":
        return encode_value(value.item(), _depth + 1)  # numpy scalars (a C type: cannot be faked)
    raise GuardError(f"cannot judge a value of type {t.__name__}")


def make_recorder(fd: int):
    """`__g2rl_record__(site, value, negate)`: one line per executed assert site on the result pipe.
    Truth sites (negate not None) also raise AssertionError when false, as the assert would."""

    def record(site: int, value, negate=None):
        try:
            text = repr(encode_value(value))
        except GuardError as e:
            text = repr(("__unjudgeable__", str(e)[:200]))
        except RecursionError:
            text = repr(("__unjudgeable__", "value nested too deeply"))
        _write_all(fd, f"{site} {text}\n".encode("utf-8", "backslashreplace"))
        if negate is not None:
            truth = bool(guard(value))
            if truth == negate:
                raise AssertionError
        return value

    return record


# ----------------------------------------------------------------------------------------------------
# the child side (runs after fork; never returns)


def _set_limits(limits: dict, output_bytes: int) -> None:
    cpu = max(1, int(-(-limits["cpu_s"] // 1)))  # RLIMIT_CPU is whole seconds: ceil
    plan = [
        (resource.RLIMIT_CPU, cpu, cpu + 1),
        (resource.RLIMIT_AS, limits["memory_bytes"], limits["memory_bytes"]),
        (resource.RLIMIT_FSIZE, max(limits["fsize_bytes"], output_bytes), max(limits["fsize_bytes"], output_bytes)),
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
    """Standard streams as CPython builds them for a non-tty: names <stdin>/<stdout>/<stderr>, text mode
    "r"/"w" (PyRival's FastIO reads .mode and fileno())."""
    import io

    def stream(fd: int, mode: str, name: str, errors: str, line_buffering: bool):
        # stdin keeps universal newlines (inputs written on Windows still parse); output is untranslated.
        f = io.open(fd, mode, buffering=1 if line_buffering else -1, encoding="utf-8", errors=errors,
                    closefd=False, newline=None if mode == "r" else "\n")
        f.buffer.raw.name = name
        return f

    sys.stdin = sys.__stdin__ = stream(0, "r", "<stdin>", "strict", False)
    sys.stdout = sys.__stdout__ = stream(1, "w", "<stdout>", "strict", False)
    sys.stderr = sys.__stderr__ = stream(2, "w", "<stderr>", "backslashreplace", True)


def _exit_like_python(code: int, main_dict: dict) -> None:
    """What Py_FinalizeEx does: join threads, atexit, flush std streams, tear down __main__ (so files the
    program opened itself, e.g. open(1, "w", closefd=False), are flushed by their finalizers), flush
    again; then _exit."""
    import atexit

    threading = sys.modules.get("threading")  # no threading module imported: no thread to join
    if threading is not None:
        try:
            threading._shutdown()  # private but stable: joins non-daemon threads as Py_Finalize does
        except BaseException:
            pass
    try:
        atexit._run_exitfuncs()
    except BaseException:
        pass
    code = _flush_std(code)
    try:
        # As CPython's module teardown: the original streams come back first (a replaced sys.stdout,
        # e.g. PyRival's FastIO, needs the module globals that are about to go).
        sys.stdin, sys.stdout, sys.stderr = sys.__stdin__, sys.__stdout__, sys.__stderr__
        main_dict.clear()
        gc.collect()
    except BaseException:
        pass
    code = _flush_std(code)
    os._exit(code)


def _flush_std(code: int) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            if stream is sys.stdout and code == 0:
                code = 120  # as CPython: stdout flush failure at exit
    return code


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


def _print_exception(e: BaseException, job: dict | None = None) -> None:
    try:
        import linecache
        import traceback
    except BaseException:  # no memory left to import them
        _print_exception_minimal(e)
        return

    if job is not None:  # source lines for the traceback, as if read from solution.py
        path = os.path.join(job["workdir"], _SOLUTION_NAME)
        program = job["program"]
        linecache.cache[path] = (len(program), None, program.splitlines(True), path)
    tb = e.__traceback__
    runner_file = _print_exception.__code__.co_filename  # also right when the runner is exec'd from a string
    while tb is not None and tb.tb_frame.f_code.co_filename == runner_file:
        tb = tb.tb_next  # hide runner frames
    try:
        traceback.print_exception(type(e), e, tb, file=sys.stderr)
    except BaseException:
        _print_exception_minimal(e)


def _print_exception_minimal(e: BaseException) -> None:
    """The last line of a traceback without importing anything (e.g. after MemoryError under RLIMIT_AS)."""
    try:
        sys.stderr.flush()
    except BaseException:
        pass
    try:
        os.write(2, f"{type(e).__name__}: {e}\n".encode("utf-8", "replace"))
    except BaseException:
        try:
            os.write(2, type(e).__name__.encode() + b"\n")
        except BaseException:
            pass


def _parse_call_args(text: str, fn, style: str) -> list:
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if style == "lcb" or (style == "auto" and len(lines) != 1):
        return [json_loads(ln) for ln in lines]
    value = json_loads(text)
    if style == "apps":
        if not isinstance(value, list):
            raise TypeError("call_style 'apps' needs a JSON list of arguments")
        return value
    # auto, one line: spread a list whose length equals the positional arity (>= 2)
    import inspect

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
        return {k if isinstance(k, str) else json_dumps(_to_jsonable(k)): _to_jsonable(v)
                for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"return value of type {type(value).__name__} is not JSON-serialisable")


def _frame_depth() -> int:
    depth, frame = 0, sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


def _new_main(job: dict) -> dict:
    """A fresh __main__ as for `python solution.py`: __file__ is a real file holding the source."""
    main = type(sys)("__main__")
    path = os.path.join(job["workdir"], _SOLUTION_NAME)
    try:
        with open(path, "w", encoding="utf-8", errors="surrogatepass") as f:
            f.write(job["program"])
    except OSError:
        pass  # a full disk is the candidate's to see; __file__ then names a missing file
    import builtins

    main.__dict__.update({"__file__": path, "__builtins__": builtins, "__cached__": None})
    sys.modules["__main__"] = main
    sys.argv = [_SOLUTION_NAME]
    return main.__dict__


def _run_call(job: dict, code, namespace: dict, payload: str) -> None:
    exec(code, namespace)
    fn_name = job["fn_name"]
    fn = namespace.get(fn_name)
    if not callable(fn):
        sol = namespace.get("Solution")
        if sol is None:
            raise NameError(f"neither a function {fn_name!r} nor a class Solution is defined")
        fn = getattr(sol(), fn_name)
    args = _parse_call_args(payload, fn, job.get("call_style", "auto"))
    data = json_dumps(_to_jsonable(fn(*args))).encode()
    sys.stdout.flush()
    _write_all(_RESULT_FD, data)
    os.close(_RESULT_FD)


def _run_functional(job: dict, code, namespace: dict, payload: str, sentinel: bytes) -> None:
    bind_helpers(namespace, job.get("helpers") or {})
    exec(code, namespace)
    namespace["__g2rl_record__"] = make_recorder(_RESULT_FD)
    namespace["__g2rl_guard__"] = guard
    exec(compile(payload, "<test>", "exec", dont_inherit=True), namespace)
    _write_all(_RESULT_FD, b"done " + sentinel + b"\n")


def _child(job: dict, code, compile_exc, payload: str, sentinel: bytes | None) -> None:
    """Runs one test in the forked child. Never returns."""
    exit_code = 1
    namespace: dict = {}
    try:
        namespace = _new_main(job)
        # Frames of the runner sit below the program's module frame: lift the limit by their number.
        sys.setrecursionlimit(_DEFAULT_RECURSION_LIMIT + _frame_depth() + 2)
        try:
            if compile_exc is not None:
                raise compile_exc
            if job["kind"] == "functional":
                _run_functional(job, code, namespace, payload, sentinel)
            elif job["kind"] == "call":
                _run_call(job, code, namespace, payload)
            else:
                exec(code, namespace)
            exit_code = 0
        except SystemExit as e:
            exit_code = _system_exit_code(e)
        except BaseException as e:  # the candidate's exception: traceback on stderr, status 1
            _print_exception(e, job)
            exit_code = 1
        _exit_like_python(exit_code, namespace)
    finally:
        os._exit(exit_code if exit_code else 70)  # only reached if exiting itself failed


def _prepare_child(job: dict, fds: dict, output_bytes: int) -> None:
    """Child-side plumbing right after fork: uid, fds, session, signals, limits, cwd, std streams."""
    os.setsid()
    if job.get("uid") is not None:  # serve-many: the supervisor keeps root as real/saved uid; we do not
        os.setresgid(job["uid"], job["uid"], job["uid"])
        os.setresuid(job["uid"], job["uid"], job["uid"])
    os.dup2(fds["stdin_r"], 0)
    os.dup2(fds["stdout_w"], 1)
    os.dup2(fds["stderr_w"], 2)
    keep = {0, 1, 2, fds["setup_w"]}
    if fds.get("result_w") is not None:
        os.dup2(fds["result_w"], _RESULT_FD)
        keep.add(_RESULT_FD)
    for fd in _open_fds():
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGCHLD, signal.SIGALRM,
                signal.SIGXCPU):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as CPython at start-up
    _set_limits(job["limits"], output_bytes)
    if _CHILD_IDS is not None:  # --child-uid: tests cannot prlimit, renice or ptrace the runner
        _drop_privileges(*_CHILD_IDS)
    _raise_oom_score()
    _set_dumpable(1)  # the runner is undumpable; the test may read its own /proc/self/* like any process
    os.chdir(job["workdir"])
    _fresh_std_streams()
    if "random" in sys.modules:  # forked children share the runner's PRNG state: reseed like a new process
        sys.modules["random"].seed()


def _open_fds() -> list[int]:
    try:
        return [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1 << 10))


# ----------------------------------------------------------------------------------------------------
# cleanup between tests: nothing the candidate leaves may reach the next test


def _wipe(path: str, deadline: float) -> str:
    """Empties `path` without recursion (any nesting depth), entering mode-000 directories after chmod
    (the candidate's uid owns them, and so do we). Returns "ok", "timeout" or "failed"."""
    stack = [(path, False)]
    status = "ok"
    while stack:
        if time.monotonic() > deadline:
            return "timeout"
        current, emptied = stack.pop()
        if emptied:
            try:
                os.rmdir(current)
            except FileNotFoundError:
                pass
            except OSError:
                status = "failed"
            continue
        if current != path:  # the scratch dir itself stays, with its mode (root-owned 1777 /tmp under docker)
            stack.append((current, True))
            try:
                os.chmod(current, 0o700, follow_symlinks=False)
            except OSError:
                pass
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except FileNotFoundError:
            continue
        except OSError:
            status = "failed"
            continue
        for i, entry in enumerate(entries):
            if i % 256 == 0 and time.monotonic() > deadline:
                return "timeout"
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((entry.path, False))
                else:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass
            except OSError:
                status = "failed"
    return status


_IPC_TABLES = (("shm", 0), ("sem", 1), ("msg", 2))  # /proc/sysvipc tables, kind for _ipc_rmid


def _remove_sysv_ipc() -> str:
    """Removes every SysV shared memory segment, semaphore set and message queue of our (private) IPC
    namespace. Returns "ok" when all of them are gone."""
    status = "ok"
    for table, kind in _IPC_TABLES:
        try:
            with open(f"/proc/sysvipc/{table}", "rb") as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            try:
                ident = int(line.split()[1])
            except (IndexError, ValueError):
                continue
            if not _ipc_rmid(kind, ident):
                status = "failed"
    return status


def _ipc_rmid(kind: int, ident: int) -> bool:
    libc = _libc()
    ipc_rmid = 0
    if kind == 0:
        rc = libc.shmctl(ident, ipc_rmid, None)
    elif kind == 1:
        rc = libc.semctl(ident, 0, ipc_rmid)
    else:
        rc = libc.msgctl(ident, ipc_rmid, None)
    return rc == 0


def _cleanup(job: dict) -> str:
    deadline = time.monotonic() + float(job.get("cleanup_s", 2.0))
    status = _wipe(job["workdir"], deadline)
    for extra in job.get("scratch_dirs") or []:
        if status != "ok":
            break
        status = _wipe(extra, deadline)
    if status == "ok" and job.get("private_ipc"):
        status = _remove_sysv_ipc()
    return status


# ----------------------------------------------------------------------------------------------------
# one test: spawn, supervise, drain, record


class _TestIO:
    """The pipes between the runner and one test process."""

    def __init__(self, kind: str):
        self.stdin_r, self.stdin_w = os.pipe()
        self.out_r, self.out_w = os.pipe()
        self.err_r, self.err_w = os.pipe()
        self.setup_r, self.setup_w = os.pipe()  # out-of-band: only the runner's child code writes here
        self.res_r = self.res_w = None
        if kind != "stdio":
            self.res_r, self.res_w = os.pipe()

    def child_fds(self) -> dict:
        return {"stdin_r": self.stdin_r, "stdout_w": self.out_w, "stderr_w": self.err_w,
                "result_w": self.res_w, "setup_w": self.setup_w}

    def close_child_ends(self) -> None:
        for fd in (self.stdin_r, self.out_w, self.err_w, self.res_w, self.setup_w):
            if fd is not None:
                os.close(fd)

    def readers(self):
        yield "stdout", self.out_r
        yield "stderr", self.err_r
        yield "setup", self.setup_r
        if self.res_r is not None:
            yield "result", self.res_r


def _spawn(job: dict, io_: _TestIO, code, compile_exc, payload: str, sentinel, output_bytes: int) -> int:
    # The runner's objects go to the permanent generation: the child's exit-time gc.collect() (run for
    # finalizers, as CPython does) then scans only the program's objects, not the warm modules'.
    gc.freeze()
    pid = os.fork()
    if pid != 0:
        return pid
    fds = io_.child_fds()
    try:
        _prepare_child(job, fds, output_bytes)
    except BaseException as e:  # our fault, not the candidate's: reported on the private setup pipe
        try:
            os.write(fds["setup_w"], f"{type(e).__name__}: {e}".encode()[:4000])
        finally:
            os._exit(_SETUP_EXIT)
    try:
        os.close(fds["setup_w"])  # from here on the process is the candidate's
        _child(job, code, compile_exc, payload, sentinel)
    finally:
        os._exit(71)


class _Supervisor:
    """Feeds stdin from the control pipe, drains outputs under caps, enforces CPU/wall/memory limits."""

    def __init__(self, job: dict, io_: _TestIO, pid: int, ctl_in: int, data_len: int, cap: int):
        self.job, self.io, self.pid, self.ctl_in = job, io_, pid, ctl_in
        self.limits = job["limits"]
        self.captures = {"stdout": _Capture(cap), "stderr": _Capture(cap), "result": _Capture(cap),
                         "setup": _Capture(4096)}
        self.poll = select.poll()
        self.watch: dict[int, str] = {}  # fd -> what it is
        for name, fd in io_.readers():
            os.set_blocking(fd, False)
            self._watch(fd, name, select.POLLIN)
        try:
            self.pidfd = os.pidfd_open(pid)
            self._watch(self.pidfd, "exit", select.POLLIN)
        except (AttributeError, OSError):
            self.pidfd = None
        self.remaining = data_len  # input bytes still to come from the control pipe
        self.pending = b""
        self.stdin_open = True
        if data_len == 0:
            self._close_stdin()
        else:
            os.set_blocking(io_.stdin_w, False)
            self._watch(ctl_in, "ctl", select.POLLIN)
        # The executor closing our control pipe means it gave up on us (POLLHUP shows even while unread
        # test frames are pending): stop at once.
        self.hup = select.poll()
        self.hup.register(ctl_in, 0)
        self.killed_by = None
        self.status = self.rusage = None

    def _watch(self, fd: int, what: str, events: int) -> None:
        self.watch[fd] = what
        self.poll.register(fd, events)

    def _unwatch(self, fd: int) -> None:
        if self.watch.pop(fd, None) is not None:
            self.poll.unregister(fd)

    def _close_stdin(self) -> None:
        if self.stdin_open:
            self._unwatch(self.io.stdin_w)
            os.close(self.io.stdin_w)
            self.stdin_open = False

    def _kill(self, reason: str) -> None:
        if self.killed_by is None:
            self.killed_by = reason
        _kill_tree(self.pid)

    def _on_ctl(self) -> None:
        chunk = os.read(self.ctl_in, min(self.remaining, _CHUNK))
        if not chunk:
            raise EOFError("control pipe closed inside a test input")
        self.remaining -= len(chunk)
        if self.stdin_open:
            self.pending = chunk
            self._unwatch(self.ctl_in)
            self._watch(self.io.stdin_w, "stdin", select.POLLOUT)
        elif self.remaining == 0:
            self._unwatch(self.ctl_in)

    def _on_stdin(self) -> None:
        try:
            n = os.write(self.io.stdin_w, self.pending)
            self.pending = self.pending[n:]
        except BlockingIOError:
            return
        except OSError:  # the child stopped reading: the rest of the input is dropped
            self.pending = b""
            self._close_stdin()
            if self.remaining:
                self._watch(self.ctl_in, "ctl", select.POLLIN)
            return
        if not self.pending:
            self._unwatch(self.io.stdin_w)
            if self.remaining:
                self._watch(self.ctl_in, "ctl", select.POLLIN)
            else:
                self._close_stdin()

    def _on_output(self, fd: int, what: str) -> None:
        try:
            data = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        if not data:
            self._unwatch(fd)
            return
        if self.captures[what].add(data) and what != "setup":
            self._kill("output")

    def _reap_exited(self) -> None:
        # As init we also reap orphans as they die (zombies would count against RLIMIT_NPROC).
        while True:
            got, st, ru = os.wait4(-1 if _am_init() else self.pid, os.WNOHANG)
            if got == 0:
                return
            if got == self.pid:
                self.status, self.rusage = st, ru
                return

    def _check_limits(self, cpu0: float) -> None:
        if not _am_init():
            return
        # RLIMIT_CPU and RLIMIT_AS are per process: the whole tree is capped here.
        live_cpu, live_rss, live_pids = _live_tree_usage()
        mem = self.limits["memory_bytes"]
        if _children_cpu() - cpu0 + live_cpu > self.limits["cpu_s"]:
            self._kill("cpu")
        elif live_rss > mem and _tree_pss(live_pids) > mem:
            self._kill("memory")

    def run(self, t0: float, cpu0: float) -> None:
        wall_deadline = t0 + self.limits["wall_s"]
        next_poll = t0 + _CPU_POLL_S
        while self.status is None:
            timeout = max(0.0, min(wall_deadline, next_poll) - time.monotonic())
            if self.pidfd is None:
                timeout = min(timeout, 0.005)
            for fd, _ in self.poll.poll(timeout * 1000):
                what = self.watch.get(fd)
                if what == "ctl":
                    self._on_ctl()
                elif what == "stdin":
                    self._on_stdin()
                elif what is not None and what != "exit":
                    self._on_output(fd, what)
            self._reap_exited()
            if self.status is not None:
                break
            if self.hup.poll(0):
                _kill_tree(self.pid)
                _reap_all(self.pid)
                raise EOFError("control pipe closed by the executor during a test")
            now = time.monotonic()
            if now >= wall_deadline:
                self._kill("wall")
            if now >= next_poll:
                next_poll = now + _CPU_POLL_S
                self._check_limits(cpu0)

    def finish(self) -> None:
        """After the direct child exited: kill the rest of the test, drain the pipes, resync the control
        stream, close everything."""
        _kill_tree(self.pid)
        _reap_all(self.pid)
        self._close_stdin()
        drain_deadline = time.monotonic() + _DRAIN_AFTER_EXIT_S
        for fd, what in list(self.watch.items()):
            if what not in self.captures:
                continue
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
                self.captures[what].add(data)
        for _, fd in self.io.readers():
            os.close(fd)
        if self.pidfd is not None:
            os.close(self.pidfd)
        while self.remaining:  # drop unread input so the control stream stays in sync
            chunk = os.read(self.ctl_in, min(self.remaining, 1 << 20))
            if not chunk:
                raise EOFError("control pipe closed inside a test input")
            self.remaining -= len(chunk)


def _record(job: dict, index: int, sup: _Supervisor, compile_exc, sentinel, cpu: float, wall: float,
            cleanup: str) -> tuple[dict, list]:
    caps, status, kind = sup.captures, sup.status, job["kind"]
    cap_hit = any(caps[name].over for name in ("stdout", "stderr", "result"))
    killed_by = sup.killed_by or ("output" if cap_hit else None)
    result_bytes = bytes(caps["result"].head)
    completed = (kind == "functional" and not cap_hit and sentinel is not None
                 and result_bytes.endswith(b"done " + sentinel + b"\n"))
    record = {
        "op": "result", "index": index,
        "status": "signaled" if os.WIFSIGNALED(status) else "exited",
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "cpu_s": round(cpu, 6), "wall_s": round(wall, 6), "maxrss_kb": int(sup.rusage.ru_maxrss),
        "killed_by": killed_by, "compile_error": compile_exc is not None,
        # Only the runner's own pre-exec code writes the setup pipe, and it is closed before the
        # candidate runs: stderr text or an exit status cannot forge this.
        "setup_error": caps["setup"].total > 0,
        "cleanup": cleanup, "skipped": None, "completed": completed,
        "result_ok": kind == "call" and not cap_hit and len(result_bytes) > 0,
        "stdout_bytes": caps["stdout"].total, "stderr_bytes": caps["stderr"].total,
        "result_bytes": caps["result"].total, "cap_hit": cap_hit,
    }
    stderr_head = bytes(caps["setup"].head) if record["setup_error"] else bytes(caps["stderr"].head)
    blobs = [
        ("stdout_head", bytes(caps["stdout"].head)), ("stdout_tail", bytes(caps["stdout"].tail)),
        ("stderr_head", stderr_head), ("stderr_tail", bytes(caps["stderr"].tail)),
        ("result", result_bytes if kind != "stdio" else b""),
    ]
    return record, blobs


def _skipped_record(index: int) -> tuple[dict, list]:
    return {"op": "result", "index": index, "status": "skipped", "exit_code": None, "signal": None,
            "cpu_s": 0.0, "wall_s": 0.0, "maxrss_kb": 0, "killed_by": None, "compile_error": False,
            "setup_error": False, "cleanup": "skipped", "skipped": "dirty", "completed": False,
            "result_ok": False, "stdout_bytes": 0, "stderr_bytes": 0, "result_bytes": 0,
            "cap_hit": False}, []


def _run_one(job: dict, code, compile_exc, ctl_in: int, index: int, frame: dict,
             defer_cleanup: bool = False) -> tuple[dict, list]:
    data_len = int(frame["data_len"])
    cap = int(frame.get("output_bytes") or job["limits"]["output_bytes"])
    payload = ""
    if job["kind"] != "stdio":  # call/functional: small test text, parsed in the child
        payload = _read_exact(ctl_in, data_len).decode("utf-8", "replace")
        data_len = 0
    sentinel = os.urandom(16).hex().encode() if job["kind"] == "functional" else None
    io_ = _TestIO(job["kind"])
    cpu0 = _children_cpu()
    t0 = time.monotonic()
    pid = _spawn(job, io_, code, compile_exc, payload, sentinel, cap)
    io_.close_child_ends()
    sup = _Supervisor(job, io_, pid, ctl_in, data_len, cap)
    sup.run(t0, cpu0)
    wall = time.monotonic() - t0
    sup.finish()
    cpu = _children_cpu() - cpu0
    cleanup = "reset" if defer_cleanup else _cleanup(job)
    return _record(job, index, sup, compile_exc, sentinel, cpu, wall, cleanup)


# ----------------------------------------------------------------------------------------------------
# privileges and start-up


# --child-uid/--child-gid (docker backend): test processes switch to this user after their rlimits, so
# they never share the runner's uid.
_CHILD_ARGS: dict[str, int] = {}
_CHILD_IDS: tuple[int, int] | None = None


def _raise_oom_score() -> None:
    """Test processes go first when a memory cgroup runs out (raising needs no privilege): the OOM killer
    must never pick the runner, since memfd and tmpfs pages are in nobody's resident set."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


_libc_handle = None


def _libc():
    global _libc_handle
    if _libc_handle is None:
        import ctypes

        _libc_handle = ctypes.CDLL(None, use_errno=True)
    return _libc_handle


def _prctl(option: int, value: int, what: str) -> None:
    try:
        import ctypes

        if _libc().prctl(option, value, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), f"prctl({what}, {value}) failed")
    except (ImportError, AttributeError):
        raise OSError(f"cannot call prctl({what}) (ctypes unavailable)") from None


def _set_dumpable(value: int) -> None:
    """prctl(PR_SET_DUMPABLE). The runner sets 0: same-uid test processes can then neither ptrace it
    nor open /proc/1/fd/* (which would let them write fake records into its output pipe)."""
    _prctl(4, value, "PR_SET_DUMPABLE")


def _install_site_builtins() -> None:
    """exit() and quit(), which `-S` leaves out but every `python solution.py` has."""
    import builtins

    try:
        import _sitebuiltins

        builtins.exit = _sitebuiltins.Quitter("exit", "Ctrl-D (i.e. EOF)")
        builtins.quit = _sitebuiltins.Quitter("quit", "Ctrl-D (i.e. EOF)")
    except ImportError:
        pass


def _prepare_program(start: dict, program: str):
    """Warm imports and one compile. Returns (code, compile_exc)."""
    for path in start.get("sys_path") or []:
        sys.path.append(path)
    for name in start.get("warm_modules") or ():
        try:
            __import__(name)
        except Exception:  # noqa: BLE001 - an import failing here fails again, visibly, in the test
            pass
    if start["kind"] == "functional":
        _helper_namespace()
    path = os.path.join(start["workdir"], _SOLUTION_NAME)
    try:
        return compile(program, path, "exec", dont_inherit=True), None
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        return None, e


def _read_start(ctl_in: int) -> dict:
    start = _read_header(ctl_in)
    if start.get("op") != "start" or start.get("version") != PROTOCOL_VERSION:
        raise ValueError(f"expected a version {PROTOCOL_VERSION} start frame, got {start!r}")
    return start


def _serve_program(ctl_in: int, send, start: dict) -> None:
    """One program: ready, one result per test (until the parent's "end"), done."""
    program = _read_exact(ctl_in, int(start["data_len"])).decode("utf-8", "replace")
    job = dict(start, program=program)
    code, compile_exc = _prepare_program(start, program)
    send({"op": "ready", "version": PROTOCOL_VERSION, "pid": os.getpid(),
          "python": sys.version.split()[0], "compile_error": compile_exc is not None})
    dirty = False
    for k in range(int(start["n_tests"])):
        frame = _read_header(ctl_in)
        if frame.get("op") == "end":  # the parent runs the remaining tests elsewhere
            break
        if frame.get("op") != "test" or frame.get("index") != k:
            raise ValueError(f"expected test frame {k}, got {frame!r}")
        if dirty:
            _read_exact(ctl_in, int(frame["data_len"]))
            send(*_skipped_record(k))
            continue
        # The last test of a reused sandbox's program is cleaned by the reset that follows (_reset).
        defer = _SUPERVISES_ALL and k == int(start["n_tests"]) - 1
        record, blobs = _run_one(job, code, compile_exc, ctl_in, k, frame, defer_cleanup=defer)
        dirty = record["cleanup"] not in ("ok", "reset")
        send(record, blobs)
    send({"op": "done", "dirty": dirty})


def _serve(ctl_in: int, send) -> int:
    _set_dumpable(0)
    _install_site_builtins()
    _serve_program(ctl_in, send, _read_start(ctl_in))
    return 0


# ----------------------------------------------------------------------------------------------------
# serve-many mode: one sandbox, many programs, a complete reset between them


def _serve_many(ctl_in: int, send) -> int:
    """As PID 1 with CAP_SETUID/CAP_SETGID only: for each start frame (which names a fresh `uid` leased
    by the parent for this program alone) fork a supervisor whose effective uid is that uid (real and
    saved uid stay root, so the program cannot signal it), which becomes the subreaper of everything the
    program starts and serves the program exactly as `_serve` would (its test processes run as `uid`).
    Then the supervisor resets (`_reset`: kills every process of the program, empties the scratch dirs,
    removes every SysV IPC object, checks that nothing is left) and exits 0 only if all of that held; we
    reap it and anything left, and send ``{"op": "reset", "clean": bool}``.
    An unclean reset ends the sandbox (the parent starts a new one). Nothing of a program survives into
    the next: new uid, empty /tmp and /dev/shm, no IPC objects, no processes."""
    _set_dumpable(0)
    _install_site_builtins()
    for name in SERVE_MANY_WARM_MODULES:  # paid once per sandbox; every program's fork shares them
        try:
            __import__(name)
        except ImportError:
            pass
    _helper_namespace()  # the functional-test helpers, likewise compiled once
    # Everything so far to the permanent generation: a collection in a program's supervisor or test then
    # never walks (and so never copies, page by page) the shared heap.
    gc.freeze()
    while True:
        try:
            start = _read_start(ctl_in)
        except EOFError:
            return 0  # the parent closed the sandbox
        uid = int(start["uid"])
        if uid <= 0:
            raise ValueError("serve-many start frame needs a non-root uid")
        pid = os.fork()
        if pid == 0:
            _program_supervisor(ctl_in, send, start, uid)  # never returns
        status = _wait_for(pid)
        clean = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and _no_orphans_left()
        send({"op": "reset", "clean": clean})
        if not clean:
            return 0


def _program_supervisor(ctl_in: int, send, start: dict, uid: int) -> None:
    global _SUPERVISES_ALL
    code = 2
    try:
        # Real and saved uid stay root, the effective uid is the program's: we can signal, wipe and
        # inspect its processes and files, while it can neither signal nor trace us (kill() needs the
        # sender's uid to match the target's real or saved uid). Test processes switch fully to `uid`.
        os.setgroups([])
        os.setresgid(0, uid, 0)
        os.setresuid(0, uid, 0)
        _prctl(36, 1, "PR_SET_CHILD_SUBREAPER")
        _set_dumpable(0)
        _SUPERVISES_ALL = True
        _serve_program(ctl_in, send, start)
        code = 0 if _reset(start) else 3
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which fails the sandbox (SE)
        try:
            send({"op": "error", "message": f"{type(e).__name__}: {e}"})
        except BaseException:
            pass
    finally:
        os._exit(code)


def _wait_for(pid: int) -> int:
    """Waits for `pid` (its wait status), reaping any orphan that reaches us meanwhile."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return -1
        except InterruptedError:
            continue
        if got == pid:
            return status


def _reset(start: dict) -> bool:
    """The supervisor's last act: kill and reap every process of the program (as the subreaper with the
    program's effective uid, kill(-1) reaches exactly them), empty the scratch dirs, remove every SysV
    IPC object, and check that nothing is left."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            break  # no process of the program, not even a zombie
        try:
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        except ChildProcessError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return _cleanup(start) == "ok" and _nothing_left(start)


def _no_orphans_left() -> bool:
    """After the supervisor: reaps anything that reached us (nothing should) within a second."""
    deadline = time.monotonic() + 1.0
    while True:
        try:
            got, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if got == 0:
            if time.monotonic() > deadline:
                return False  # something survived the kill: retire the sandbox
            time.sleep(0.002)


def _nothing_left(start: dict) -> bool:
    for d in [start["workdir"], *(start.get("scratch_dirs") or [])]:
        try:
            if os.listdir(d):
                return False
        except OSError:
            return False
    if start.get("private_ipc"):
        for table, _ in _IPC_TABLES:
            try:
                with open(f"/proc/sysvipc/{table}", "rb") as f:
                    if len(f.read().splitlines()) > 1:
                        return False
            except OSError:
                pass
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    uid = gid = None
    many = False
    while argv:
        flag = argv.pop(0)
        if flag == "--uid":
            uid = int(argv.pop(0))
        elif flag == "--gid":
            gid = int(argv.pop(0))
        elif flag == "--serve-many":
            many = True
        elif flag in ("--child-uid", "--child-gid"):
            _CHILD_ARGS[flag] = int(argv.pop(0))
        else:
            print(f"runner: unknown argument {flag!r}", file=sys.stderr)
            return 2
    if many and (uid is not None or os.getpid() != 1):
        print("runner: --serve-many needs PID 1 of a sandbox and per-program uids, not --uid", file=sys.stderr)
        return 2
    if uid is not None:
        _drop_privileges(uid, gid if gid is not None else uid)
    if "--child-uid" in _CHILD_ARGS:
        global _CHILD_IDS
        _CHILD_IDS = (_CHILD_ARGS["--child-uid"], _CHILD_ARGS.get("--child-gid", _CHILD_ARGS["--child-uid"]))
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
        return _serve_many(ctl_in, send) if many else _serve(ctl_in, send)
    except BaseException as e:  # report and die: the parent turns the missing results into SE
        try:
            send({"op": "error", "message": f"{type(e).__name__}: {e}"})
        except BaseException:
            pass
        print(f"runner: {type(e).__name__}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
