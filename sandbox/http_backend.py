"""`http` backend: a client of `python -m sandbox serve` (sandbox/service.py), stdlib only.

Each program is one ``POST /evaluate``; the server bounds concurrency and judges. Transport failures,
timeouts and 5xx answers become SE records (infrastructure: evaluate() retries once); a 4xx answer is
a caller mistake (e.g. limits above the server's maximum) and raises ValueError with the server's
message, naming the field. A malformed answer (not a bounded JSON object of the expected shape) is SE.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from sandbox.backend import Backend
from sandbox.compare import parse_untrusted_json
from sandbox.types import IsolationUnavailable, Limits, ProgramResult, TestRecord, TestSpec, Verdict

MAX_RESPONSE_DEPTH = 16  # a ProgramResult is 4 levels deep
_RECORD_FIELDS = ("detail", "exit_status", "signal", "cpu_s", "wall_s", "peak_mem_mb", "stdout_head",
                  "stdout_tail", "stderr_tail", "stdout_bytes", "cap_hit")


def spec_to_dict(spec: TestSpec) -> dict:
    if spec.kind == "functional":
        return {"functional": list(spec.snippets or [])}
    d = {"inputs": list(spec.inputs), "outputs": list(spec.outputs or [])}
    if spec.kind == "call":
        d.update(fn_name=spec.fn_name, call_style=spec.call_style)
    return d


def result_from_dict(d: dict) -> ProgramResult:
    tests = [TestRecord(verdict=Verdict(t["verdict"]), **{k: t[k] for k in _RECORD_FIELDS if k in t})
             for t in d["tests"]]
    return ProgramResult(tests=tests, backend=d["backend"], isolation=d["isolation"], wall_s=d["wall_s"])


class HttpBackend(Backend):
    name = "http"

    def __init__(self, url: str | None = None, *, timeout_slack_s: float = 30.0, max_connections: int = 64,
                 check: bool = True):
        if not url:
            raise ValueError("the http backend needs url= (e.g. http://127.0.0.1:8080)")
        self.url = url.rstrip("/")
        self.timeout_slack_s = timeout_slack_s
        self._pool = ThreadPoolExecutor(max_workers=max_connections, thread_name_prefix="sandbox-http")
        self._server_isolation = "unknown"
        if check:
            try:
                health = self._request("GET", "/health", None, timeout=10.0)
            except OSError as e:
                raise IsolationUnavailable(f"sandbox service at {self.url} is not reachable: {e}") from None
            self._server_isolation = f"{health.get('backend')}: {health.get('isolation')}"

    @property
    def isolation(self) -> str:
        return f"remote ({self._server_isolation})"

    def _request(self, method: str, path: str, body: dict | None, timeout: float) -> dict:
        data = None if body is None else json.dumps(body).encode("utf-8")
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                ok, answer, reason = parse_untrusted_json(resp.read(), max_depth=MAX_RESPONSE_DEPTH)
                if not ok or not isinstance(answer, dict):
                    raise ValueError(f"malformed answer from {self.url}{path}: {reason or type(answer).__name__}")
                return answer
        except urllib.error.HTTPError as e:
            payload = e.read().decode("utf-8", "replace")
            if 400 <= e.code < 500 and e.code != 408:
                try:
                    info = json.loads(payload)
                    message = f"{info.get('field')}: {info.get('message')}"
                except ValueError:
                    message = payload[:500]
                raise ValueError(f"sandbox service rejected the request ({e.code}): {message}") from None
            raise OSError(f"HTTP {e.code} from {self.url}{path}: {payload[:300]}") from None

    def _evaluate_blocking(self, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
        body = {"program": program, "tests": spec_to_dict(spec), "limits": limits.to_dict(), "compare": compare}
        # the server answers within n_tests * (wall cap + slack); its queue may add more
        timeout = spec.n_tests * (limits.wall_cap_s + 2.0) + self.timeout_slack_s
        try:
            result = result_from_dict(self._request("POST", "/evaluate", body, timeout))
            if result.n_tests != spec.n_tests:  # misaligned verdicts would be scored against the wrong tests
                raise ValueError(f"the service answered {result.n_tests} results for {spec.n_tests} tests")
            return result
        except (OSError, ValueError, KeyError, TypeError) as e:  # the service failed us: SE, never a crash
            if isinstance(e, ValueError) and str(e).startswith("sandbox service rejected"):
                raise
            detail = f"sandbox service {self.url} failed: {type(e).__name__}: {e}"
            return ProgramResult(tests=[TestRecord.system_error(detail) for _ in range(spec.n_tests)],
                                 backend=self.name, isolation=self.isolation, wall_s=0.0)

    async def evaluate(self, program: str, spec: TestSpec, limits: Limits, compare: str) -> ProgramResult:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._evaluate_blocking, program, spec, limits, compare)

    async def aclose(self) -> None:
        self._pool.shutdown(wait=False)
