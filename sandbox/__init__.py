"""Sandboxed executor for untrusted Python programs with per-test verdicts (docs/sandbox.md).

Importable without torch or verl. Threat model, verdicts, limits and backends: docs/sandbox.md; the
runner wire protocol: sandbox/runner.py.
"""

from sandbox.api import evaluate, evaluate_async, evaluate_batch, evaluate_batch_async, get_backend
from sandbox.backend import Backend
from sandbox.compare import compare_output
from sandbox.types import (
    BadTestSpec,
    IsolationUnavailable,
    Limits,
    ProgramResult,
    TestRecord,
    TestSpec,
    Verdict,
)

__all__ = [
    "Backend", "BadTestSpec", "IsolationUnavailable", "Limits", "ProgramResult", "TestRecord", "TestSpec",
    "Verdict", "compare_output", "evaluate", "evaluate_async", "evaluate_batch", "evaluate_batch_async",
    "get_backend",
]
