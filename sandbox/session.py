"""Parent side of the runner wire protocol (sandbox/runner.py) and the verdict judge.

`drive_runner` speaks protocol v1 over any asyncio (reader, writer) pair connected to a runner's
stdout/stdin, with a deadline on every answer; `judge` turns one raw runner record plus the expected
output into a TestRecord. Backends (local bwrap, unsafe, docker) only differ in how they start the runner.
"""

from __future__ import annotations

import asyncio
import json
import signal
import struct
from dataclasses import dataclass, field
from typing import Any

from sandbox import runner as runner_protocol
from sandbox.compare import compare_call_value, compare_output
from sandbox.types import Limits, TestRecord, TestSpec, Verdict

_HEADER = struct.Struct(">I")
RECORD_TEXT_BYTES = 4096  # stdout head/tail and stderr tail kept in a TestRecord (full stdout is compared)
STARTUP_TIMEOUT_S = 30.0  # bwrap + interpreter + warm imports, generous for loaded hosts
ANSWER_SLACK_S = 2.0  # sandbox.md §2 invariant 5: result within the wall cap plus this slack
INPUT_BYTES_PER_S = 20e6  # budget for streaming large inputs into the sandbox
STACK_BYTES = 64 << 20  # fixed, never tied to the memory limit (SandboxFusion#45/#70)


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


def start_frame(program: str, spec: TestSpec, limits: Limits, *, workdir: str, sys_path: list[str],
                nproc: int | None) -> bytes:
    data = program.encode("utf-8", "surrogatepass")
    header = {
        "op": "start", "version": runner_protocol.PROTOCOL_VERSION, "kind": spec.kind,
        "fn_name": spec.fn_name, "call_style": spec.call_style, "n_tests": spec.n_tests,
        "workdir": workdir, "sys_path": list(sys_path), "limits": runner_limits(limits, nproc=nproc),
        "data_len": len(data),
    }
    return runner_protocol.encode_header(header) + data


async def _read_frame(reader: asyncio.StreamReader) -> RawResult:
    (n,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if n > (1 << 20):
        raise ValueError(f"runner sent a {n}-byte header")
    header = json.loads(await reader.readexactly(n))
    blobs = {}
    for name, length in header.get("blobs", []):
        blobs[name] = await reader.readexactly(int(length))
    return RawResult(header, blobs)


async def drive_runner(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, program: str, spec: TestSpec,
    limits: Limits, *, workdir: str, sys_path: list[str] = (), nproc: int | None = None,
) -> RunnerOutcome:
    """Sends the program and the test payloads, collects one raw record per test.

    Never raises for runner misbehaviour: a dead, silent or confused runner ends the session with
    `error` set and the missing results left as None (the caller kills the sandbox)."""
    payloads = [p.encode("utf-8", "surrogatepass") for p in spec.payloads()]
    results: list[RawResult | None] = [None] * len(payloads)

    async def send_all() -> None:
        writer.write(start_frame(program, spec, limits, workdir=workdir, sys_path=list(sys_path),
                                 nproc=nproc))
        await writer.drain()
        for k, data in enumerate(payloads):
            writer.write(runner_protocol.encode_header({"op": "test", "index": k, "data_len": len(data)}))
            for i in range(0, len(data), 1 << 20):  # stream large inputs under back-pressure
                writer.write(data[i:i + (1 << 20)])
                await writer.drain()
            await writer.drain()

    sender = asyncio.ensure_future(send_all())
    error = None
    try:
        try:
            ready = await asyncio.wait_for(_read_frame(reader), STARTUP_TIMEOUT_S + len(program) / 1e7)
        except asyncio.TimeoutError:
            return RunnerOutcome(results, error=f"runner not ready within {STARTUP_TIMEOUT_S:.0f} s")
        if ready.header.get("op") != "ready":
            message = ready.header.get("message", ready.header)
            return RunnerOutcome(results, error=f"runner failed to start: {message}")
        for k, data in enumerate(payloads):
            budget = limits.wall_cap_s + ANSWER_SLACK_S + len(data) / INPUT_BYTES_PER_S
            try:
                frame = await asyncio.wait_for(_read_frame(reader), budget)
            except asyncio.TimeoutError:
                error = f"runner gave no result for test {k} within {budget:.1f} s"
                break
            if frame.header.get("op") != "result" or frame.header.get("index") != k:
                error = f"runner protocol error at test {k}: {frame.header.get('message', frame.header)}"
                break
            results[k] = frame
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError) as e:
        error = f"runner connection lost: {type(e).__name__}: {e}"
    finally:
        if not sender.done():
            sender.cancel()
        try:
            await sender
        except (asyncio.CancelledError, ConnectionError, OSError):
            pass
    return RunnerOutcome(results, error=error)


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


def judge(raw: RawResult, spec: TestSpec, index: int, limits: Limits, compare: str) -> TestRecord:
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

    killed_by = h.get("killed_by")
    if h.get("setup_error"):
        return verdict(Verdict.SE, f"runner could not set up the test: {record.stderr_tail[-300:]}")
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
    if sig is not None:
        return verdict(Verdict.RE, f"signal {sig}")
    if record.exit_status != 0:
        if _is_memory_error(record.stderr_tail):
            return verdict(Verdict.MLE, "MemoryError")
        return verdict(Verdict.RE, f"exit {record.exit_status}")
    if spec.kind == "functional":
        if h.get("completed"):
            return verdict(Verdict.AC, "")
        return verdict(Verdict.WA, "exited 0 without completing the snippet")
    expected = spec.outputs[index]
    if spec.kind == "call":
        if not h.get("result_ok"):
            return verdict(Verdict.WA, "exited 0 without a return value")
        try:
            value = json.loads(b.get("result", b""))
        except ValueError:
            return verdict(Verdict.WA, "return value is not JSON")
        ok = compare_call_value(value, expected, compare)
        return verdict(Verdict.AC if ok else Verdict.WA, "" if ok else "mismatch")
    ok = compare_output(_text(full_stdout), expected, compare)
    return verdict(Verdict.AC if ok else Verdict.WA, "" if ok else "mismatch")


def judge_outcome(outcome: RunnerOutcome, spec: TestSpec, limits: Limits, compare: str) -> list[TestRecord]:
    records = []
    for k, raw in enumerate(outcome.results):
        if raw is None:
            detail = outcome.error or "no result"
            if outcome.runner_stderr:
                detail += f" | runner stderr: {outcome.runner_stderr[-500:]}"
            records.append(TestRecord.system_error(detail))
        else:
            records.append(judge(raw, spec, k, limits, compare))
    return records
