"""Baseline C: a SandboxFusion-style service, written from its public description.

Server (``python benchmarks/baseline_sandboxfusion.py --port N``): FastAPI/uvicorn, one
``POST /run_code`` request per test; each request writes the code into a fresh temporary directory,
starts ``python`` as a subprocess, writes stdin, WAITS for the exit with a wall-clock timeout and only
then reads the output (the pattern that turns large outputs into false timeouts), and answers with
SandboxFusion's response shape. No isolation and no memory limit: never feed it host-harmful programs.

Client (``run_all``): like verl's sandbox_fusion client, one HTTP request per test from a thread pool
of max(32, 5 * cpu_count) guarded by a semaphore of 64; the client compares stdout in the caller.
Call-based tests are wrapped by the client in a small JSON-in/JSON-out driver (verl does the same).
This module only exists to be measured against; it is not part of the product.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from fastapi import Request  # module level: FastAPI resolves the (string) endpoint annotations here

_CALL_DRIVER = """
import json as _json, sys as _sys
_args = [_json.loads(_l) for _l in _sys.stdin.read().split("\\n") if _l.strip()]
_res = {fn_name}(*_args)
print(_json.dumps(_res))
"""


def build_app():
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/run_code")
    async def run_code(request: Request):
        req = await request.json()
        workdir = tempfile.mkdtemp(prefix="sf-baseline-")
        try:
            path = os.path.join(workdir, "main.py")
            with open(path, "w", encoding="utf-8") as f:
                f.write(req["code"])
            t0 = time.perf_counter()
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                path,
                cwd=workdir,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            if req.get("stdin"):
                proc.stdin.write(req["stdin"].encode())
                try:
                    await proc.stdin.drain()
                except (BrokenPipeError, ConnectionResetError):
                    pass
            proc.stdin.close()
            status = "Finished"
            try:  # wait for exit first, read afterwards (the SandboxFusion pattern)
                await asyncio.wait_for(proc.wait(), timeout=float(req.get("run_timeout", 10)))
            except asyncio.TimeoutError:
                status = "TimeLimitExceeded"
                proc.kill()
            # read both pipes together: asyncio stops reading a pipe whose buffer is full, and
            # proc.wait() only completes once the pipes are closed
            out_b, err_b = await asyncio.gather(proc.stdout.read(), proc.stderr.read())
            await proc.wait()
            stdout, stderr = out_b.decode(errors="replace"), err_b.decode(errors="replace")
            run_result = {
                "status": status,
                "execution_time": time.perf_counter() - t0,
                "return_code": proc.returncode,
                "stdout": stdout,
                "stderr": stderr,
            }
            failed = status != "Finished" or proc.returncode != 0
            return {
                "status": "Failed" if failed else "Success",
                "message": "",
                "compile_result": None,
                "run_result": run_result,
                "executor_pod_name": None,
                "files": {},
            }
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    return app


def run_all(
    url: str, items: list[tuple[str, dict]], *, timeout_s: float, compare: str, semaphore_size: int = 64
) -> list[tuple[list[bool], float]]:
    """Per-program (per-test pass flags, wall from its first request to its last response)."""
    import requests

    from sandbox import compare_output

    semaphore = threading.Semaphore(semaphore_size)
    session_local = threading.local()
    jobs = []
    for p, (program, tests) in enumerate(items):
        fn_name = tests.get("fn_name")
        code = program + _CALL_DRIVER.format(fn_name=fn_name) if fn_name else program
        for t, stdin in enumerate(tests["inputs"]):
            jobs.append((p, t, code, stdin, tests["outputs"][t], bool(fn_name)))

    def one(job):
        p, t, code, stdin, expected, is_call = job
        session = getattr(session_local, "s", None) or requests.Session()
        session_local.s = session
        payload = {
            "code": code,
            "language": "python",
            "stdin": stdin,
            "run_timeout": timeout_s,
            "compile_timeout": timeout_s,
            "memory_limit_MB": -1,
            "files": {},
            "fetch_files": [],
        }
        t0 = time.perf_counter()
        with semaphore:
            try:
                resp = session.post(url, json=payload, timeout=2 * timeout_s + 10).json()
            except (requests.RequestException, ValueError):
                resp = {"status": "api_error"}  # verl's -1: counted as a failed test
        t1 = time.perf_counter()
        run = resp.get("run_result") or {}
        passed = False
        if resp.get("status") == "Success":
            out = run.get("stdout", "")
            if expected is None:
                passed = True
            elif is_call:
                try:
                    passed = json.loads(out) == json.loads(expected)
                except ValueError:
                    passed = False
            else:
                passed = compare_output(out, expected, compare)
        return p, t, passed, t0, t1

    flags = [[False] * len(tests["inputs"]) for _, tests in items]
    spans = [[float("inf"), 0.0] for _ in items]
    with ThreadPoolExecutor(max_workers=max(32, 5 * (os.cpu_count() or 1))) as pool:
        for p, t, passed, t0, t1 in pool.map(one, jobs):
            flags[p][t] = passed
            spans[p][0] = min(spans[p][0], t0)
            spans[p][1] = max(spans[p][1], t1)
    return [(f, s[1] - s[0]) for f, s in zip(flags, spans)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    import uvicorn

    uvicorn.run(build_app(), host="127.0.0.1", port=args.port, log_level="warning", workers=args.workers)


if __name__ == "__main__":
    main()
