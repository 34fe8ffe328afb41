"""Seeded, labelled synthetic workload for the sandbox benchmark (docs/sandbox.md, "Speed").

Every problem takes a list of integers ``nums`` and computes one function of it (sum, sorted, ...),
in one of two styles: stdin/stdout (``n`` then the numbers on fd 0, the answer on stdout) or
call-based (``solve(nums)``, inputs and outputs as JSON). Each candidate program belongs to a
labelled class, so the ground-truth pass/fail of every test is known without running anything:

- odd-indexed tests always have an odd-length ``nums``; the ``wrong_odd`` class is wrong exactly on
  odd lengths, so its ground-truth pass rate is (number of even indices) / M;
- ``slow_correct`` burns 0.6 x the CPU limit in CPU time (measured with ``time.process_time`` so the
  load is the same on any machine) and must still pass;
- all hostile classes must fail every test.

No dataset is downloaded: the generator is pure Python with a fixed seed.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

# class name -> share of programs (the workload mix of docs/sandbox.md "Speed"; TLE split into busy and sleep, hacks into 4 kinds)
CLASS_SHARES: dict[str, float] = {
    "correct": 0.45,
    "slow_correct": 0.05,
    "wrong_odd": 0.15,
    "float_ws": 0.05,
    "runtime_error": 0.08,
    "tle_busy": 0.025,
    "tle_sleep": 0.025,
    "memory_bomb": 0.03,
    "fork_thread_bomb": 0.02,
    "output_flood": 0.03,
    "numpy_import": 0.05,
    "hack": 0.04,
}
# classes that would harm the host when run WITHOUT isolation (the unisolated baselines skip them)
HOST_HARMFUL_CLASSES = frozenset({"memory_bomb", "fork_thread_bomb"})
CORRECT_CLASSES = frozenset({"correct", "slow_correct", "float_ws", "numpy_import"})

# name -> (expression over `nums`, python reference)
_FAMILIES: dict[str, tuple[str, object]] = {
    "sum": ("sum(nums)", lambda v: sum(v)),
    "sorted": ("sorted(nums)", lambda v: sorted(v)),
    "range": ("max(nums) - min(nums)", lambda v: max(v) - min(v)),
    "distinct": ("len(set(nums))", lambda v: len(set(v))),
    "reversed": ("nums[::-1]", lambda v: v[::-1]),
    "prefix": ("[sum(nums[:i + 1]) for i in range(len(nums))]",
               lambda v: [sum(v[:i + 1]) for i in range(len(v))]),
}
# a wrong answer that differs from every family's correct answer on every input
_WRONG_EXPR = "[0] * (len(nums) + 1)"

_STDIN_MAIN = """\
import sys
{prelude}
def main():
    data = sys.stdin.read().split()
    n = int(data[0])
    nums = [int(x) for x in data[1:1 + n]]
{body}
    res = {expr}
{emit}
main()
"""
_STDIN_EMIT = '    print(" ".join(map(str, res)) if isinstance(res, list) else res)'
_CALL_MAIN = """\
{prelude}
def solve(nums):
{body}
    return {expr}
"""


@dataclass
class Candidate:
    """One program of the workload with its label and per-test ground truth."""

    problem_id: int
    label: str
    style: str  # "stdin" | "call"
    program: str
    tests: dict  # TestSpec dict: {"inputs", "outputs"[, "fn_name"]}
    expected_pass: list[bool] = field(default_factory=list)

    @property
    def expected_pass_rate(self) -> float:
        return sum(self.expected_pass) / len(self.expected_pass)


def _format_stdin_output(value) -> str:
    return (" ".join(map(str, value)) if isinstance(value, list) else str(value)) + "\n"


def _program(label: str, style: str, expr: str, slow_cpu_s: float, rng: random.Random) -> str:
    prelude, body = "", ""
    emit = _STDIN_EMIT
    if label == "slow_correct":
        prelude = "import time"
        body = (f"    _t0 = time.process_time()\n"
                f"    while time.process_time() - _t0 < {slow_cpu_s!r}:\n        pass\n")
    elif label == "wrong_odd":
        expr = f"({_WRONG_EXPR}) if len(nums) % 2 == 1 else ({expr})"
    elif label == "float_ws":
        # exact floats, trailing spaces and no final newline: AC under a tolerant line comparer
        emit = ('    out = " ".join(f"{x:.3f}" for x in res) if isinstance(res, list) else f"{res:.3f}"\n'
                '    sys.stdout.write(out + "   ")')
    elif label == "runtime_error":
        body = rng.choice(["    raise ValueError('boom')\n", "    sys.exit(1)\n"])
        prelude = "import sys"
    elif label == "tle_busy":
        body = "    while True:\n        pass\n"
    elif label == "tle_sleep":
        prelude = "import time"
        body = "    time.sleep(10 ** 6)\n"
    elif label == "memory_bomb":
        body = rng.choice(["    _x = bytearray(10 ** 10)\n",
                           "    _a = []\n    while True:\n        _a.append(bytearray(10 ** 7))\n"])
    elif label == "fork_thread_bomb":
        prelude = "import os, threading, time"
        body = rng.choice([
            "    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
            "    while True:\n        threading.Thread(target=time.sleep, args=(100,)).start()\n",
        ])
    elif label == "output_flood":
        prelude = "import sys"
        body = "    for _ in range(50):\n        sys.stdout.write('x' * (1 << 20))\n"
    elif label == "numpy_import":
        prelude = "import numpy as np"
        expr = f"np.asarray({expr}).tolist()"
    elif label == "hack":
        kind = rng.choice(["early_exit", "always_equal", "frame_walk", "read_files"])
        if kind == "early_exit":  # exit 0 before producing any output
            prelude = "import os"
            body = "    os._exit(0)\n"
        elif kind == "always_equal":  # defeats in-process `result == expected` comparisons
            prelude = "class _Eq(list):\n    def __eq__(self, other):\n        return True\n    __hash__ = None"
            expr = "_Eq()"
        elif kind == "frame_walk":  # look for the harness's expected outputs in the caller frames
            prelude = (
                "import sys\n"
                "def _steal():\n"
                "    f = sys._getframe()\n"
                "    while f is not None:\n"
                "        for v in list(f.f_locals.values()):\n"
                "            if isinstance(v, dict) and 'outputs' in v and 'inputs' in v:\n"
                "                return v['outputs']\n"
                "        f = f.f_back\n"
                "    return None\n")
            body = "    _stolen = _steal()\n"
            expr = "(_stolen[0] if _stolen else [])"
        else:  # look for test files next to / above the program and echo them
            prelude = "import glob, os"
            body = ("    for _p in glob.glob('*') + glob.glob('../*') + glob.glob('/tmp/*'):\n"
                    "        if 'expect' in _p or 'output' in _p:\n"
                    "            print(open(_p).read())\n"
                    "    open('expected_output.txt', 'w').write('1')\n")
            expr = "[]"
    if style == "stdin":
        return _STDIN_MAIN.format(prelude=prelude, body=body, expr=expr, emit=emit)
    return _CALL_MAIN.format(prelude=prelude, body=body, expr=expr)


def _class_counts(n_programs: int) -> dict[str, int]:
    """Largest-remainder apportionment of CLASS_SHARES over n_programs (every class gets >= 1 when possible)."""
    raw = {k: v * n_programs for k, v in CLASS_SHARES.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: raw[k] - counts[k], reverse=True):
        if sum(counts.values()) >= n_programs:
            break
        counts[k] += 1
    return counts


def generate(n_problems: int = 64, n_tests: int = 8, programs_per_problem: int = 2, *, seed: int = 0,
             cpu_s: float = 1.0) -> list[Candidate]:
    """The labelled workload: n_problems * programs_per_problem candidates, n_tests tests each."""
    if n_problems < 1 or n_tests < 1 or programs_per_problem < 1:
        raise ValueError("n_problems, n_tests and programs_per_problem must all be >= 1")
    rng = random.Random(seed)
    families = sorted(_FAMILIES)
    problems = []
    for pid in range(n_problems):
        family = families[pid % len(families)]
        style = "stdin" if pid % 2 == 0 else "call"
        inputs_lists = []
        for t in range(n_tests):
            length = 2 + 2 * rng.randrange(4) + (t % 2)  # odd-indexed tests have odd length
            inputs_lists.append([rng.randint(-50, 50) for _ in range(length)])
        problems.append((pid, family, style, inputs_lists))

    n_programs = n_problems * programs_per_problem
    labels = [label for label, count in _class_counts(n_programs).items() for _ in range(count)]
    rng.shuffle(labels)
    candidates = []
    stdin_problems = [p for p in problems if p[2] == "stdin"]
    for i, label in enumerate(labels):
        pid, family, style, inputs_lists = problems[i % n_problems]
        if label == "float_ws" and style != "stdin":  # output formatting only exists for stdin programs
            pid, family, style, inputs_lists = stdin_problems[i % len(stdin_problems)]
        expr, reference = _FAMILIES[family]
        program = _program(label, style, expr, 0.6 * cpu_s, rng)
        if style == "stdin":
            tests = {"inputs": [f"{len(v)}\n{' '.join(map(str, v))}\n" for v in inputs_lists],
                     "outputs": [_format_stdin_output(reference(v)) for v in inputs_lists]}
        else:
            tests = {"inputs": [json.dumps(v) for v in inputs_lists],
                     "outputs": [json.dumps(reference(v)) for v in inputs_lists], "fn_name": "solve",
                     "call_style": "lcb"}
        if label in CORRECT_CLASSES:
            expected = [True] * n_tests
        elif label == "wrong_odd":
            expected = [t % 2 == 0 for t in range(n_tests)]
        else:
            expected = [False] * n_tests
        candidates.append(Candidate(pid, label, style, program, tests, expected))
    return candidates
