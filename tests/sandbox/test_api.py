"""Public API: spec/limit validation, batch ordering and concurrency, asyncio behaviour, SE retry, the
unsafe backend, refusal without isolation, and the `python -m sandbox run` CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import pytest

import sandbox
from sandbox import (
    BadTestSpec,
    IsolationUnavailable,
    Limits,
    ProgramResult,
    TestRecord,
    TestSpec,
    Verdict,
    evaluate,
    evaluate_async,
    evaluate_batch,
    evaluate_batch_async,
    get_backend,
)
from sandbox.backend import Backend

AC, WA, SE = Verdict.AC, Verdict.WA, Verdict.SE
DOUBLE = "print(int(input()) * 2)\n"


def test_public_names_are_exported():
    for name in ("Verdict", "Limits", "TestSpec", "BadTestSpec", "TestRecord", "ProgramResult", "evaluate",
                 "evaluate_async", "evaluate_batch", "evaluate_batch_async", "get_backend", "compare_output",
                 "IsolationUnavailable"):
        assert hasattr(sandbox, name), name


def test_sandbox_imports_neither_torch_nor_verl():
    code = "import sys, sandbox, sandbox.local_backend, sandbox.unsafe_backend; print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'verl')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("field, value", [("cpu_s", 0), ("memory_mb", -1), ("pids", 1), ("output_bytes", 10),
                                          ("wall_s", 0.0), ("cpu_s", True)])
def test_limits_validate_names_the_field(field, value):
    with pytest.raises(ValueError, match=f"Limits.{field}"):
        Limits(**{field: value}).validate()


def test_limits_default_wall_cap_is_three_cpu_plus_one():
    assert Limits(cpu_s=6).wall_cap_s == 19.0 and Limits(cpu_s=2, wall_s=5).wall_cap_s == 5


@pytest.mark.parametrize("spec, reason", [
    ({"inputs": [], "outputs": []}, "no tests"),
    ({"inputs": ["1"], "outputs": ["1", "2"]}, "1 entries but 'outputs' has 2"),
    ({"inputs": ["1"]}, "no 'outputs'"),
    ({"inputs": ["1"], "outputs": ["1"], "fn_name": "not an identifier"}, "identifier"),
    ({"functional": 3}, "string or a list"),
    ({"foo": 1}, "none of"),
    ("not json", "not valid JSON"),
])
def test_bad_specs_say_why(spec, reason):
    with pytest.raises(BadTestSpec, match=reason):
        TestSpec.from_dict(spec)


def test_spec_kinds():
    assert TestSpec.from_dict({"inputs": ["1"], "outputs": ["2"]}).kind == "stdio"
    assert TestSpec.from_dict({"inputs": ["1"], "outputs": ["2"], "fn_name": "f"}).kind == "call"
    spec = TestSpec.from_dict({"functional": "assert True"})
    assert (spec.kind, spec.snippets, spec.n_tests) == ("functional", ["assert True"], 1)
    assert TestSpec.from_dict({"assert_case": ["a", "b"]}).n_tests == 2


def test_result_to_dict_is_json_ready(local_backend, sb):
    r = sb.run(local_backend, DOUBLE, {"inputs": ["2", "3"], "outputs": ["4", "7"]})
    d = json.loads(json.dumps(r.to_dict()))
    assert d["pass_rate"] == 0.5 and [t["verdict"] for t in d["tests"]] == ["AC", "WA"]
    assert d["backend"] == "local" and d["isolation"].startswith("L2")


def test_batch_keeps_input_order_and_bounds_concurrency(local_backend):
    items = [(DOUBLE, {"inputs": [str(i)], "outputs": [str(2 * i)]}) for i in range(6)]
    results = evaluate_batch(items, concurrency=2, limits=Limits(cpu_s=1), backend=local_backend)
    assert [r.tests[0].stdout_head for r in results] == [f"{2 * i}\n" for i in range(6)]
    assert all(r.pass_rate == 1.0 for r in results)


async def test_concurrency_is_bounded(local_backend):
    live, peak = 0, 0

    class Counting(Backend):
        name = "counting"
        isolation = "test"

        async def evaluate(self, program, spec, limits, compare):
            nonlocal live, peak
            live += 1
            peak = max(peak, live)
            try:
                return await local_backend.evaluate(program, spec, limits, compare)
            finally:
                live -= 1

    items = [(DOUBLE, {"inputs": ["1"], "outputs": ["2"]})] * 5
    await evaluate_batch_async(items, concurrency=2, backend=Counting())
    assert peak == 2


async def test_async_evaluation_does_not_block_the_event_loop(local_backend):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    t0 = time.monotonic()
    result = await evaluate_async("import time\ntime.sleep(1)\nprint(1)", {"inputs": [""], "outputs": ["1"]},
                                  limits=Limits(cpu_s=1), backend=local_backend)
    elapsed = time.monotonic() - t0
    task.cancel()
    assert result.tests[0].verdict == AC
    # A blocked loop would tick ~0 times during the 1 s sleep; a free one ~100 (>= 20 under heavy load).
    assert elapsed >= 1.0 and ticks >= 20, (ticks, elapsed)


def test_sync_api_inside_a_running_loop_points_to_the_async_variant(local_backend):
    async def inner():
        evaluate(DOUBLE, {"inputs": ["1"], "outputs": ["2"]}, backend=local_backend)

    with pytest.raises(RuntimeError, match="_async"):
        asyncio.run(inner())


class FlakyBackend(Backend):
    """SE on the first call, a real answer afterwards."""

    name = "flaky"
    isolation = "test"

    def __init__(self, fail_times):
        self.calls, self.fail_times = 0, fail_times

    async def evaluate(self, program, spec, limits, compare):
        self.calls += 1
        verdict = SE if self.calls <= self.fail_times else AC
        return ProgramResult([TestRecord(verdict=verdict)], self.name, self.isolation, 0.0)


def test_system_error_is_retried_once():
    backend = FlakyBackend(fail_times=1)
    r = evaluate("x", {"inputs": ["1"], "outputs": ["1"]}, backend=backend)
    assert (backend.calls, r.tests[0].verdict) == (2, AC)
    backend = FlakyBackend(fail_times=5)
    r = evaluate("x", {"inputs": ["1"], "outputs": ["1"]}, backend=backend)
    assert (backend.calls, r.tests[0].verdict, r.has_system_error) == (2, SE, True)


def test_local_backend_refuses_without_bwrap():
    from sandbox.local_backend import LocalBackend

    with pytest.raises(IsolationUnavailable, match="backend='unsafe'"):
        LocalBackend(bwrap="/nonexistent/bwrap")


def test_unsafe_backend_runs_trusted_code_and_cleans_up(tmp_path):
    backend = get_backend("unsafe")
    r = evaluate("import os\nopen('f', 'w').write('x')\nprint(int(input()) + 1)",
                 {"inputs": ["1", "5"], "outputs": ["2", "7"]}, limits=Limits(cpu_s=1), backend=backend)
    assert [t.verdict for t in r.tests] == [AC, WA] and r.isolation == "L0:none"
    r = evaluate("while True: pass", {"inputs": [""], "outputs": [""]}, limits=Limits(cpu_s=0.5), backend=backend)
    assert r.tests[0].verdict == Verdict.TLE


def test_runner_death_is_se_not_a_failure(local_backend, monkeypatch):
    from sandbox import session

    # A runner that is never ready within the start-up budget: every test must be SE (infrastructure).
    monkeypatch.setattr(session, "STARTUP_TIMEOUT_S", 0.0)
    r = asyncio.run(local_backend.evaluate(DOUBLE, TestSpec.from_dict({"inputs": ["1", "2"], "outputs": ["2", "4"]}),
                                           Limits(cpu_s=1), "lines"))
    assert [t.verdict for t in r.tests] == [SE, SE] and "not ready" in r.tests[0].detail


# -- CLI -------------------------------------------------------------------------------------------------

def _cli(*args, cwd):
    return subprocess.run([sys.executable, "-m", "sandbox", "run", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_cli_run_prints_one_json_object(local_backend, tmp_path):
    (tmp_path / "prog.py").write_text(DOUBLE)
    (tmp_path / "tests.json").write_text(json.dumps({"inputs": ["2", "3"], "outputs": ["4", "5"]}))
    out = _cli("prog.py", "tests.json", "--cpu-s", "1", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["pass_rate"] == 0.5 and [t["verdict"] for t in result["tests"]] == ["AC", "WA"]


def test_cli_run_call_based(local_backend, tmp_path):
    (tmp_path / "prog.py").write_text("def f(a, b):\n    return a * b\n")
    (tmp_path / "tests.json").write_text(json.dumps({"inputs": ["3\n4"], "outputs": ["12"], "fn_name": "f"}))
    result = json.loads(_cli("prog.py", "tests.json", cwd=tmp_path).stdout)
    assert result["pass_rate"] == 1.0


def test_cli_bad_spec_exits_2_with_reason(tmp_path):
    (tmp_path / "prog.py").write_text(DOUBLE)
    (tmp_path / "tests.json").write_text(json.dumps({"inputs": ["1"], "outputs": []}))
    out = _cli("prog.py", "tests.json", cwd=tmp_path)
    assert out.returncode == 2 and "bad test spec" in out.stderr and out.stdout == ""


def test_parent_giving_up_mid_test_kills_the_whole_sandbox(local_backend, monkeypatch, host, sb):
    from sandbox import session

    # The runner would enforce the 4 s wall cap; make the parent's answer budget expire first (0.5 s) so
    # that it kills the sandbox while a test (and a daemonised grandchild) is running.
    monkeypatch.setattr(session, "ANSWER_SLACK_S", -3.5)
    program = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)\n"
    t0 = time.monotonic()
    r = asyncio.run(local_backend.evaluate(program, TestSpec.from_dict({"inputs": ["", ""], "outputs": ["", ""]}),
                                           Limits(cpu_s=1), "lines"))
    assert [t.verdict for t in r.tests] == [SE, SE] and "no result for test 0" in r.tests[0].detail
    assert time.monotonic() - t0 < 10
    time.sleep(0.2)  # killed processes are reaped by the host's init asynchronously
    assert not host.problems()


def test_runner_setup_failure_is_se_not_the_candidates_fault():
    from sandbox.unsafe_backend import UnsafeBackend

    class BrokenWorkdir(UnsafeBackend):
        def _session_options(self, lease, limits):
            return {**super()._session_options(lease, limits), "workdir": "/nonexistent/g2rl-workdir"}

    r = asyncio.run(BrokenWorkdir().evaluate(DOUBLE, TestSpec.from_dict({"inputs": ["1"], "outputs": ["2"]}),
                                             Limits(cpu_s=1), "lines"))
    assert r.tests[0].verdict == SE and "FileNotFoundError" in r.tests[0].detail


USERNS_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from sandbox import Limits, evaluate, get_backend
backend = get_backend("local")
ok = evaluate("import os\\nprint(int(input()) * 2, os.getuid())", {"inputs": ["21"], "outputs": ["42 65534"]},
              limits=Limits(cpu_s=1), backend=backend)
bomb = evaluate("import os\\nwhile True:\\n    os.fork()", {"inputs": [""], "outputs": ["x"]},
                limits=Limits(cpu_s=5, wall_s=15), backend=backend)  # generous: reach the pid limit, not the clock
print(json.dumps({"isolation": backend.isolation, "ok": ok.tests[0].verdict.value,
                  "bomb": bomb.tests[0].verdict.value, "bomb_err": bomb.tests[0].stderr_tail[-200:]}))
"""


def test_user_namespace_mode_as_an_unprivileged_user():
    """As root the suite runs the uid-lease mode; this runs the other mode (bwrap --unshare-user, the one
    non-root hosts use) as `nobody` with the system interpreter (the sandbox package is stdlib-only)."""
    import shutil

    repo = os.path.dirname(os.path.dirname(os.path.abspath(sandbox.__file__)))
    setpriv, system_python = shutil.which("setpriv"), "/usr/bin/python3"
    if os.geteuid() != 0:
        pytest.skip("not root: the whole suite already runs in user-namespace mode")
    if not setpriv or not os.path.exists(system_python):
        pytest.skip("needs setpriv and /usr/bin/python3 to run as nobody")
    path = repo
    while path != "/":  # nobody must be able to reach the package
        if not os.stat(path).st_mode & 0o005:
            pytest.skip(f"{path} is not readable by nobody")
        path = os.path.dirname(path)
    out = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", system_python, "-I", "-c",
                          USERNS_SCRIPT, repo], capture_output=True, text=True, timeout=120, cwd="/",
                         env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert "userns" in result["isolation"] and result["ok"] == "AC"
    assert result["bomb"] == "RE" and "Resource temporarily unavailable" in result["bomb_err"]  # RLIMIT_NPROC per userns


def test_one_registry_names_every_backend(monkeypatch):
    from g2rl_verl.rewards import config as reward_config
    from sandbox import api, service
    from sandbox.unsafe_backend import UnsafeBackend

    assert reward_config.SANDBOX_BACKENDS == api.BACKEND_NAMES == tuple(api.BACKENDS)
    parser = __import__("argparse").ArgumentParser()
    service.add_arguments(parser)
    choices = next(a.choices for a in parser._actions if a.dest == "backend")
    assert set(choices) == set(api.BACKEND_NAMES) - set(api.REMOTE_BACKENDS)
    # a new backend is one registry line
    monkeypatch.setitem(api.BACKENDS, "mine", "sandbox.unsafe_backend:UnsafeBackend")
    assert isinstance(api.get_backend("mine", python=None), UnsafeBackend)
    with pytest.raises(ValueError, match="unknown sandbox backend 'nope'"):
        api.get_backend("nope")


def test_run_raw_is_on_the_backend_base_class():
    assert "run_raw" in Backend.__dict__
    with pytest.raises(NotImplementedError, match="raw runner records"):
        asyncio.run(FlakyBackend(0).run_raw("", TestSpec.from_dict({"inputs": [""], "outputs": [""]}), Limits()))


def test_reused_sandboxes_give_every_program_a_new_uid(local_backend, sb):
    if not getattr(local_backend, "reuse", False):
        pytest.skip("sandboxes are reused only in the privileged (root) mode")
    from sandbox import evaluate_async

    async def sequential():
        out = []
        for _ in range(4):
            r = await evaluate_async("import os\nprint(os.getuid())", sb.stdio([""], ["0"]), backend=local_backend)
            out.append(int(r.tests[0].stdout_head))
        return out

    uids = asyncio.run(sequential())
    assert len(set(uids)) >= 3 and 0 not in uids, uids  # leases are random: a repeat is possible, harmless
