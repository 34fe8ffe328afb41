"""Code verifier (docs/rewards.md, "Code reward"): think handling -> last python block -> test spec ->
deterministic subset -> `sandbox.evaluate_async` -> pass rate.

Talks to the sandbox only through its public API (docs/sandbox.md): backend `local` (bubblewrap,
in-process), `http` (a `python -m sandbox serve` service, `sandbox_url`), `docker` or `unsafe`.

Denominator: p = n_passed / n_selected, where n_selected is the number of tests chosen by the subset;
tests without a result (runner killed, stop-at-first-failure) count as failed.

Who caused a failure (docs/rewards.md, "Infrastructure failures: who caused it"): every verdict the
candidate's program produced (WA, TLE, MLE, RE, OLE, ...) is the candidate's: scored, `valid = 1`. Only
what the candidate cannot cause is `error`/`timeout` with `valid = 0`: a malformed or unsupported spec,
a sandbox that is unavailable or raises, a test that still has verdict SE after the sandbox's own retry
(the sandbox sets SE only for its own failures, never from anything the program prints or does), and the
outer watchdog (the sandbox enforces every per-test limit itself, so an expired outer deadline means the
sandbox is stuck, not the program).

`klear` profile: list-valued stdin/stdout entries are joined with ", " and outputs are compared whole
after `strip()`, as Klear's reward does. Klear's `pytest` specs remain `error/unsupported_test_format`.
"""

from __future__ import annotations

import asyncio
import threading

from .code_extract import extract_python_block, program_digest
from .code_spec import BadTestSpec, parse_test_spec, select_tests
from .config import RewardConfig
from .registry import VerifyRequest, register_verifier
from .result import Kind, VerifyResult
from .think import answer_region

CODE_DATA_SOURCES = ("codecontests", "apps", "taco", "codeforces", "lcb_v5", "lcb_v6", "humaneval")
CODE_PREFIXES = ("coder1_longcot", "livecodebench/")
KLEAR_CPU_S = 35.0  # Klear reference default per-test limit
DEFAULT_CPU_S = 6.0
DEADLINE_SLACK_S = 30.0

_BACKENDS: dict[tuple[str, str | None], object] = {}
_BACKENDS_LOCK = threading.Lock()


def _backend(cfg: RewardConfig):
    """One sandbox backend object per (name, url) and process (HTTP clients and docker pools are warm)."""
    import sandbox  # deferred: sandbox/ is only needed once a code sample arrives

    key = (cfg.sandbox_backend, cfg.sandbox_url)
    with _BACKENDS_LOCK:
        if key not in _BACKENDS:
            options = {"url": cfg.sandbox_url} if cfg.sandbox_backend == "http" else {}
            _BACKENDS[key] = sandbox.get_backend(cfg.sandbox_backend, **options)
        return _BACKENDS[key]


def per_test_cpu_s(spec_timeout_s: float | None, cfg: RewardConfig, profile: str) -> float:
    if spec_timeout_s is not None:
        return spec_timeout_s
    if cfg.code_cpu_s is not None:
        return float(cfg.code_cpu_s)
    return KLEAR_CPU_S if profile == "klear" else DEFAULT_CPU_S


@register_verifier("code", data_sources=CODE_DATA_SOURCES, prefixes=CODE_PREFIXES)
async def verify_code(request: VerifyRequest) -> VerifyResult:
    cfg = request.config
    region = answer_region(request.solution_str, request.think_mode)
    if region.text is None:
        return VerifyResult(Kind.FORMAT_ERROR, detail=region.format_error)
    program = await asyncio.to_thread(extract_python_block, region.text)  # linear, but off the loop
    if program is None:
        return VerifyResult(Kind.FORMAT_ERROR, detail="no_code_block")
    pred = program_digest(program)
    try:
        tests = parse_test_spec(request.ground_truth, join_lists=request.profile == "klear")
    except BadTestSpec as exc:
        return VerifyResult(Kind.ERROR, detail=f"{exc.detail}: {exc}", pred=pred)

    k = None if cfg.mode == "eval" else (tests.max_test_cases or cfg.max_test_cases)
    indices = select_tests(len(tests.cases), k, tests.problem_key, cfg.subset_salt)
    n_selected = len(indices)
    cpu_s = per_test_cpu_s(tests.timeout_s, cfg, request.profile)
    deadline_s = cfg.code_deadline_s or n_selected * (3 * cpu_s + 1) + DEADLINE_SLACK_S

    import sandbox

    try:
        limits = sandbox.Limits(cpu_s=cpu_s, memory_mb=cfg.code_memory_mb)
        outcome = await asyncio.wait_for(
            sandbox.evaluate_async(
                program,
                tests.sandbox_spec(indices),
                limits=limits,
                compare=cfg.resolved_compare(request.data_source),
                backend=_backend(cfg),
            ),
            timeout=deadline_s,
        )
    except asyncio.TimeoutError:
        return VerifyResult(Kind.TIMEOUT, detail="watchdog_timeout", pred=pred, n_selected=n_selected)
    except sandbox.BadTestSpec as exc:
        return VerifyResult(Kind.ERROR, detail=f"bad_test_spec: {exc}", pred=pred, n_selected=n_selected)
    except Exception as exc:  # noqa: BLE001 - any sandbox failure is an infrastructure error, not a verdict
        return VerifyResult(
            Kind.ERROR,
            detail=f"sandbox_error: {type(exc).__name__}: {exc}"[:300],
            pred=pred,
            n_selected=n_selected,
        )

    verdicts = [str(getattr(t.verdict, "value", t.verdict)) for t in outcome.tests[:n_selected]]
    if "SE" in verdicts:
        return VerifyResult(
            Kind.ERROR,
            detail="sandbox_error: SE verdict after retry",
            pred=pred,
            n_selected=n_selected,
            test_verdicts=verdicts,
        )
    n_passed = verdicts.count("AC")
    all_passed = n_passed == n_selected
    p = n_passed / n_selected
    return VerifyResult(
        kind=Kind.CORRECT if all_passed else Kind.WRONG,
        detail="all_passed" if all_passed else f"passed {n_passed}/{n_selected}",
        score01=p if cfg.code_reward == "soft" else float(all_passed),
        pred=pred,
        n_selected=n_selected,
        n_passed=n_passed,
        test_verdicts=verdicts,
    )
