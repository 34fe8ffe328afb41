"""Machinery behind tests/docs/test_extending_examples.py: read docs/extending.md's example blocks, apply
them without touching the working tree, and check each example's result independently of its own test.

An example block is a fenced block right after a line `<!-- example: NAME file=PATH -->` (a new file:
the whole block is its text) or `<!-- example: NAME edit=PATH -->` (a ```diff of an existing file:
hunks start with `@@`; ' ' lines are context, '-' lines removed, '+' lines added; each hunk's context
and removed lines must occur exactly once, verbatim, in the current file).

Run as a script (`python extending_examples.py SPEC.json`) it is the subprocess that puts a group of
examples in place together (they touch disjoint files, or compose, as two additions to the plugin do):
an import hook serves the new modules and the edited ones from memory, under their real module names,
so the repository is never written. It then runs, per example, its test files with pytest and
`extending_checks.check_NAME`, prints `EXAMPLE NAME: ok` or the failure, and exits non-zero on any.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "extending.md"

_BLOCK = re.compile(
    r"^<!-- example: (?P<name>[\w-]+) (?P<kind>file|edit)=(?P<path>\S+) -->\n"
    r"```(?P<lang>\w+)\n(?P<body>.*?)^```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
_MARKER = re.compile(r"^<!-- example:.*$", re.MULTILINE)


@dataclass(frozen=True)
class Block:
    name: str
    kind: str  # "file" (new file) | "edit" (diff of an existing file)
    path: str  # repository-relative
    body: str
    line: int  # line of the marker in docs/extending.md


def parse_blocks(text: str) -> dict[str, list[Block]]:
    blocks: dict[str, list[Block]] = {}
    for m in _BLOCK.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        expected_lang = "diff" if m["kind"] == "edit" else "python"
        if m["lang"] != expected_lang:
            raise ValueError(f"docs/extending.md:{line}: a {m['kind']}= block must be ```{expected_lang}")
        blocks.setdefault(m["name"], []).append(Block(m["name"], m["kind"], m["path"], m["body"], line))
    parsed = {b.line for bs in blocks.values() for b in bs}
    for m in _MARKER.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        if line not in parsed:
            raise ValueError(
                f"docs/extending.md:{line}: example marker not followed by a fenced block: {m[0]}"
            )
    return blocks


def apply_diff(original: str, diff: str, where: str) -> str:
    """`original` with the hunks of `diff` applied; AssertionError naming the line that does not match."""
    lines = original.split("\n")
    hunks: list[list[str]] = []
    for raw in diff.rstrip("\n").split("\n"):
        if raw.startswith("@@"):
            hunks.append([])
        elif not hunks:
            raise AssertionError(f"{where}: a diff must start with an @@ line")
        else:
            hunks[-1].append(raw if raw else " ")  # an empty line is blank context
    for n, hunk in enumerate(hunks, start=1):
        bad = [h for h in hunk if h[0] not in " +-"]
        if bad:
            raise AssertionError(f"{where}, hunk {n}: line {bad[0]!r} does not start with ' ', '+' or '-'")
        old = [h[1:] for h in hunk if h[0] in " -"]
        new = [h[1:] for h in hunk if h[0] in " +"]
        if not old:
            raise AssertionError(f"{where}, hunk {n}: needs at least one context line to anchor it")
        starts = [i for i in range(len(lines) - len(old) + 1) if lines[i : i + len(old)] == old]
        if len(starts) != 1:
            missing = [o for o in old if o not in lines]
            hint = f"line not in the file: {missing[0]!r}" if missing else f"found {len(starts)} times"
            raise AssertionError(f"{where}, hunk {n} no longer matches the code ({hint}); update the page")
        lines[starts[0] : starts[0] + len(old)] = new
    return "\n".join(lines)


def module_name(path: str) -> str:
    return path.removesuffix(".py").replace("/", ".")


def example_spec(groups: dict[str, list[Block]]) -> dict:
    """What the subprocess needs: module name -> (file, source) over all examples of the group (edits of
    one file applied in turn), and each example's test files."""
    modules: dict[str, list[str]] = {}
    tests: dict[str, dict[str, str]] = {}
    for name, blocks in groups.items():
        tests[name] = {}
        for b in blocks:
            where = f"docs/extending.md:{b.line} ({b.kind}={b.path})"
            target = REPO / b.path
            if b.kind == "file":
                assert not target.exists(), (
                    f"{where}: {b.path} already exists; the example must add a new file"
                )
                if b.path.startswith("tests/"):
                    tests[name][b.path] = b.body
                else:
                    modules[module_name(b.path)] = [str(target), b.body]
            else:
                assert target.is_file(), f"{where}: {b.path} does not exist"
                mod = module_name(b.path)
                current = modules[mod][1] if mod in modules else target.read_text(encoding="utf-8")
                modules[mod] = [str(target), apply_diff(current, b.body, where)]
    return {"modules": modules, "tests": tests}


# -- in the subprocess ---------------------------------------------------------------------------------


class _Overlay(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves the example's modules (new or edited) from memory under their real names."""

    def __init__(self, modules: dict[str, list[str]]):
        self.modules = modules

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in self.modules:
            return None
        return importlib.util.spec_from_loader(fullname, self, origin=self.modules[fullname][0])

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename, source = self.modules[module.__name__]
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102 - the page's own example code


def _run_example(name: str, tests: dict[str, str], work: Path) -> bool:
    import traceback

    import pytest

    test_files = []
    for rel, text in tests.items():
        path = work / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        test_files.append(str(path))
    args = [*test_files, "-q", "-c", str(REPO / "pyproject.toml"), "--rootdir", str(work / name)]
    code = pytest.main([*args, "-W", "ignore::UserWarning"]) if test_files else 0
    if code != 0:
        print(f"EXAMPLE {name}: its own tests exited {int(code)}", flush=True)
        return False
    import extending_checks

    try:
        getattr(extending_checks, f"check_{name}")(work / name)
    except Exception:  # noqa: BLE001 - reported to the parent test
        traceback.print_exc(file=sys.stdout)
        print(f"EXAMPLE {name}: independent check failed", flush=True)
        return False
    print(f"EXAMPLE {name}: ok", flush=True)
    return True


def _run(spec_path: Path) -> int:
    spec = json.loads(spec_path.read_text())
    sys.meta_path.insert(0, _Overlay(spec["modules"]))
    sys.path.insert(0, str(Path(__file__).parent))
    results = [_run_example(name, tests, spec_path.parent) for name, tests in spec["tests"].items()]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(_run(Path(sys.argv[1])))
