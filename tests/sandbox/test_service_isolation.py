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
