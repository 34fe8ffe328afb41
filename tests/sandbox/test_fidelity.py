"""Fidelity: programs that pass under plain `python -I solution.py` pass in the sandbox too, and assert-style
tests are judged like call-based ones (expected values stay in the parent, lying objects fail).

Every "passes" case is also run with the host interpreter as `python -I solution.py` (the independent
reference) and must give the same output there.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sandbox import Limits, Verdict

AC, WA, RE, OLE = Verdict.AC, Verdict.WA, Verdict.RE, Verdict.OLE

PYRIVAL_FASTIO = '''\
import os, sys
from io import BytesIO, IOBase

BUFSIZE = 8192


class FastIO(IOBase):
    newlines = 0

    def __init__(self, file):
        self._fd = file.fileno()
        self.buffer = BytesIO()
        self.writable = "x" in file.mode or "r" not in file.mode
        self.write = self.buffer.write if self.writable else None

    def read(self):
        while True:
            b = os.read(self._fd, max(os.fstat(self._fd).st_size, BUFSIZE))
            if not b:
                break
            ptr = self.buffer.tell()
            self.buffer.seek(0, 2), self.buffer.write(b), self.buffer.seek(ptr)
        self.newlines = 0
        return self.buffer.read()

    def readline(self):
        while self.newlines == 0:
            b = os.read(self._fd, max(os.fstat(self._fd).st_size, BUFSIZE))
            self.newlines = b.count(b"\\n") + (not b)
            ptr = self.buffer.tell()
            self.buffer.seek(0, 2), self.buffer.write(b), self.buffer.seek(ptr)
        self.newlines -= 1
        return self.buffer.readline()

    def flush(self):
        if self.writable:
            os.write(self._fd, self.buffer.getvalue())
            self.buffer.truncate(0), self.buffer.seek(0)


class IOWrapper(IOBase):
    def __init__(self, file):
        self.buffer = FastIO(file)
        self.flush = self.buffer.flush
        self.writable = self.buffer.writable
        self.write = lambda s: self.buffer.write(s.encode("ascii"))
        self.read = lambda: self.buffer.read().decode("ascii")
        self.readline = lambda: self.buffer.readline().decode("ascii")


sys.stdin, sys.stdout = IOWrapper(sys.stdin), IOWrapper(sys.stdout)
input = lambda: sys.stdin.readline().rstrip("\\r\\n")
n = int(input())
print(sum(map(int, input().split())) * n, sys.stdout.writable)
'''

PASSES = {
    "exit_builtin": ("print(int(input()) + 1)\nexit()\n", "41", "42"),
    "quit_builtin": ("print(int(input()) + 1)\nquit(0)\n", "1", "2"),
    "pyrival_fastio": (PYRIVAL_FASTIO, "2\n1 2 3\n", "12 True"),
    "stream_names": ("import sys\nprint(sys.stdout.name, sys.stdin.name, sys.stdout.mode, sys.stdin.mode)\n", "",
                     "<stdout> <stdin> w r"),
    "process_pool": ("from concurrent.futures import ProcessPoolExecutor\n"
                     "def sq(x):\n    return x * x\n"
                     "if __name__ == '__main__':\n"
                     "    with ProcessPoolExecutor(2) as ex:\n"
                     "        print(sum(ex.map(sq, range(int(input())))))\n", "10", "285"),
    "multiprocessing_pool": ("import multiprocessing as mp\n"
                             "def sq(x):\n    return x * x\n"
                             "if __name__ == '__main__':\n"
                             "    with mp.Pool(2) as p:\n"
                             "        print(sum(p.map(sq, range(int(input())))))\n", "4", "14"),
    "unflushed_fd1_file": ("import sys\nout = open(1, 'w', closefd=False)\nout.write(input() + '!\\n')\n", "hi", "hi!"),
    "open_own_source": ("print(len(open(__file__).read().splitlines()), __file__.endswith('solution.py'))\n", "",
                        "1 True"),
    "recursion_995": ("import sys\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nprint(f(int(input())))\n",
                      "985", "985"),
    "numpy_by_default": ("import numpy as np\nprint(int(np.array([1, 2, 3]).sum()))\n", "", "6"),
    "future_annotations": ("from __future__ import annotations\ndef f(x: list[int]) -> int:\n    return len(x)\n"
                           "print(f([1, 2]))\n", "", "2"),
}


def _plain_python(program: str, stdin: str, tmp_path) -> str:
    path = tmp_path / "solution.py"
    path.write_text(program)
    out = subprocess.run([sys.executable, "-I", str(path)], input=stdin, capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip()


@pytest.mark.parametrize("name", sorted(PASSES))
def test_programs_that_pass_under_plain_python_pass_here(local_backend, sb, tmp_path, name):
    program, stdin, expected = PASSES[name]
    assert _plain_python(program, stdin, tmp_path) == expected  # the independent reference
    r = sb.run(local_backend, program, {"inputs": [stdin], "outputs": [expected]}, Limits(cpu_s=5, memory_mb=512))
    assert [t.verdict for t in r.tests] == [AC], r.to_dict()


def test_recursion_limit_matches_plain_python(local_backend, sb, tmp_path):
    program = ("import sys\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\n"
               "lo = 0\nfor n in range(900, 1100):\n    try:\n        f(n); lo = n\n    except RecursionError:\n        break\n"
               "print(lo)\n")
    reference = int(_plain_python(program, "", tmp_path))
    r = sb.run(local_backend, program, sb.stdio([""], [str(reference)]))
    got = int(r.tests[0].stdout_head.split()[0])
    assert abs(got - reference) <= 3, (got, reference)


def test_output_cap_scales_with_the_expected_output(local_backend, sb):
    n = 300_000  # ~2 MiB of output, above the 1 MiB default cap
    expected = "\n".join(str(i) for i in range(n))
    program = "import sys\nsys.stdout.write('\\n'.join(map(str, range(int(input())))))\n"
    r = sb.run(local_backend, program, {"inputs": [str(n)], "outputs": [expected]}, Limits(cpu_s=5, memory_mb=512))
    assert [t.verdict for t in r.tests] == [AC], r.tests[0].detail
    # a flood far above the expected size is still OLE
    r = sb.run(local_backend, "print('x' * (8 << 20))", {"inputs": [""], "outputs": ["x"]})
    assert [t.verdict for t in r.tests] == [OLE]


# -- assert-style tests ------------------------------------------------------------------------------------

ALWAYS_EQUAL = "class Yes:\n    def __eq__(self, other):\n        return True\n    __hash__ = None\ndef add(a, b):\n    return Yes()\n"
FRAME_THIEF = (  # copies a completion sentinel from its callers' frames (raw, or in our line format)
    "import sys, os\n"
    "def add(a, b):\n"
    "    f = sys._getframe(1)\n"
    "    while f is not None:\n"
    "        for v in list(f.f_locals.values()):\n"
    "            if isinstance(v, bytes) and len(v) == 32:\n"
    "                os.write(3, FORMAT % v)\n"
    "                os._exit(0)\n"
    "        f = f.f_back\n"
    "    os._exit(0)\n"
)
FRAME_THIEF_RAW = "FORMAT = b'%s'\n" + FRAME_THIEF
FRAME_THIEF_LINE = "FORMAT = b'done %s\\n'\n" + FRAME_THIEF
TRUTHY_LIAR = ("class Liar(int):\n    def __bool__(self):\n        return True\n    def __eq__(self, o):\n        return True\n"
               "def is_prime(n):\n    return Liar(0)\n")


@pytest.mark.parametrize("program,snippet", [
    (ALWAYS_EQUAL, "assert add(2, 2) == 5"),
    (ALWAYS_EQUAL, "assert 5 == add(2, 2)"),
    (ALWAYS_EQUAL, "def check(f):\n    assert f(2, 2) == 5\ncheck(add)"),
    (ALWAYS_EQUAL, "assert add(2, 2) == [5]"),
    (FRAME_THIEF_RAW, "assert add(2, 2) == 5"),
    (FRAME_THIEF_LINE, "assert add(2, 2) == 5"),
    (TRUTHY_LIAR, "assert is_prime(4) == False"),
    (TRUTHY_LIAR, "assert is_prime(7)"),
    (TRUTHY_LIAR, "assert not is_prime(4) == 0"),
    (TRUTHY_LIAR, "def check(c):\n    assert abs(c(4) - 1) < 1e-6\ncheck(is_prime)"),
])
def test_objects_that_lie_to_asserts_fail(local_backend, sb, program, snippet):
    r = sb.run(local_backend, program, {"functional": [snippet]})
    assert [t.verdict for t in r.tests] in ([WA], [RE]), r.to_dict()


def test_expected_value_of_a_literal_assert_never_enters_the_sandbox(local_backend, sb):
    program = ("import sys\ndef add(a, b):\n"
               "    print(open(__file__).read(), sys._getframe(1).f_code.co_consts, file=sys.stderr)\n"
               "    return a + b\n")
    r = sb.run(local_backend, program, {"functional": ["assert add(20, 3) == 987654321"]})
    assert [t.verdict for t in r.tests] == [WA]
    assert "987654321" not in r.tests[0].stderr_tail


CORRECT_SHAPES = [
    ("def f(x):\n    return x * 2\n", "assert f(2) == 4"),
    ("def f(x):\n    return (x, [x])\n", "assert f(1) == (1, [1])\nassert f(2) != (1, [1])"),
    ("def f(x):\n    return {x: {x}}\n", "assert f(3) == {3: {3}}"),
    ("def f(x):\n    return x > 0\n", "assert f(1)\nassert not f(-1)"),
    ("def f(x):\n    return 0.1 + 0.2\n", "assert abs(f(0) - 0.3) < 1e-9"),
    ("def f(x):\n    return float('nan')\n", "import math\nassert math.isnan(f(0))"),
    ("def f(x):\n    return sorted(x)\n", "def check(candidate):\n    assert candidate([3, 1]) == [1, 3]\n"
                                        "    assert candidate([]) == []\ncheck(f)"),
    ("def f(x):\n    return iter([1, 2])\n", "assert list(f(0)) == [1, 2]"),
    ("from collections import Counter\ndef f(s):\n    return Counter(s)\n", "assert f('aab') == {'a': 2, 'b': 1}"),
    ("import numpy as np\ndef f(n):\n    return np.int64(n) * 2\n", "assert f(3) == 6"),
]


@pytest.mark.parametrize("program,snippet", CORRECT_SHAPES)
def test_correct_programs_pass_every_assert_shape(local_backend, sb, tmp_path, program, snippet):
    # Reference: the same program and snippet under plain python must not raise.
    path = tmp_path / "solution.py"
    path.write_text(program + "\n" + snippet + "\n")
    out = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    r = sb.run(local_backend, program, {"functional": [snippet]})
    assert [t.verdict for t in r.tests] == [AC], r.to_dict()


def test_wrong_programs_fail_every_assert_shape(local_backend, sb):
    wrong = [
        ("def f(x):\n    return x * 3\n", "assert f(2) == 4"),
        ("def f(x):\n    return (x, x)\n", "assert f(1) == (1, [1])"),
        ("def f(x):\n    return x < 0\n", "assert f(1)"),
        ("def f(x):\n    return 1\n", "assert not f(1)"),
        ("def f(x):\n    return [1]\n", "assert f(1) == (1,)"),
        ("def f(x):\n    return {1}\n", "assert f(0) == set()"),
    ]
    for program, snippet in wrong:
        r = sb.run(local_backend, program, {"functional": [snippet]})
        assert [t.verdict for t in r.tests] == [WA], (snippet, r.to_dict())


def test_future_import_in_an_assert_style_solution(local_backend, sb):
    program = "from __future__ import annotations\n\ndef add(a: int, b: int) -> int:\n    return a + b\n"
    r = sb.run(local_backend, program, {"functional": ["assert add(1, 2) == 3"]})
    assert [t.verdict for t in r.tests] == [AC], r.to_dict()


# -- Klear / LeetCode-style helpers ------------------------------------------------------------------------

REVERSE_LIST = (
    "class Solution:\n"
    "    def reverseList(self, head: Optional[ListNode]) -> Optional[ListNode]:\n"
    "        prev = None\n"
    "        while head:\n"
    "            head.next, prev, head = prev, head, head.next\n"
    "        return prev\n"
)
INVERT_TREE = (
    "class Solution:\n"
    "    def invertTree(self, root: Optional[TreeNode]) -> Optional[TreeNode]:\n"
    "        if root:\n"
    "            root.left, root.right = self.invertTree(root.right), self.invertTree(root.left)\n"
    "        return root\n"
)
KLEAR_CASES = [
    (REVERSE_LIST, "assert is_same_list(Solution().reverseList(head = list_node([1, 2, 3, 4, 5])), list_node([5, 4, 3, 2, 1]))"),
    (REVERSE_LIST, "assert is_same_list(Solution().reverseList(head = list_node([])), list_node([]))"),
    (INVERT_TREE, "assert is_same_tree(Solution().invertTree(root = tree_node([4, 2, 7, 1, 3, 6, 9])), tree_node([4, 7, 2, 9, 6, 3, 1]))"),
    (INVERT_TREE, "assert is_same_tree(Solution().invertTree(root = tree_node([2, None, 3])), tree_node([2, 3]))"),
    ("class Solution:\n    def f(self, a: List[int]) -> int:\n        return isqrt(sum(nlargest(2, a)))\n",
     "assert Solution().f(a = [1, 8, 8, 2]) == 4"),
    ("class Solution:\n    def f(self, a: List[int]) -> List[int]:\n        b = deepcopy(a)\n"
     "        return [y - x for x, y in pairwise(b)]\n", "assert Solution().f(a = [1, 4, 9]) == [3, 5]"),
    ("class Solution:\n    def f(self, s: str) -> int:\n        return int(min(inf, max(Counter(s).values()))) if s else 0\n",
     "assert Solution().f(s = 'abca') == 2"),
]


def _klear_prompt_prelude() -> str:
    """The import/helper block of LeetCode-style prompts, written out here as the independent reference."""
    return (
        "import random, functools, collections, string, math, datetime\n"
        "from typing import *\nfrom functools import *\nfrom collections import *\nfrom itertools import *\n"
        "from heapq import *\nfrom bisect import *\nfrom string import *\nfrom operator import *\nfrom math import *\n"
        "from copy import deepcopy\ninf = float('inf')\n"
        "class ListNode:\n    def __init__(self, val=0, next=None):\n        self.val = val\n        self.next = next\n"
        "def list_node(values):\n    if not values:\n        return None\n    head = ListNode(values[0]); p = head\n"
        "    for v in values[1:]:\n        p.next = ListNode(v); p = p.next\n    return head\n"
        "def is_same_list(a, b):\n    if a is None and b is None:\n        return True\n    if not a or not b:\n"
        "        return False\n    return a.val == b.val and is_same_list(a.next, b.next)\n"
        "class TreeNode:\n    def __init__(self, val=0, left=None, right=None):\n"
        "        self.val = val\n        self.left = left\n        self.right = right\n"
        "def tree_node(values):\n    if not values:\n        return None\n    root = TreeNode(values[0]); i = 1\n"
        "    queue = deque([root])\n    while queue:\n        node = queue.popleft()\n"
        "        if i < len(values) and values[i] is not None:\n            node.left = TreeNode(values[i]); queue.append(node.left)\n"
        "        i += 1\n        if i < len(values) and values[i] is not None:\n"
        "            node.right = TreeNode(values[i]); queue.append(node.right)\n        i += 1\n    return root\n"
        "def is_same_tree(p, q):\n    if not p and not q:\n        return True\n    if not p or not q:\n        return False\n"
        "    return p.val == q.val and is_same_tree(p.left, q.left) and is_same_tree(p.right, q.right)\n"
    )


@pytest.mark.parametrize("program,snippet", KLEAR_CASES)
def test_klear_style_data_scores_as_in_its_harness(local_backend, sb, tmp_path, program, snippet):
    path = tmp_path / "solution.py"
    path.write_text(_klear_prompt_prelude() + program + "\n" + snippet + "\n")
    out = subprocess.run([sys.executable, "-I", str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr  # passes in a Klear-style harness
    r = sb.run(local_backend, program, {"functional": [snippet]})
    assert [t.verdict for t in r.tests] == [AC], r.to_dict()


def test_klear_style_wrong_answers_fail(local_backend, sb):
    wrong = "class Solution:\n    def reverseList(self, head):\n        return head\n"
    r = sb.run(local_backend, wrong, {"functional": [KLEAR_CASES[0][1]]})
    assert [t.verdict for t in r.tests] == [WA], r.to_dict()


def test_environment_is_documented_and_configurable(local_backend):
    from sandbox.local_backend import DEFAULT_PACKAGES, LocalBackend

    assert "numpy" in DEFAULT_PACKAGES
    bare = LocalBackend(packages=())
    assert bare.package_dirs == [] and any("numpy" in d for d in local_backend.package_dirs)
    assert os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "sandbox.md"))
