"""Test formats (docs/rewards.md) through the local backend: stdin/stdout, call-based, functional."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from sandbox import Limits, Verdict

AC, WA, RE, TLE = Verdict.AC, Verdict.WA, Verdict.RE, Verdict.TLE
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"  # shared/ sits beside the repo
HUMANEVAL = str((_SHARED if _SHARED.exists() else Path("/work/shared/data")) / "HumanEval.jsonl.gz")


def verdicts(result):
    return [t.verdict for t in result.tests]


def test_stdio_compares_every_test_in_the_parent(local_backend, sb):
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    r = sb.run(local_backend, program, {"inputs": ["1 2\n", "3 4\n", "5 5\n"], "outputs": ["3", "7\n", "11"]})
    assert verdicts(r) == [AC, AC, WA]  # 5 + 5 = 10, not 11
    assert r.pass_rate == pytest.approx(2 / 3)
    assert r.tests[2].stdout_head == "10\n"


def test_stdio_syntax_error_is_re_compile(local_backend, sb):
    r = sb.run(local_backend, "print(1\n", {"inputs": ["", ""], "outputs": ["1", "1"]})
    assert [(t.verdict, t.detail) for t in r.tests] == [(RE, "compile")] * 2
    assert "SyntaxError" in r.tests[0].stderr_tail


def test_stdio_float_tolerance_mode(local_backend, sb):
    r = sb.run(local_backend, "print(1/3)", {"inputs": [""], "outputs": ["0.333333"]}, compare="lines_float")
    assert verdicts(r) == [AC]  # |0.3333333333 - 0.333333| = 3.3e-7 <= 1e-6
    r = sb.run(local_backend, "print(1/3)", {"inputs": [""], "outputs": ["0.333333"]})
    assert verdicts(r) == [WA]


def test_each_test_gets_a_fresh_process_and_workdir(local_backend, sb):
    program = (
        "import os\n"
        "seen = os.path.exists('state')\n"
        "open('state', 'w').write('x')\n"
        "COUNTER = globals().get('COUNTER', 0) + 1\n"
        "print(seen, COUNTER)\n"
    )
    r = sb.run(local_backend, program, {"inputs": ["", ""], "outputs": ["False 1", "False 1"]})
    assert verdicts(r) == [AC, AC]


def test_random_is_reseeded_per_test(local_backend, sb):
    # Forked tests must not replay the runner's PRNG state: 2 tests drawing 64 bits agree with
    # probability 2**-64.
    program = "import random\nprint(random.getrandbits(64))\n"
    r = sb.run(local_backend, program, {"inputs": ["", ""], "outputs": ["", ""]})
    assert r.tests[0].stdout_head != r.tests[1].stdout_head


# -- call-based ----------------------------------------------------------------------------------------

TWO_SUM_CLASS = (
    "class Solution:\n"
    "    def twoSum(self, nums, target):\n"
    "        seen = {}\n"
    "        for i, x in enumerate(nums):\n"
    "            if target - x in seen:\n"
    "                return (seen[target - x], i)\n"  # a tuple: normalised to a JSON list
    "            seen[x] = i\n"
)


def test_call_lcb_style_with_solution_class(local_backend, sb):
    spec = {"inputs": ["[2, 7, 11, 15]\n9", "[3, 2, 4]\n6", "[3, 3]\n6"],
            "outputs": ["[0, 1]", "[1, 2]", "[1, 0]"], "fn_name": "twoSum"}
    r = sb.run(local_backend, TWO_SUM_CLASS, spec)
    assert verdicts(r) == [AC, AC, WA]  # the last expected output is wrong on purpose


def test_call_apps_style_global_function_and_wrapped_output(local_backend, sb):
    program = "def add(a, b):\n    return a + b\n"
    spec = {"inputs": ["[1, 2]", "[10, -3]"], "outputs": ["[3]", "7"], "fn_name": "add"}
    assert verdicts(sb.run(local_backend, program, spec)) == [AC, AC]


def test_call_single_argument_styles(local_backend, sb):
    program = "def total(nums):\n    return sum(nums)\n"
    # auto: one line, arity 1 -> the line is the single argument (LCB)
    assert verdicts(sb.run(local_backend, program, {"inputs": ["[1, 2, 3]"], "outputs": ["6"], "fn_name": "total"})) == [AC]
    # explicit APPS: a JSON list of arguments
    spec = {"inputs": ["[[1, 2, 3]]"], "outputs": ["[6]"], "fn_name": "total", "call_style": "apps"}
    assert verdicts(sb.run(local_backend, program, spec)) == [AC]


def test_call_exception_is_re_and_missing_function_is_re(local_backend, sb):
    program = "def f(x):\n    return 1 // x\n"
    r = sb.run(local_backend, program, {"inputs": ["0", "1"], "outputs": ["0", "1"], "fn_name": "f"})
    assert verdicts(r) == [RE, AC] and "ZeroDivisionError" in r.tests[0].stderr_tail
    r = sb.run(local_backend, program, {"inputs": ["0"], "outputs": ["0"], "fn_name": "g"})
    assert verdicts(r) == [RE] and "neither a function 'g'" in r.tests[0].stderr_tail


def test_call_prints_do_not_disturb_the_return_value(local_backend, sb):
    program = "def f(x):\n    print('debug', x)\n    return [x, x]\n"
    assert verdicts(sb.run(local_backend, program, {"inputs": ["4"], "outputs": ["[4, 4]"], "fn_name": "f"})) == [AC]


def test_call_exit_before_returning_is_wa(local_backend, sb):
    program = "import sys\ndef f(x):\n    sys.exit(0)\n"
    r = sb.run(local_backend, program, {"inputs": ["4"], "outputs": ["null"], "fn_name": "f"})
    assert verdicts(r) == [WA]  # exit 0 alone is never a pass, even when the expected value is null


def test_call_unserialisable_return_is_a_failure(local_backend, sb):
    program = "def f():\n    return {1, 2}\n"
    r = sb.run(local_backend, program, {"inputs": [""], "outputs": ["[1, 2]"], "fn_name": "f"})
    assert verdicts(r) == [RE] and "not JSON-serialisable" in r.tests[0].stderr_tail


# -- functional ----------------------------------------------------------------------------------------

def test_functional_snippets_pass_on_completion_only(local_backend, sb):
    program = "def add(a, b):\n    return a + b\n"
    spec = {"functional": ["assert add(1, 2) == 3", "assert add(1, 2) == 4", "raise SystemExit(0)"]}
    r = sb.run(local_backend, program, spec)
    assert verdicts(r) == [AC, WA, WA]  # a failed assert is a wrong answer (judged in the parent)


def test_functional_prelude_has_leetcode_helpers(local_backend, sb):
    program = (
        "class Solution:\n"
        "    def reverse(self, head: Optional[ListNode]) -> Optional[ListNode]:\n"
        "        prev = None\n"
        "        while head:\n"
        "            head.next, prev, head = prev, head, head.next\n"
        "        return prev\n"
    )
    snippet = "assert linked_list_to_list(Solution().reverse(list_node([1, 2, 3]))) == [3, 2, 1]"
    assert verdicts(sb.run(local_backend, program, {"assert_case": [snippet]})) == [AC]


def _humaneval_rows(n):
    if not os.path.exists(HUMANEVAL):
        pytest.skip(f"{HUMANEVAL} is not present on this machine")
    with gzip.open(HUMANEVAL, "rt") as f:
        rows = [json.loads(line) for line in f]
    return rows[:: len(rows) // n][:n]  # spread over the file


def test_humaneval_canonical_solutions_pass_and_mutants_fail(local_backend, sb):
    from sandbox import evaluate_batch

    rows = _humaneval_rows(10)
    items, mutants = [], []
    for row in rows:
        spec = {"functional": [row["test"] + "\ncheck(" + row["entry_point"] + ")"]}
        items.append((row["prompt"] + row["canonical_solution"], spec))
        # Mutant: the canonical body behind a guard that returns None instead.
        mutants.append((row["prompt"] + "    return None\n" + row["canonical_solution"], spec))
    results = evaluate_batch(items + mutants, limits=Limits(cpu_s=5, memory_mb=512), backend=local_backend)
    ok = [r.tests[0].verdict for r in results[: len(rows)]]
    bad = [r.tests[0].verdict for r in results[len(rows):]]
    assert ok == [AC] * len(rows), [(row["task_id"], r.tests[0].stderr_tail[-300:]) for row, r in zip(rows, results)]
    assert AC not in bad
