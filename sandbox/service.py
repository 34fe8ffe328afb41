"""HTTP service: ``python -m sandbox serve`` (docs/sandbox.md describes the API and the threat model).

Endpoints
- ``POST /run_code``: SandboxFusion-compatible (``RunCodeRequest`` -> ``RunCodeResponse``), so verl's
  ``reward.sandbox_fusion.url`` can point here unchanged. One program, one stdin, no comparison.
- ``POST /evaluate``: native, one program x a test spec -> ``ProgramResult.to_dict()``.
- ``POST /evaluate_batch``: native, ``{"items": [{"program", "tests"}...], "limits", "compare"}`` ->
  ``{"results": [ProgramResult.to_dict(), ...]}`` in input order.
- ``GET /health``: backend name, isolation level, concurrency and queue state.

Behaviour
- Binds 127.0.0.1 unless told otherwise (SandboxFusion moved to that default too).
- At most ``max_concurrency`` programs run at once (one sandbox per program); at most
  ``max_pending`` programs wait; beyond that requests get 503 with ``Retry-After``.
- Bodies over ``max_body_bytes`` get 413 before they are parsed; malformed requests get 400 with a
  JSON body naming the bad field: ``{"error": "invalid_request", "field": "...", "message": "..."}``.
- ``SandboxError`` is returned only for infrastructure causes (an SE verdict from the backend) and,
  as SandboxFusion's own API does, for languages other than python.
- An exception inside the executor becomes SE for that program only (logged): a batch never answers 500
  because of one program, and nothing a candidate writes can raise (candidate bytes are parsed by
  bounded parsers that cannot fail).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field

from fastapi import FastAPI, Request  # module level: endpoint annotations are resolved in these globals
from fastapi.responses import JSONResponse

from sandbox import (
    BadTestSpec,
    Limits,
    ProgramResult,
    TestRecord,
    TestSpec,
    Verdict,
    evaluate_async,
    get_backend,
)
from sandbox.api import BACKEND_NAMES, REMOTE_BACKENDS
from sandbox.backend import Backend
from sandbox.compare import COMPARE_MODES, parse_untrusted_json
from sandbox.session import RunnerOutcome, judge_outcome

SUPPORTED_LANGUAGES = ("python",)
log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    backend: str = "local"
    max_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)
    max_pending: int = 4096  # programs queued behind the running ones before 503
    max_body_bytes: int = 64 << 20
    max_batch_items: int = 4096
    max_run_timeout_s: float = 120.0  # caps a client's run_timeout / limits.cpu_s
    max_memory_mb: int = 4096  # caps a client's memory_limit_MB / limits.memory_mb
    limits: Limits = field(default_factory=Limits)  # defaults for fields a request leaves out

    def validate(self) -> None:
        for name in ("max_concurrency", "max_pending", "max_body_bytes", "max_batch_items", "max_memory_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"ServiceConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        if self.max_run_timeout_s <= 0:
            raise ValueError(f"ServiceConfig.max_run_timeout_s must be > 0, got {self.max_run_timeout_s!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"ServiceConfig.port must be in [0, 65535], got {self.port!r}")
        self.limits.validate()


class RequestError(Exception):
    """A client mistake: becomes a 4xx JSON answer naming the field."""

    def __init__(self, field_name: str | None, message: str, status: int = 400):
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.status = status


class Overloaded(Exception):
    """Too many programs queued; the client should retry later (503)."""


# ----------------------------------------------------------------------------------------------
# request parsing (explicit checks rather than a schema library: no silent type coercion, and the
# error names the exact field)

def _require(body: dict, key: str, types, where: str = ""):
    if key not in body:
        raise RequestError(where + key, f"missing required field {where + key!r}")
    return _typed(body[key], types, where + key)


def _typed(value, types, name: str):
    # bool is an int subclass: never accept true/false where a number is expected
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        raise RequestError(name, f"{name!r} must be {_type_names(types)}, got a boolean")
    if not isinstance(value, types):
        raise RequestError(name, f"{name!r} must be {_type_names(types)}, got {type(value).__name__}")
    return value


def _type_names(types) -> str:
    types = types if isinstance(types, tuple) else (types,)
    names = {str: "a string", int: "an integer", float: "a number", dict: "an object", list: "an array",
             type(None): "null", bool: "a boolean"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _parse_limits(raw, defaults: Limits, config: ServiceConfig, where: str = "limits") -> Limits:
    if raw is None:
        return defaults
    _typed(raw, dict, where)
    known = {f.name for f in dataclasses.fields(Limits)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RequestError(f"{where}.{unknown[0]}", f"unknown limit {unknown[0]!r}; known: {sorted(known)}")
    for key, value in raw.items():
        if value is not None:
            _typed(value, (int, float), f"{where}.{key}")
    limits = dataclasses.replace(defaults, **raw)
    try:
        limits.validate()
    except ValueError as e:
        raise RequestError(where, str(e)) from None
    if limits.cpu_s > config.max_run_timeout_s:
        raise RequestError(f"{where}.cpu_s", f"cpu_s {limits.cpu_s} exceeds this server's maximum "
                                             f"{config.max_run_timeout_s}")
    if limits.memory_mb > config.max_memory_mb:
        raise RequestError(f"{where}.memory_mb", f"memory_mb {limits.memory_mb} exceeds this server's "
                                                 f"maximum {config.max_memory_mb}")
    return limits


def _parse_compare(body: dict) -> str:
    compare = _typed(body.get("compare", "lines"), str, "compare")
    if compare not in COMPARE_MODES:
        raise RequestError("compare", f"compare must be one of {list(COMPARE_MODES)}, got {compare!r}")
    return compare


def _parse_item(raw, where: str) -> tuple[str, TestSpec]:
    _typed(raw, dict, where)
    program = _require(raw, "program", str, where + ".")
    tests = _require(raw, "tests", dict, where + ".")
    try:
        spec = TestSpec.from_dict(tests)
    except BadTestSpec as e:
        raise RequestError(where + ".tests", f"bad test spec: {e}") from None
    return program, spec


def _or(value, default):
    return default if value is None else value


def run_code_limits(body: dict, config: ServiceConfig) -> Limits:
    """SandboxFusion timeouts/memory -> our Limits.

    ``run_timeout`` becomes the CPU limit (TLE is decided on CPU time). The wall cap is
    2 * run_timeout + 1 s rather than our default 3x + 1: verl's client gives up after
    compile_timeout + run_timeout + 10 s, and it passes compile_timeout = run_timeout, so the answer
    must arrive before that or a genuine TLE would be reported as an API error (-1).
    """
    # SandboxFusion clients send null for "use the default"
    run_timeout = _typed(_or(body.get("run_timeout"), 10), (int, float), "run_timeout")
    _typed(_or(body.get("compile_timeout"), 10), (int, float), "compile_timeout")
    if not 0 < run_timeout <= config.max_run_timeout_s:
        raise RequestError("run_timeout", f"run_timeout must be in (0, {config.max_run_timeout_s}], "
                                          f"got {run_timeout}")
    memory = _typed(_or(body.get("memory_limit_MB"), -1), (int, float), "memory_limit_MB")
    if memory == -1:
        memory_mb = config.limits.memory_mb  # SandboxFusion's "unlimited": our server default
    elif 0 < memory <= config.max_memory_mb:
        memory_mb = int(memory)
    else:
        raise RequestError("memory_limit_MB", f"memory_limit_MB must be -1 or in (0, {config.max_memory_mb}], "
                                              f"got {memory}")
    limits = dataclasses.replace(config.limits, cpu_s=float(run_timeout), wall_s=2.0 * run_timeout + 1.0,
                                 memory_mb=memory_mb)
    try:
        limits.validate()
    except ValueError as e:  # e.g. a 10 ms timeout or an 8 MB memory limit: name the request field
        field_name = "memory_limit_MB" if "memory_mb" in str(e) else "run_timeout"
        raise RequestError(field_name, f"{field_name} out of range: {e}") from None
    return limits


# ----------------------------------------------------------------------------------------------
# /run_code response mapping (SandboxFusion's RunCodeResponse; the table is in docs/sandbox.md)

def run_code_response(record: TestRecord, stdout: str, note: str = "") -> dict:
    verdict = Verdict(record.verdict)
    return_code = record.exit_status if record.exit_status is not None else (
        -record.signal if record.signal else None)
    stderr = record.stderr_tail
    if verdict is Verdict.SE:
        status, run_status, message = "SandboxError", "Error", f"sandbox error: {record.detail}"
    elif verdict is Verdict.TLE:
        status, run_status, message = "Failed", "TimeLimitExceeded", f"time limit exceeded ({record.detail})"
    elif verdict is Verdict.OLE:
        status, run_status, message = "Failed", "Finished", "output limit exceeded; output truncated"
        return_code = -9  # we killed it
    elif verdict in (Verdict.AC, Verdict.WA):  # exited 0; /run_code does not compare
        status, run_status, message = "Success", "Finished", ""
        return_code = 0
    else:  # RE, MLE: non-zero exit or a signal
        status, run_status, message = "Failed", "Finished", f"{verdict.value}: {record.detail}"
        if not return_code:
            return_code = 1
    return {
        "status": status,
        "message": "; ".join(m for m in (message, note) if m),
        "compile_result": None,
        "run_result": {"status": run_status, "execution_time": record.wall_s, "return_code": return_code,
                       "stdout": stdout, "stderr": stderr},
        "executor_pod_name": None,  # SandboxFusion names its pod; we do not reveal the host's name
        "files": {},
    }


async def _run_raw(backend, program: str, spec: TestSpec, limits: Limits) -> RunnerOutcome | None:
    """The runner's raw records, whose stdout is complete up to the output cap (TestRecord keeps only
    4 KiB head + tail, too little for /run_code clients that compare stdout themselves). None when the
    backend has no raw records (the `http` backend: a remote server judges)."""
    if type(backend).run_raw is Backend.run_raw:  # not overridden: the base class only raises
        return None
    return await backend.run_raw(program, spec, limits)


async def run_one_stdin(backend, program: str, stdin: str, limits: Limits) -> tuple[TestRecord, str, str]:
    """One program on one stdin: (record, full stdout, note). SE is retried once, like evaluate()."""
    # a stdio test with an empty expected output: the verdict only tells exited-0 (AC/WA) apart
    spec = TestSpec.from_dict({"inputs": [stdin], "outputs": [""]})
    for attempt in range(2):
        outcome = await _run_raw(backend, program, spec, limits)
        if outcome is None:  # backend without raw records: the record's head + tail is all we have
            result = await evaluate_async(program, spec, limits=limits, compare="lines", backend=backend)
            record = result.tests[0]
            shown = len((record.stdout_head + record.stdout_tail).encode())
            note = "" if shown >= record.stdout_bytes else (
                f"stdout truncated to {shown} of {record.stdout_bytes} bytes by this backend")
            return record, record.stdout_head + record.stdout_tail, note
        record = judge_outcome(outcome, spec, limits, "lines")[0]
        if record.verdict is not Verdict.SE or attempt == 1:
            break
    raw = outcome.results[0]
    if raw is None:
        return record, "", ""
    stdout = (raw.blobs.get("stdout_head", b"") + raw.blobs.get("stdout_tail", b"")).decode("utf-8", "replace")
    return record, stdout, ""


def sandbox_error_response(message: str) -> dict:
    return {"status": "SandboxError", "message": message, "compile_result": None, "run_result": None,
            "executor_pod_name": None, "files": {}}


# ----------------------------------------------------------------------------------------------
# the app

class Executor:
    """Bounded, queue-limited evaluation on one backend instance shared by all requests."""

    def __init__(self, config: ServiceConfig, backend):
        self.config = config
        self.backend = backend
        self._slots = asyncio.Semaphore(config.max_concurrency)
        self.pending = 0  # programs admitted (running or waiting for a slot)
        self.running = 0

    def admit(self, n_programs: int) -> None:
        if self.pending + n_programs > self.config.max_pending + self.config.max_concurrency:
            raise Overloaded(f"{self.pending} programs already queued (max_pending={self.config.max_pending})")
        self.pending += n_programs

    async def evaluate(self, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
        """Must be preceded by admit() for this program."""
        return await self._bounded(evaluate_guarded(self.backend, program, spec, limits, compare))

    async def run_stdin(self, program: str, stdin: str, limits: Limits) -> tuple[TestRecord, str, str]:
        """Must be preceded by admit() for this program."""
        return await self._bounded(run_stdin_guarded(self.backend, program, stdin, limits))

    async def _bounded(self, coro):
        try:
            async with self._slots:
                self.running += 1
                try:
                    return await coro
                finally:
                    self.running -= 1
        finally:
            coro.close()  # no-op once awaited; releases it if we were cancelled while queued
            self.pending -= 1


def _executor_failure(backend, exc: Exception) -> str:
    """An exception inside the executor is our own failure (never the candidate's doing: candidate bytes
    are parsed by functions that cannot raise), so it is SE for that program alone, and logged."""
    log.error("sandbox executor failed on %s backend", getattr(backend, "name", "?"), exc_info=exc)
    return f"executor error: {type(exc).__name__}: {str(exc)[:300]}"


async def evaluate_guarded(backend, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
    """evaluate_async, except that an executor exception becomes SE records for this program only: the
    other programs of a batch keep their verdicts and the request still answers 200."""
    try:
        return await evaluate_async(program, spec, limits=limits, compare=compare, backend=backend)
    except Exception as e:  # noqa: BLE001 - see _executor_failure
        detail = _executor_failure(backend, e)
        return ProgramResult(tests=[TestRecord.system_error(detail) for _ in range(spec.n_tests)],
                             backend=getattr(backend, "name", "?"), isolation=getattr(backend, "isolation", "?"),
                             wall_s=0.0)


async def run_stdin_guarded(backend, program: str, stdin: str, limits: Limits) -> tuple[TestRecord, str, str]:
    try:
        return await run_one_stdin(backend, program, stdin, limits)
    except Exception as e:  # noqa: BLE001 - see _executor_failure
        return TestRecord.system_error(_executor_failure(backend, e)), "", ""


# ----------------------------------------------------------------------------------------------
# the endpoints

class SandboxService:
    """What each endpoint does, one method per endpoint, on parsed JSON bodies; `build_app` only routes
    HTTP requests here."""

    def __init__(self, config: ServiceConfig, backend):
        self.config = config
        self.backend = backend
        self._executor: Executor | None = None

    @property
    def executor(self) -> Executor:
        if self._executor is None:  # created lazily: its semaphore belongs to the server's event loop
            self._executor = Executor(self.config, self.backend)
        return self._executor

    def health(self) -> dict:
        ex = self.executor
        return {"status": "ok", "backend": getattr(self.backend, "name", self.config.backend),
                "isolation": getattr(self.backend, "isolation", None),
                "max_concurrency": self.config.max_concurrency, "running": ex.running, "pending": ex.pending,
                "max_body_bytes": self.config.max_body_bytes}

    async def run_code(self, body: dict) -> dict:
        code = _require(body, "code", str)
        language = _require(body, "language", str)
        stdin = _typed(body.get("stdin"), (str, type(None)), "stdin")
        files = _typed(body.get("files") or {}, dict, "files")
        fetch_files = _typed(body.get("fetch_files") or [], list, "fetch_files")
        if files or fetch_files:
            raise RequestError("files" if files else "fetch_files",
                               "files / fetch_files are not supported by this executor; send them empty")
        limits = run_code_limits(body, self.config)
        if language not in SUPPORTED_LANGUAGES:
            return sandbox_error_response(f"unsupported language {language!r}: this executor runs "
                                          f"{list(SUPPORTED_LANGUAGES)} only")
        self.executor.admit(1)
        record, stdout, note = await self.executor.run_stdin(code, stdin or "", limits)
        return run_code_response(record, stdout, note)

    async def evaluate(self, body: dict) -> dict:
        program, spec = _parse_item(body, "")
        limits = _parse_limits(body.get("limits"), self.config.limits, self.config)
        compare = _parse_compare(body)
        self.executor.admit(1)
        return (await self.executor.evaluate(program, spec, limits, compare)).to_dict()

    async def evaluate_batch(self, body: dict) -> dict:
        items = _require(body, "items", list)
        if not items:
            raise RequestError("items", "items must not be empty")
        if len(items) > self.config.max_batch_items:
            raise RequestError("items", f"{len(items)} items exceed this server's max_batch_items="
                                        f"{self.config.max_batch_items}; split the batch", status=413)
        parsed = [_parse_item(raw, f"items[{i}]") for i, raw in enumerate(items)]
        limits = _parse_limits(body.get("limits"), self.config.limits, self.config)
        compare = _parse_compare(body)
        self.executor.admit(len(parsed))
        results = await asyncio.gather(*(self.executor.evaluate(p, s, limits, compare) for p, s in parsed))
        return {"results": [r.to_dict() for r in results]}


# ----------------------------------------------------------------------------------------------
# HTTP plumbing

MAX_REQUEST_JSON_DEPTH = 64  # requests are a few levels deep; deeper bodies are rejected, not recursed into


def _error_response(status: int, kind: str, field_name: str | None, message: str, headers=None) -> JSONResponse:
    return JSONResponse({"error": kind, "field": field_name, "message": message}, status_code=status,
                        headers=headers)


async def _json_body(request: Request, max_bytes: int) -> dict:
    ok, body, reason = parse_untrusted_json(await request.body(), max_bytes=max_bytes,
                                            max_depth=MAX_REQUEST_JSON_DEPTH)
    if not ok:
        raise RequestError(None, f"request body is not valid JSON: {reason}")
    return _typed(body, dict, "body")


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def _request_error(request, exc: RequestError):
        return _error_response(exc.status, "invalid_request", exc.field, exc.message)

    @app.exception_handler(Overloaded)
    async def _overloaded(request, exc: Overloaded):
        return _error_response(503, "overloaded", None, str(exc), headers={"Retry-After": "1"})


def _add_routes(app: FastAPI, service: SandboxService) -> None:
    @app.get("/health")
    async def health():
        return service.health()

    @app.post("/run_code")
    async def run_code(request: Request):
        return await service.run_code(await _json_body(request, service.config.max_body_bytes))

    @app.post("/evaluate")
    async def evaluate_one(request: Request):
        return await service.evaluate(await _json_body(request, service.config.max_body_bytes))

    @app.post("/evaluate_batch")
    async def evaluate_batch(request: Request):
        return await service.evaluate_batch(await _json_body(request, service.config.max_body_bytes))


class _BodySizeLimit:
    """ASGI middleware: 413 before parsing when the body is (or is declared) larger than the limit."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._reject(send)
        seen = 0

        async def counting_receive():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise _BodyTooLarge()
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLarge:
            await self._reject(send)

    async def _reject(self, send):
        body = json.dumps({"error": "request_too_large", "field": None,
                           "message": f"request body exceeds {self.max_bytes} bytes"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class _BodyTooLarge(Exception):
    pass


def build_app(config: ServiceConfig, backend=None):
    """The ASGI app. `backend`: a Backend instance (default: get_backend(config.backend))."""
    config.validate()
    service = SandboxService(config, backend if backend is not None else get_backend(config.backend))
    app = FastAPI(title="g2rl-verl sandbox", docs_url=None, redoc_url=None, openapi_url=None)
    _install_error_handlers(app)
    _add_routes(app, service)
    return _BodySizeLimit(app, config.max_body_bytes)


def serve(config: ServiceConfig) -> None:
    import uvicorn

    app = build_app(config)
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = ServiceConfig()
    parser.add_argument("--host", default=d.host, help="bind address (default: loopback only)")
    parser.add_argument("--port", type=int, default=d.port)
    parser.add_argument("--backend", default=d.backend,
                        choices=[n for n in BACKEND_NAMES if n not in REMOTE_BACKENDS])
    parser.add_argument("--max-concurrency", type=int, default=d.max_concurrency,
                        help="programs running at once (default: number of cores)")
    parser.add_argument("--max-pending", type=int, default=d.max_pending)
    parser.add_argument("--max-body-bytes", type=int, default=d.max_body_bytes)
    parser.add_argument("--cpu-s", type=float, default=d.limits.cpu_s, help="default CPU limit per test")
    parser.add_argument("--memory-mb", type=int, default=d.limits.memory_mb, help="default memory per sandbox")


def config_from_args(args: argparse.Namespace) -> ServiceConfig:
    return ServiceConfig(host=args.host, port=args.port, backend=args.backend,
                         max_concurrency=args.max_concurrency, max_pending=args.max_pending,
                         max_body_bytes=args.max_body_bytes,
                         limits=Limits(cpu_s=args.cpu_s, memory_mb=args.memory_mb))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox serve", description="Run the sandbox HTTP service.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    config = config_from_args(args)
    try:
        config.validate()
    except ValueError as e:
        parser.error(str(e))
    serve(config)
    return 0
