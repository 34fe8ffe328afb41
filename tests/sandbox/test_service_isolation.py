"""The HTTP service keeps one program's failure to that program: an executor exception is SE for that
program only (the batch still answers 200, the other programs keep their verdicts), and hostile request
bodies get 4xx, never 500. In-process (ASGI), with a scripted backend: no sandbox, no server process."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sandbox.backend import Backend
from sandbox.service import ServiceConfig, build_app
from sandbox.types import ProgramResult, TestRecord, Verdict


class ScriptedBackend(Backend):
    """AC for every test, except programs containing "BOOM": those raise inside evaluate, as an executor
    bug would (e.g. RecursionError from an unbounded parse)."""

    name = "scripted"
    isolation = "none (test double)"

    async def evaluate(self, program, spec, limits, compare):
        if "BOOM" in program:
            raise RecursionError("maximum recursion depth exceeded while decoding a JSON array")
        return ProgramResult(tests=[TestRecord(verdict=Verdict.AC) for _ in range(spec.n_tests)],
                             backend=self.name, isolation=self.isolation, wall_s=0.0)


def request(method: str, path: str, *, body=None, raw: bytes | None = None, config=None):
    app = build_app(config or ServiceConfig(max_concurrency=2), backend=ScriptedBackend())

    async def go():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            return await client.request(method, path, content=content,
                                        headers={"content-type": "application/json"})

    response = asyncio.run(go())
    return response.status_code, response.json()


TESTS = {"inputs": ["1", "2"], "outputs": ["1", "2"]}


def test_an_executor_exception_is_se_for_that_program_only_and_the_batch_survives():
    items = [{"program": "print(1)", "tests": TESTS}, {"program": "BOOM", "tests": TESTS},
             {"program": "print(2)", "tests": TESTS}]
    status, answer = request("POST", "/evaluate_batch", body={"items": items})
    assert status == 200, answer
    verdicts = [[t["verdict"] for t in r["tests"]] for r in answer["results"]]
    assert verdicts == [["AC", "AC"], ["SE", "SE"], ["AC", "AC"]]
    assert "RecursionError" in answer["results"][1]["tests"][0]["detail"]


def test_single_evaluate_and_run_code_also_answer_200_with_se():
    status, answer = request("POST", "/evaluate", body={"program": "BOOM", "tests": TESTS})
    assert status == 200 and [t["verdict"] for t in answer["tests"]] == ["SE", "SE"]
    status, answer = request("POST", "/run_code", body={"code": "BOOM", "language": "python"})
    assert status == 200 and answer["status"] == "SandboxError" and "RecursionError" in answer["message"]


@pytest.mark.parametrize("raw", [
    b"[" * 200_000 + b"]" * 200_000,  # json.loads would raise RecursionError
    b'{"items": ' + b"[" * 100 + b"]" * 100 + b"}",  # deeper than any request needs
    b"\xff\xfe{}",
])
def test_hostile_request_bodies_are_400_not_500(raw):
    status, answer = request("POST", "/evaluate_batch", raw=raw, config=ServiceConfig(max_body_bytes=1 << 20))
    assert status == 400 and answer["error"] == "invalid_request", answer


# ------------------------------------------------------------------------------------------------
# the `http` client: whatever a (broken) service answers is SE for that program, never an exception


@pytest.fixture
def fake_service():
    """A loopback HTTP server whose /evaluate answer the test sets; /health is fine."""
    import http.server
    import threading

    answers = {"evaluate": b"{}"}

    class Handler(http.server.BaseHTTPRequestHandler):
        def _reply(self, data: bytes):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._reply(b'{"backend": "fake", "isolation": "none"}')

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self._reply(answers["evaluate"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", answers
    server.shutdown()
    server.server_close()


def _result(n_tests: int) -> bytes:
    return json.dumps({"backend": "fake", "isolation": "none", "wall_s": 0.0,
                       "tests": [{"verdict": "AC"} for _ in range(n_tests)]}).encode()


@pytest.mark.parametrize("answer", [
    b"[" * 100_000 + b"]" * 100_000,  # deep JSON: json.loads would raise RecursionError
    b'{"tests": 5}',  # wrong shape: TypeError inside the client
    b'{"tests": [{"verdict": "MAYBE"}], "backend": "x", "isolation": "y", "wall_s": 0}',
    _result(1),  # one result for two tests
    b"not json",
])
def test_http_backend_turns_a_broken_answer_into_se(fake_service, answer):
    from sandbox import get_backend
    from sandbox.types import Limits, TestSpec

    url, answers = fake_service
    answers["evaluate"] = answer
    backend = get_backend("http", url=url)
    result = asyncio.run(backend.evaluate("print(1)", TestSpec.from_dict(TESTS), Limits(), "lines"))
    assert [t.verdict for t in result.tests] == [Verdict.SE, Verdict.SE], result.tests[0].detail
    answers["evaluate"] = _result(2)  # and a good answer still works
    ok = asyncio.run(backend.evaluate("print(1)", TestSpec.from_dict(TESTS), Limits(), "lines"))
    assert [t.verdict for t in ok.tests] == [Verdict.AC, Verdict.AC]
