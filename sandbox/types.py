"""Value types of the sandbox API: verdicts, limits, test specifications and results.

Pure data with validation; no process handling here. Verdicts and limits: docs/sandbox.md.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from dataclasses import dataclass, field
from typing import Any


class Verdict(str, enum.Enum):
    AC = "AC"  # exited 0 and output matched (or assert snippet completed)
    WA = "WA"  # exited 0 but wrong output / no completion record
    TLE = "TLE"  # CPU-time limit (detail "cpu") or wall cap (detail "wall")
    MLE = "MLE"  # memory limit (MemoryError under RLIMIT_AS)
    RE = "RE"  # non-zero exit, signal, uncaught exception, syntax error
    OLE = "OLE"  # stdout/stderr/result exceeded the capture cap
    SE = "SE"  # infrastructure failure: never a pass, never a fail


class BadTestSpec(ValueError):
    """The test specification is empty, malformed or inconsistent."""


class IsolationUnavailable(RuntimeError):
    """The requested isolation cannot be provided on this host; the message says how to fix it."""


@dataclass(frozen=True)
class Limits:
    """Per-test resource limits (docs/sandbox.md, "Limits"). Sizes in MiB unless the name says bytes."""

    cpu_s: float = 6.0
    wall_s: float | None = None  # None -> 3 * cpu_s + 1
    memory_mb: int = 1024
    pids: int = 32
    nofile: int = 64
    fsize_mb: int = 8
    tmpfs_mb: int = 64
    output_bytes: int = 1 << 20

    @property
    def wall_cap_s(self) -> float:
        return self.wall_s if self.wall_s is not None else 3.0 * self.cpu_s + 1.0

    def validate(self) -> Limits:
        def positive(name: str, minimum: float) -> None:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum:
                raise ValueError(f"Limits.{name}={value!r} is invalid: expected a number >= {minimum}")

        positive("cpu_s", 0.05)
        if self.wall_s is not None:
            positive("wall_s", 0.05)
        positive("memory_mb", 16)
        positive("pids", 2)
        positive("nofile", 8)
        positive("fsize_mb", 1)
        positive("tmpfs_mb", 1)
        positive("output_bytes", 1024)
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


TEST_KINDS = ("stdio", "call", "functional")
CALL_STYLES = ("auto", "lcb", "apps")


@dataclass
class TestSpec:
    """The tests of one program. Expected `outputs` stay in the parent; only `inputs`/`snippets` travel.

    kind "stdio": inputs[k] on stdin, stdout compared with outputs[k].
    kind "call": fn_name called with arguments parsed from inputs[k]; return value compared (JSON) with
      outputs[k]. call_style "lcb" = newline-separated JSON values, one per argument; "apps" = one JSON list
      of arguments; "auto" = lcb when the input has several lines, else apps when the parsed value is a
      list whose length equals the function's positional arity >= 2, else lcb (a single-argument APPS input
      like "[[1, 2]]" is ambiguous with LCB: set call_style="apps" for such data).
    kind "functional": each snippet (asserts) runs after prelude + program; passes iff it completes.
    """

    __test__ = False  # not a pytest class

    kind: str
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] | None = None
    fn_name: str | None = None
    snippets: list[str] | None = None
    call_style: str = "auto"

    @property
    def n_tests(self) -> int:
        return len(self.snippets or []) if self.kind == "functional" else len(self.inputs)

    def payloads(self) -> list[str]:
        """What enters the sandbox for each test (never the expected outputs)."""
        return list(self.snippets or []) if self.kind == "functional" else list(self.inputs)

    def validate(self) -> TestSpec:
        if self.kind not in TEST_KINDS:
            raise BadTestSpec(f"unknown test kind {self.kind!r}; expected one of {TEST_KINDS}")
        if self.kind == "functional":
            if not self.snippets:
                raise BadTestSpec("functional spec has no snippets")
            _all_strings("functional", self.snippets)
            return self
        if not self.inputs:
            raise BadTestSpec("spec has no tests: 'inputs' is empty")
        if self.outputs is None:
            raise BadTestSpec("spec has 'inputs' but no 'outputs'")
        _all_strings("inputs", self.inputs)
        _all_strings("outputs", self.outputs)
        if len(self.inputs) != len(self.outputs):
            raise BadTestSpec(
                f"'inputs' has {len(self.inputs)} entries but 'outputs' has {len(self.outputs)}"
            )
        if self.kind == "call":
            if not isinstance(self.fn_name, str) or not self.fn_name.isidentifier():
                raise BadTestSpec(f"call spec needs 'fn_name' to be an identifier, got {self.fn_name!r}")
            if self.call_style not in CALL_STYLES:
                raise BadTestSpec(f"call_style {self.call_style!r} not in {CALL_STYLES}")
        return self

    @classmethod
    def from_dict(cls, d: Any) -> TestSpec:
        """Accepts {"inputs","outputs"[,"fn_name"[,"call_style"]]}, {"functional": str|[str]} or
        {"assert_case": [str]}. Raises BadTestSpec with the reason otherwise."""
        if isinstance(d, TestSpec):
            return d.validate()
        if isinstance(d, (str, bytes)):
            try:
                d = json.loads(d)
            except ValueError as e:
                raise BadTestSpec(f"test spec is not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise BadTestSpec(f"test spec must be a dict, got {type(d).__name__}")
        for key in ("functional", "assert_case"):
            if key in d:
                snippets = d[key]
                if isinstance(snippets, str):
                    snippets = [snippets]
                if not isinstance(snippets, list):
                    raise BadTestSpec(f"'{key}' must be a string or a list of strings")
                return cls(kind="functional", snippets=snippets).validate()
        if "inputs" not in d:
            raise BadTestSpec(
                f"test spec has none of 'inputs', 'functional', 'assert_case' (keys: {sorted(d)})")
        inputs, outputs = d.get("inputs"), d.get("outputs")
        if outputs is None:
            raise BadTestSpec("spec has 'inputs' but no 'outputs'")
        if not isinstance(inputs, list) or not isinstance(outputs, list):
            raise BadTestSpec("'inputs' and 'outputs' must both be lists of strings")
        fn_name = d.get("fn_name") or None
        kind = "call" if fn_name else "stdio"
        return cls(
            kind=kind, inputs=inputs, outputs=outputs, fn_name=fn_name,
            call_style=d.get("call_style", "auto"),
        ).validate()


def _all_strings(name: str, values: list[Any]) -> None:
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise BadTestSpec(f"'{name}'[{i}] is {type(v).__name__}, expected str (normalise at data-prep)")


@dataclass
class TestRecord:
    __test__ = False

    verdict: Verdict
    detail: str = ""
    exit_status: int | None = None
    signal: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    peak_mem_mb: float | None = None
    stdout_head: str = ""
    stdout_tail: str = ""
    stderr_tail: str = ""
    stdout_bytes: int = 0
    cap_hit: bool = False

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["verdict"] = self.verdict.value
        return d

    @classmethod
    def system_error(cls, detail: str) -> TestRecord:
        return cls(verdict=Verdict.SE, detail=detail)


@dataclass
class ProgramResult:
    tests: list[TestRecord]
    backend: str
    isolation: str
    wall_s: float

    @property
    def n_tests(self) -> int:
        return len(self.tests)

    @property
    def n_passed(self) -> int:
        return sum(t.verdict is Verdict.AC for t in self.tests)

    @property
    def pass_rate(self) -> float:
        return self.n_passed / self.n_tests if self.tests else 0.0

    @property
    def has_system_error(self) -> bool:
        return any(t.verdict is Verdict.SE for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pass_rate": self.pass_rate,
            "n_tests": self.n_tests,
            "n_passed": self.n_passed,
            "has_system_error": self.has_system_error,
            "backend": self.backend,
            "isolation": self.isolation,
            "wall_s": self.wall_s,
            "tests": [t.to_dict() for t in self.tests],
        }
