"""Parent side of the runner wire protocol (sandbox/runner.py) and the verdict judge.

`drive_runner` speaks the runner's protocol (version in sandbox/runner.py) over any asyncio (reader, writer) pair connected to a runner's
stdout/stdin, with a deadline on every answer; `judge` turns one raw runner record plus the expected
output into a TestRecord. Backends (local bwrap, unsafe, docker) only differ in how they start the runner.
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
import sys
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import Any

from sandbox import functional
from sandbox import runner as runner_protocol
from sandbox.compare import compare_call_value, compare_output, parse_untrusted_json
from sandbox.types import Limits, TestRecord, TestSpec, Verdict

_HEADER = struct.Struct(">I")
RECORD_TEXT_BYTES = 4096  # stdout head/tail and stderr tail kept in a TestRecord (full stdout is compared)
STARTUP_TIMEOUT_S = 30.0  # bwrap + interpreter + warm imports, generous for loaded hosts
ANSWER_SLACK_S = 2.0  # a result is due within the wall cap + cleanup budget + this slack (docs/sandbox.md)
INPUT_BYTES_PER_S = 20e6  # budget for streaming large inputs into the sandbox
STACK_BYTES = 64 << 20  # fixed, never tied to the memory limit (SandboxFusion#45/#70)
CLEANUP_MIN_S = 2.0
_ONE_WRITE_BYTES = 1 << 20  # test frames up to this size go to the runner in one write


@dataclass
class RawResult:
    header: dict[str, Any]
    blobs: dict[str, bytes]


@dataclass
class RunnerOutcome:
    results: list[RawResult | None]
    error: str | None = None  # infrastructure problem: tests without a result become SE
    runner_stderr: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    prepared: Prepared | None = None
    # Parent-side evidence that the sandbox's memory cgroup killed something (see docs/sandbox.md):
    # tests killed by SIGKILL without another reason, or lost with the runner, are MLE, not RE/SE.
    oom_killed: bool = False
    # Set when `stop` ended the program early: the index of the first test not run (sandbox/fanout.py)
    ended_at: int | None = None


def runner_limits(limits: Limits, *, nproc: int | None) -> dict[str, Any]:
    return {
        "cpu_s": float(limits.cpu_s),
        "wall_s": float(limits.wall_cap_s),
        "memory_bytes": int(limits.memory_mb) << 20,
        "nproc": nproc,
        "nofile": int(limits.nofile),
        "fsize_bytes": int(limits.fsize_mb) << 20,
        "stack_bytes": STACK_BYTES,
        "output_bytes": int(limits.output_bytes),
    }


def output_cap(limits: Limits, expected: str | None) -> int:
    """Per-test output cap: the configured cap, raised for a large expected output (a correct answer of
    that size must fit: twice its size plus 64 KiB)."""
    if expected is None:
        return int(limits.output_bytes)
    return max(int(limits.output_bytes), 2 * len(expected.encode("utf-8", "surrogatepass")) + (64 << 10))


_NO_WARM = {"antigravity", "this", "idlelib", "tkinter", "turtle", "turtledemo", "pydoc", "webbrowser"}


def warm_modules(program: str) -> list[str]:
    """Top-level modules the program imports that the runner may import once before forking the tests
    (stdlib and numpy only: read-only code, never the candidate's)."""
    import ast

    try:
        tree = ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    return sorted(n for n in names if n in allowed and not n.startswith("_") and n not in _NO_WARM)


@dataclass
class Prepared:
    """What one program sends into the sandbox, and the parent-side plans of its functional tests."""

    payloads: list[bytes]
    output_caps: list[int]
    helpers: dict[str, str]
    plans: list[functional.Plan] | None


def prepare(program: str, spec: TestSpec, limits: Limits) -> Prepared:
    if spec.kind == "functional":
        plans = [functional.plan_snippet(s) for s in spec.snippets or []]
        helpers = functional.helpers_for(program, [p.snippet for p in plans])
        payloads = [p.snippet.encode("utf-8", "surrogatepass") for p in plans]
        return Prepared(payloads, [output_cap(limits, None)] * len(plans), helpers, plans)
    payloads = [p.encode("utf-8", "surrogatepass") for p in spec.payloads()]
    caps = [output_cap(limits, out) for out in (spec.outputs or [None] * len(payloads))]
    return Prepared(payloads, caps, {}, None)


def start_frame(program: str, spec: TestSpec, limits: Limits, *, workdir: str, sys_path: list[str],
                nproc: int | None, scratch_dirs: list[str] = (), private_ipc: bool = False,
                helpers: dict[str, str] | None = None, uid: int | None = None) -> bytes:
    data = program.encode("utf-8", "surrogatepass")
    header = {
        "op": "start", "version": runner_protocol.PROTOCOL_VERSION, "kind": spec.kind,
        "fn_name": spec.fn_name, "call_style": spec.call_style, "n_tests": spec.n_tests,
        "workdir": workdir, "sys_path": list(sys_path), "scratch_dirs": list(scratch_dirs),
        "private_ipc": bool(private_ipc), "cleanup_s": cleanup_budget(limits), "helpers": helpers or {},
        "warm_modules": warm_modules(program) + (["inspect"] if spec.kind == "call" else []),
        "limits": runner_limits(limits, nproc=nproc), "data_len": len(data),
    }
    if uid is not None:  # serve-many mode: the fresh uid of this program
        header["uid"] = int(uid)
    return runner_protocol.encode_header(header) + data


def cleanup_budget(limits: Limits) -> float:
    """Seconds the runner may spend emptying the scratch dirs after a test (files cost the candidate CPU
    to create, so this scales with the CPU limit)."""
    return max(CLEANUP_MIN_S, float(limits.cpu_s))


async def read_frame(reader: asyncio.StreamReader) -> RawResult:
    (n,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if n > (1 << 20):
        raise ValueError(f"runner sent a {n}-byte header")
    header = json.loads(await reader.readexactly(n))
    if not isinstance(header, dict):
        raise ValueError("runner sent a header that is not a JSON object")
    blobs = {}
    for name, length in header.get("blobs", []):
        blobs[name] = await reader.readexactly(int(length))
    return RawResult(header, blobs)


async def drive_runner(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, program: str, spec: TestSpec,
    limits: Limits, *, workdir: str, sys_path: list[str] = (), nproc: int | None = None,
    scratch_dirs: list[str] = (), private_ipc: bool = False, uid: int | None = None,
    stop: Callable[[RawResult], bool] | None = None,
) -> RunnerOutcome:
    """Sends the program, then each test's payload once the previous result is in; collects one raw
    record per test. `stop(record)` true for test k < N - 1 ends the program there (an ``end`` frame):
    the outcome's `ended_at` is k + 1 and the later results stay None, for the caller to run elsewhere.

    Never raises for runner misbehaviour: a dead, silent or confused runner ends the session with
    `error` set and the missing results left as None (the caller kills the sandbox). The outcome's
    `prepared` carries the parent-side plans that `judge_outcome` needs for functional tests."""
    prepared = prepare(program, spec, limits)
    n = len(prepared.payloads)
    results: list[RawResult | None] = [None] * n
    ended_at = None

    async def send_test(k: int, before: bytes = b"") -> None:
        data = prepared.payloads[k]
        head = before + runner_protocol.encode_header(
            {"op": "test", "index": k, "data_len": len(data), "output_bytes": prepared.output_caps[k]})
        if len(data) <= _ONE_WRITE_BYTES:  # one pipe write (each one wakes the runner)
            writer.write(head + data)
        else:
            writer.write(head)
            for i in range(0, len(data), _ONE_WRITE_BYTES):  # stream large inputs under back-pressure
                writer.write(data[i:i + _ONE_WRITE_BYTES])
                await writer.drain()
        await writer.drain()

    async def send_start() -> None:
        await send_test(0, start_frame(program, spec, limits, workdir=workdir, sys_path=list(sys_path),
                                       nproc=nproc, scratch_dirs=list(scratch_dirs), private_ipc=private_ipc,
                                       helpers=prepared.helpers, uid=uid))

    sender = asyncio.ensure_future(send_start())
    error = None
    try:
        try:
            ready = await asyncio.wait_for(read_frame(reader), STARTUP_TIMEOUT_S + len(program) / 1e7)
        except asyncio.TimeoutError:
            return RunnerOutcome(results, error=f"runner not ready within {STARTUP_TIMEOUT_S:.0f} s",
                                 prepared=prepared)
        if ready.header.get("op") != "ready":
            message = ready.header.get("message", ready.header)
            return RunnerOutcome(results, error=f"runner failed to start: {message}", prepared=prepared)
        for k, data in enumerate(prepared.payloads):
            budget = answer_budget(limits, len(data))
            try:
                frame = await asyncio.wait_for(read_frame(reader), budget)
            except asyncio.TimeoutError:
                error = f"runner gave no result for test {k} within {budget:.1f} s"
                break
            if frame.header.get("op") != "result" or frame.header.get("index") != k:
                error = f"runner protocol error at test {k}: {frame.header.get('message', frame.header)}"
                break
            results[k] = frame
            if k + 1 == n:
                break
            # The runner has read all of test k's payload before answering: the writer is idle again.
            await asyncio.wait_for(sender, ANSWER_SLACK_S)
            if stop is not None and stop(frame):
                writer.write(runner_protocol.encode_header({"op": "end"}))
                sender = asyncio.ensure_future(writer.drain())
                ended_at = k + 1
                break
            sender = asyncio.ensure_future(send_test(k + 1))
    except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError, ValueError, OSError,
            RecursionError) as e:
        error = f"runner connection lost: {type(e).__name__}: {e}"
    finally:
        if not sender.done() and (error is not None or ended_at is None):
            sender.cancel()  # an error or a result for the last test: nothing more to send
        try:
            await asyncio.wait_for(sender, ANSWER_SLACK_S)
        except (asyncio.TimeoutError, asyncio.CancelledError, ConnectionError, OSError):
            pass
    return RunnerOutcome(results, error=error, prepared=prepared, ended_at=ended_at if error is None else None)


def answer_budget(limits: Limits, input_bytes: int) -> float:
    """How long the parent waits for one test's record: the wall cap, the runner's cleanup budget, slack,
    and time to stream the input."""
    return limits.wall_cap_s + cleanup_budget(limits) + ANSWER_SLACK_S + input_bytes / INPUT_BYTES_PER_S


# ----------------------------------------------------------------------------------------------------
# judging


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _is_memory_error(stderr_tail: str) -> bool:
    lines = [ln for ln in stderr_tail.strip().splitlines() if ln.strip()]
    if not lines:
        return False
    exc_type = lines[-1].split(":", 1)[0]
    return exc_type.endswith("MemoryError")


def judge(raw: RawResult, spec: TestSpec, index: int, limits: Limits, compare: str,
          plan: functional.Plan | None = None, oom_killed: bool = False) -> TestRecord:
    """One runner record -> TestRecord. Only the runner's own fields (setup_error) can give SE; all
    candidate-writable bytes (stdout, the result pipe) are parsed under bounds that cannot raise."""
    h, b = raw.header, raw.blobs
    stdout_head, stdout_tail = b.get("stdout_head", b""), b.get("stdout_tail", b"")
    stderr_all = b.get("stderr_head", b"") + b.get("stderr_tail", b"")
    full_stdout = stdout_head if not stdout_tail else None  # None: capped, never compared
    shown_head = stdout_head[:RECORD_TEXT_BYTES]
    shown_tail = (stdout_tail or stdout_head)[-RECORD_TEXT_BYTES:] if (
        stdout_tail or len(stdout_head) > RECORD_TEXT_BYTES) else b""
    sig = h.get("signal")
    record = TestRecord(
        verdict=Verdict.SE, exit_status=h.get("exit_code"), signal=sig,
        cpu_s=float(h.get("cpu_s", 0.0)), wall_s=float(h.get("wall_s", 0.0)),
        peak_mem_mb=round(h["maxrss_kb"] / 1024, 2) if h.get("maxrss_kb") else None,
        stdout_head=_text(shown_head), stdout_tail=_text(shown_tail),
        stderr_tail=_text(stderr_all[-RECORD_TEXT_BYTES:]), stdout_bytes=int(h.get("stdout_bytes", 0)),
        cap_hit=bool(h.get("cap_hit")),
    )

    def verdict(v: Verdict, detail: str) -> TestRecord:
        record.verdict, record.detail = v, detail
        return record

    if h.get("skipped"):
        return verdict(Verdict.RE, "not run: an earlier test left files or IPC objects that the runner "
                                   "could not remove within its cleanup budget")
    if h.get("setup_error"):
        return verdict(Verdict.SE, f"runner could not set up the test: {record.stderr_tail[-300:]}")
    killed_by = h.get("killed_by")
    if record.cap_hit or killed_by == "output":
        return verdict(Verdict.OLE, "output")
    if killed_by == "cpu" or sig == signal.SIGXCPU or record.cpu_s > limits.cpu_s:
        return verdict(Verdict.TLE, "cpu")
    if killed_by == "wall":
        return verdict(Verdict.TLE, "wall")
    if killed_by == "memory":
        return verdict(Verdict.MLE, "tree RSS above the memory limit")
    if h.get("compile_error"):
        return verdict(Verdict.RE, "compile")
    if sig == signal.SIGKILL and oom_killed:
        return verdict(Verdict.MLE, "killed by the sandbox's memory cgroup")
    if sig is not None:
        return verdict(Verdict.RE, f"signal {sig}")
    if record.exit_status != 0:
        if _is_memory_error(record.stderr_tail):
            return verdict(Verdict.MLE, "MemoryError")
        if spec.kind == "functional" and plan is not None:  # a failed assert is a wrong answer
            ok, detail = functional.judge_records(b.get("result", b""), plan, require_all=False)
            if not ok:
                return verdict(Verdict.WA, detail)
        return verdict(Verdict.RE, f"exit {record.exit_status}")
    if spec.kind == "functional":
        return verdict(*_judge_functional(h, b.get("result", b""), plan))
    expected = spec.outputs[index]
    if spec.kind == "call":
        return verdict(*_judge_call(h, b.get("result", b""), expected, compare))
    return verdict(*_judge_stdout(_text(full_stdout), expected, compare))


def _judge_functional(h: dict, result: bytes, plan: functional.Plan | None) -> tuple[Verdict, str]:
    if not h.get("completed"):
        return Verdict.WA, "exited 0 without completing the snippet"
    if plan is None:
        return Verdict.SE, "no parent-side plan for a functional test"  # our bug, never the candidate's
    ok, detail = functional.judge_records(result, plan)
    return (Verdict.AC, "") if ok else (Verdict.WA, detail)


def _judge_call(h: dict, result: bytes, expected: str, compare: str) -> tuple[Verdict, str]:
    if not h.get("result_ok"):
        return Verdict.WA, "exited 0 without a return value"
    parsed, value, reason = parse_untrusted_json(result, max_bytes=max(len(result), 1))  # size: the output cap
    if not parsed:
        return Verdict.WA, f"return value: {reason}"
    try:
        ok = compare_call_value(value, expected, compare)
    except (ValueError, RecursionError, MemoryError, ArithmeticError, TypeError):
        return Verdict.WA, "return value is not comparable"
    return (Verdict.AC, "") if ok else (Verdict.WA, "mismatch")


def _judge_stdout(stdout: str, expected: str, compare: str) -> tuple[Verdict, str]:
    try:
        ok = compare_output(stdout, expected, compare)
    except (ValueError, RecursionError, MemoryError, ArithmeticError, TypeError):
        return Verdict.WA, "output not comparable"  # e.g. sNaN under compare="lcb"
    return (Verdict.AC, "") if ok else (Verdict.WA, "mismatch")


def judge_outcome(outcome: RunnerOutcome, spec: TestSpec, limits: Limits, compare: str) -> list[TestRecord]:
    plans = outcome.prepared.plans if outcome.prepared is not None else None
    records = []
    for k, raw in enumerate(outcome.results):
        if raw is None:
            if outcome.oom_killed:
                records.append(TestRecord(verdict=Verdict.MLE, detail="sandbox memory cgroup killed the run"))
                continue
            detail = outcome.error or "no result"
            if outcome.runner_stderr:
                detail += f" | runner stderr: {outcome.runner_stderr[-500:]}"
            records.append(TestRecord.system_error(detail))
        else:
            records.append(judge(raw, spec, k, limits, compare, plans[k] if plans else None,
                                 outcome.oom_killed))
    return records
