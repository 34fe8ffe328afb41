"""Assert-style (functional) tests, parent side: rewrite the asserts, pick the helper names, judge.

Every ``assert`` in a test snippet becomes a call of the runner's recorder (sandbox/runner.py
``make_recorder``), which writes one line per executed assert to the result pipe; the parent judges them:

* ``assert EXPR == LITERAL`` (either side literal) and ``assert is_same_list(EXPR, list_node(LITERAL))`` /
  ``is_same_tree(EXPR, tree_node(LITERAL))``: the sandbox only reports EXPR as plain data (exact builtin
  types; ListNode/TreeNode as values); the expected LITERAL stays here and is compared here, so an object
  whose ``__eq__`` always returns True, or a program that forges the record channel, cannot pass without
  knowing the answer;
* every other assert (``assert CALL``, ``assert not CALL``, ``assert abs(f(x) - y) < 1e-6``, ...) is
  evaluated in the sandbox with every call's result behind ``guard`` (rejects values whose type overrides
  comparison or truth), and the truth value is reported and judged here.

Asserts at the top level of the snippet must each report at least once. A program that knows the runner's
protocol can still forge the records of non-literal asserts and the completion line (see docs/sandbox.md,
"Threat model").

The names a snippet or program uses without defining them (``ListNode``, ``deepcopy``, ``Counter``,
``isqrt``, ...) are bound from HELPER_NAMES before the program runs, as LeetCode-style harnesses (Klear's
data) provide them; only the names actually used are imported.
"""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass, field
from typing import Any

from sandbox import runner

RECORD = "__g2rl_record__"
GUARD = "__g2rl_guard__"
MAX_RECORD_LINE = 1 << 20

# The LeetCode-style prompt's imports (LeetCodeDataset, used by Klear): plain modules, then star imports
# in this order (later modules win a clash, e.g. math.pow over builtins.pow, as in that prompt).
_PLAIN_MODULES = ("random", "functools", "collections", "string", "math", "datetime", "copy", "heapq",
                  "bisect", "itertools", "operator", "re", "sys", "os", "typing")
_STAR_MODULES = ("typing", "functools", "collections", "itertools", "heapq", "bisect", "string",
                 "operator", "math")
_EXTRA = {"deepcopy": "copy.deepcopy", "inf": "inf"}


def _helper_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for name in _PLAIN_MODULES:
        table[name] = name
    for module in _STAR_MODULES:
        mod = importlib.import_module(module)
        names = getattr(mod, "__all__", None) or [n for n in dir(mod) if not n.startswith("_")]
        for name in names:
            table[name] = f"{module}.{name}"
    table.update(_EXTRA)
    for name in runner.HELPER_DEFS:
        table[name] = "helper"
    return table


HELPER_NAMES = _helper_table()


def helpers_for(program: str, snippets: list[str]) -> dict[str, str]:
    """{name: source} for the names the program or snippets load and might not define themselves."""
    used: set[str] = set()
    for text in [program, *snippets]:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue  # reported by the runner's compile
        used.update(node.id for node in ast.walk(tree) if isinstance(node, ast.Name))
    return {name: HELPER_NAMES[name] for name in sorted(used) if name in HELPER_NAMES}


# ----------------------------------------------------------------------------------------------------
# rewriting


@dataclass
class Site:
    kind: str  # "eq": compare the reported value with `expected` here; "truth": reported value must be truthy
    expected: Any = None
    required: bool = False  # top-level assert: must report at least once


@dataclass
class Plan:
    """How to judge one snippet's records. `snippet` is what enters the sandbox."""

    snippet: str
    sites: list[Site] = field(default_factory=list)


def _literal(node: ast.AST) -> tuple[bool, Any]:
    try:
        return True, ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None


def _expected_structure(call: ast.AST) -> tuple[bool, Any]:
    """list_node(LITERAL) / tree_node(LITERAL) -> the value the runner reports for such a structure."""
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and len(call.args) == 1
            and not call.keywords and call.func.id in ("list_node", "tree_node")):
        return False, None
    ok, values = _literal(call.args[0])
    if not ok:
        return False, None
    helpers = runner._helper_namespace()
    try:
        return True, runner.encode_value(helpers[call.func.id](values))
    except (runner.GuardError, TypeError, RecursionError):
        return False, None


def _parent_judged(test: ast.AST) -> tuple[ast.AST, Any] | None:
    """(expression reported by the sandbox, expected value) for the shapes judged here, else None."""
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        ok, expected = _literal(right)
        if ok:
            return left, expected
        ok, expected = _literal(left)
        if ok:
            return right, expected
        ok, expected = _expected_structure(right)
        if ok:
            return left, expected
    if (isinstance(test, ast.Call) and isinstance(test.func, ast.Name) and len(test.args) == 2
            and not test.keywords and test.func.id in ("is_same_list", "is_same_tree")):
        ok, expected = _expected_structure(test.args[1])
        if ok:
            return test.args[0], expected
    return None


class _GuardCalls(ast.NodeTransformer):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        return ast.Call(func=ast.Name(GUARD, ast.Load()), args=[node], keywords=[])


class _RewriteAsserts(ast.NodeTransformer):
    def __init__(self, top_level: set[int]):
        self.sites: list[Site] = []
        self.top_level = top_level

    def visit_Assert(self, node: ast.Assert) -> ast.AST:
        site = len(self.sites)
        judged = _parent_judged(node.test)
        if judged is not None:
            expr, expected = judged
            self.sites.append(Site("eq", expected, id(node) in self.top_level))
            args = [ast.Constant(site), self.visit(expr)]
        else:
            self.sites.append(Site("truth", None, id(node) in self.top_level))
            args = [ast.Constant(site), _GuardCalls().visit(self.visit(node.test)), ast.Constant(False)]
        call = ast.Call(func=ast.Name(RECORD, ast.Load()), args=args, keywords=[])
        return ast.copy_location(ast.Expr(call), node)  # the tree is only unparsed, never compiled

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr):  # statements, hence asserts, never sit inside an expression
            return node
        return super().generic_visit(node)


def plan_snippet(snippet: str) -> Plan:
    """The rewritten snippet and its sites. A snippet that does not parse goes in unchanged (the runner
    reports the syntax error as RE)."""
    try:
        tree = ast.parse(snippet)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return Plan(snippet)
    rewriter = _RewriteAsserts({id(stmt) for stmt in tree.body if isinstance(stmt, ast.Assert)})
    try:
        return Plan(ast.unparse(rewriter.visit(tree)), rewriter.sites)
    except RecursionError:
        return Plan(snippet)


# ----------------------------------------------------------------------------------------------------
# judging (the records are candidate-writable bytes: every parse is bounded and cannot raise)


class _Unjudgeable:
    def __init__(self, why: str):
        self.why = why


def _decode(value: Any) -> Any:
    """Undoes the runner's tags (encode_value)."""
    t = type(value)
    if t is list:
        return [_decode(v) for v in value]
    if t is dict:
        return {_decode(k): _decode(v) for k, v in value.items()}
    if t is tuple:
        if len(value) == 2 and type(value[0]) is str and value[0].startswith("__"):
            tag, body = value
            if tag == "__set__" and type(body) is tuple:
                return frozenset(_decode(v) for v in body)
            if tag == "__float__" and type(body) is str:
                return float(body)
            if tag == "__tuple__" and type(body) is tuple:
                return tuple(_decode(v) for v in body)
            if tag in ("__ListNode__", "__TreeNode__", "__deque__"):
                return value
            if tag == "__unjudgeable__":
                return _Unjudgeable(str(body))
        return tuple(_decode(v) for v in value)
    return value


def _parse_value(text: str) -> Any:
    try:
        return _decode(ast.literal_eval(text))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, OverflowError):
        return _Unjudgeable("unreadable record")


def judge_records(data: bytes, plan: Plan, require_all: bool = True) -> tuple[bool, str]:
    """(passed, detail) from the result-pipe bytes of one functional test (completion checked by the
    caller). require_all: every top-level assert must have reported (off for a run that stopped early)."""
    seen = [0] * len(plan.sites)
    for raw in data.split(b"\n"):
        if not raw or raw.startswith(b"done "):
            continue
        head, _, body = raw.partition(b" ")
        if len(head) > 9 or not head.isdigit() or len(raw) > MAX_RECORD_LINE:
            return False, "malformed assert record"
        site = int(head)
        if site >= len(plan.sites):
            return False, "assert record for an unknown site"
        value = _parse_value(body.decode("utf-8", "replace"))
        if isinstance(value, _Unjudgeable):
            return False, f"assert {site}: {value.why}"
        spec = plan.sites[site]
        try:
            ok = (value == spec.expected) if spec.kind == "eq" else bool(value)
        except (RecursionError, MemoryError, TypeError, ValueError):
            ok = False
        if ok is not True:
            return False, f"assert {site} failed"
        seen[site] += 1
    missing = [i for i, s in enumerate(plan.sites) if require_all and s.required and not seen[i]]
    if missing:
        return False, f"top-level assert {missing[0]} never reported"
    return True, ""
