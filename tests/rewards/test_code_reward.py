"""Code rewards end to end through the REAL sandbox (local backend: bubblewrap), docs/rewards.md "Code reward".

Skipped only if the sandbox reports that isolation is unavailable on this machine (a genuinely absent
resource); a missing or broken sandbox package fails the tests.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pickle
import socket
import subprocess
import sys
import time
import zlib

import pytest

import sandbox
from g2rl_verl.rewards import compute_score, compute_score_async, verify_async


@pytest.fixture(scope="module", autouse=True)
def _isolation_available():
    try:
        sandbox.evaluate("print(1)", {"inputs": [""], "outputs": ["1"]}, backend="local")
    except sandbox.IsolationUnavailable as exc:
        pytest.skip(f"bubblewrap isolation unavailable here: {exc}")


def answer(program: str, think: bool = False) -> str:
    body = f"Here is my solution.\n```python\n{program}\n```\n"
    return f"<think>\nreasoning\n</think>\n{body}" if think else body


DOUBLE = "print(int(input()) * 2)"
# Fails the first test only: input 1 is special-cased wrongly.
DOUBLE_BUT_1 = "n = int(input())\nprint(0 if n == 1 else 2 * n)"
STDIO_4 = {"inputs": ["1\n", "2\n", "3\n", "4\n"], "outputs": ["2\n", "4\n", "6\n", "8\n"]}
KW = {"max_infra_failure_rate": 1.0}


async def test_stdio_all_pass_and_denominator():
    full, partial = await asyncio.gather(
        compute_score_async("apps", answer(DOUBLE), json.dumps(STDIO_4), **KW),
        compute_score_async("apps", answer(DOUBLE_BUT_1), json.dumps(STDIO_4), **KW),
    )
    assert (full["kind"], full["score"], full["n_passed"], full["n_selected"]) == ("correct", 1.0, 4, 4)
    # 3 of 4 pass: p = 0.75 (not 0, not 1); g2rl score 2p - 1 = 0.5; acc 0 (not every test passed).
    assert (partial["kind"], partial["score01"], partial["score"], partial["acc"]) == (
        "wrong",
        0.75,
        0.5,
        0.0,
    )
    assert (partial["n_passed"], partial["n_selected"], partial["valid"]) == (3, 4, 1.0)


async def test_profiles_and_hard_mode_on_partial_credit():
    gt = json.dumps(STDIO_4)
    binary, hard, klear = await asyncio.gather(
        compute_score_async("apps", answer(DOUBLE_BUT_1), gt, profile="binary", **KW),
        compute_score_async("apps", answer(DOUBLE_BUT_1), gt, code_reward="hard", **KW),
        compute_score_async("apps", answer(DOUBLE_BUT_1), gt, profile="klear", **KW),
    )
    assert binary["score"] == 0.75  # p
    assert (hard["score01"], hard["score"]) == (0.0, -1.0)  # 1[p = 1] -> -1
    assert klear["score"] == 0.5  # Klear's mean of per-test ±1 = 2p - 1


async def test_call_based_formats():
    two_sum = (
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return [seen[target - x], i]\n            seen[x] = i\n"
    )
    lcb = {"inputs": ["[2,7,11,15]\n9", "[3,2,4]\n6"], "outputs": ["[0, 1]", "[1, 2]"], "fn_name": "twoSum"}
    # APPS/TACO: each input is the argument list; outputs wrapped as [value]. 1 + 3 = 4, 5 + 5 = 10.
    apps = {"inputs": [[[1, 2], 3], [[5], 5]], "outputs": [[4], [10]], "fn_name": "add_first"}
    add_first = "def add_first(xs, y):\n    return xs[0] + y"
    a, b = await asyncio.gather(
        compute_score_async("livecodebench/code_generation_lite", answer(two_sum), json.dumps(lcb), **KW),
        compute_score_async("taco", answer(add_first), apps, **KW),
    )
    assert (a["kind"], a["n_passed"]) == ("correct", 2)
    assert (b["kind"], b["n_passed"]) == ("correct", 2)  # APPS [value] wrapping accepted


async def test_functional_and_assert_case():
    program = "def f(x):\n    return x + 1"
    good = {"functional": ["assert f(1) == 2", "assert f(2) == 3"]}
    half = {"assert_case": ["assert f(1) == 2", "assert f(2) == 4"]}
    a, b = await asyncio.gather(
        compute_score_async("humaneval", answer(program), good, **KW),
        compute_score_async("humaneval", answer(program), half, **KW),
    )
    assert (a["kind"], a["score01"]) == ("correct", 1.0)
    assert (b["kind"], b["score01"], b["n_passed"]) == ("wrong", 0.5, 1)


async def test_compressed_payload():
    payload = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(STDIO_4)))).decode()
    out = await compute_score_async("codeforces", answer(DOUBLE), payload, **KW)
    assert (out["kind"], out["n_passed"]) == ("correct", 4)


async def test_bad_specs_are_errors_never_full_credit():
    empty, unsupported = await asyncio.gather(
        verify_async("apps", answer(DOUBLE), '{"inputs": [], "outputs": []}', **KW),
        verify_async("apps", answer(DOUBLE), '{"pytest": "x"}', **KW),
    )
    assert empty.result.kind.value == "error" and empty.result.detail.startswith("bad_test_spec")
    assert unsupported.result.detail.startswith("unsupported_test_format")
    for scored in (empty, unsupported):
        assert (scored.score, scored.to_dict()["valid"], scored.to_dict()["acc"]) == (-1.0, 0.0, 0.0)


async def test_format_errors():
    no_block, klear_trunc = await asyncio.gather(
        verify_async("apps", "just prose, no code", STDIO_4, **KW),
        verify_async("coder1_longcot", "<think>\nstill thinking ```python\nprint(1)\n```", STDIO_4, **KW),
    )
    assert (no_block.result.detail, no_block.score) == ("no_code_block", -1.0)
    assert (klear_trunc.result.detail, klear_trunc.score) == ("missing_close_think", -0.5)


async def test_subsetting_and_eval_mode():
    spec = {
        "inputs": [f"{i}\n" for i in range(6)],
        "outputs": [f"{2 * i}\n" for i in range(6)],
        "max_test_cases": 2,
    }
    train, evaluation = await asyncio.gather(
        compute_score_async("apps", answer(DOUBLE), spec, **KW),
        compute_score_async("apps", answer(DOUBLE), spec, mode="eval", **KW),
    )
    assert (train["n_selected"], train["n_passed"]) == (2, 2)
    assert (evaluation["n_selected"], evaluation["n_passed"]) == (6, 6)  # evaluation runs every test


def test_watchdog_deadline_on_a_runaway_program():
    # Sync path: runs on the router's long-lived background loop, like verl's long-lived reward-loop
    # workers. (On cancellation the sandbox SIGKILLs its runner without reaping it; a per-test event loop
    # that closes right after would report the orphaned transport as an unraisable warning.)
    out = compute_score(
        "apps", answer("while True:\n    pass"), STDIO_4, code_deadline_s=1.5, code_cpu_s=2.0, **KW
    )
    assert (out["kind"], out["valid"], out["score"]) == ("timeout", 0.0, -1.0)
    assert out["latency_s"] < 5.0  # 1.5 s deadline + slack for a loaded CI box


def test_unreachable_http_sandbox_is_an_infra_error():
    out = compute_score(
        "apps", answer(DOUBLE), STDIO_4, sandbox_backend="http", sandbox_url="http://127.0.0.1:9", **KW
    )
    assert (out["kind"], out["valid"], out["score"]) == ("error", 0.0, -1.0)


# A row shaped exactly like Kwai-Klear/KlearReasoner-CodeSub-15K (docs/data-and-eval.md).
CODESUB_ROW = {
    "hash": "0f3c9a",
    "ability": "code",
    "data_source": "coder1_longcot",
    "prompt": [
        {
            "content": "You are an expert Python programmer. You will be given a question (problem specification) "
            "and will generate a correct Python program that matches the specification and passes all tests.\n\n"
            "Read n and print 2n.",
            "role": "user",
        }
    ],
    "reward_model": {
        "ground_truth": json.dumps({**STDIO_4, "timeout": 10, "max_test_cases": 16}),
        "style": "rule",
    },
}


def test_klear_codesub_row_trains_unchanged():
    row = CODESUB_ROW
    gt = row["reward_model"]["ground_truth"]
    good = compute_score(row["data_source"], answer(DOUBLE, think=True), gt, {"index": 0}, **KW)
    partial = compute_score(row["data_source"], answer(DOUBLE_BUT_1, think=True), gt, {"index": 0}, **KW)
    no_open = compute_score(
        row["data_source"], "reasoning</think>\n" + answer(DOUBLE), gt, {"index": 0}, **KW
    )
    assert good["score"] == 1.0 and partial["score"] == 0.5  # klear: 2p - 1 with p = 3/4
    assert no_open["score"] == -2.0  # klear: missing <think>


def test_http_sandbox_service_by_url(tmp_path):
    """The same reward through `python -m sandbox serve` (backend http, sandbox_url)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = tmp_path / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                assert server.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "sandbox service did not start within 30 s"
                time.sleep(0.2)
        url = f"http://127.0.0.1:{port}"
        out = compute_score(
            "apps", answer(DOUBLE_BUT_1), STDIO_4, sandbox_backend="http", sandbox_url=url, **KW
        )
        assert (out["kind"], out["score01"], out["n_passed"], out["n_selected"]) == ("wrong", 0.75, 3, 4)
    finally:
        server.terminate()
        server.wait(10)


# --- the klear profile scores code as Klear's reward does (issue 12 item 7) --------------------------------
# Klear's code_r1 reward (Kwai-Klear/KlearReasoner, verl/utils/reward_score/code_r1_compute.py, Apache-2.0):
# list-valued stdin/stdout entries become ", ".join(map(str, entry)); a test passes iff
# output.strip() == expected.strip().

ECHO_SUM = "a, b = map(int, input().split(', '))\nprint(a + b)"
LIST_SPEC = {"inputs": [[1, 2], [3, 4]], "outputs": [[3], "7"]}


async def test_klear_joins_list_entries_like_klear():
    klear = await compute_score_async(
        "coder1_longcot", answer(ECHO_SUM, think=True), json.dumps(LIST_SPEC), **KW
    )
    assert (klear["kind"], klear["n_passed"], klear["score"]) == ("correct", 2, 1.0), klear
    # Outside the klear profile list entries are a bad spec (data_prep normalises them): error, valid 0.
    other = await compute_score_async("apps", answer(ECHO_SUM), json.dumps(LIST_SPEC), **KW)
    assert (other["kind"], other["valid"]) == ("error", 0.0)


async def test_klear_compares_whole_outputs_after_strip():
    indented = "n = int(input())\nprint('   ' + str(2 * n))"  # leading spaces Klear's strip() ignores
    spec = json.dumps(STDIO_4)
    klear = await compute_score_async("coder1_longcot", answer(indented, think=True), spec, **KW)
    assert (klear["kind"], klear["score"]) == ("correct", 1.0)
    lines = await compute_score_async("apps", answer(indented), spec, **KW)  # default `lines`: significant
    assert (lines["kind"], lines["n_passed"]) == ("wrong", 0)
    explicit = await compute_score_async(
        "coder1_longcot", answer(indented, think=True), spec, compare="lines", **KW
    )
    assert explicit["kind"] == "wrong"  # an explicit compare always wins


async def test_klear_pytest_specs_remain_a_documented_error():
    spec = json.dumps({"pytest": "from solution import f\n\ndef test_f():\n    assert f() == 1\n"})
    out = await compute_score_async(
        "coder1_longcot", answer("def f():\n    return 1", think=True), spec, **KW
    )
    assert (out["kind"], out["valid"]) == ("error", 0.0)
