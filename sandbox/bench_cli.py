"""`python -m sandbox bench`: the small, self-contained version of benchmarks/bench_sandbox.py.

Runs the seeded labelled workload (sandbox/bench_workload.py) through one of OUR backends and prints
throughput, latency percentiles, CPU per test, fidelity against the labels (false negatives on the
correct classes, false positives on hacks) and hygiene (leftover processes, new temp files, parent
RSS growth). Exit status 1 when fidelity fails (a correct program lost a test or a hack won one), so it
doubles as a smoke test of a deployment. The baselines (SandboxFusion-style, LiveCodeBench-style) and
HumanEval live in benchmarks/bench_sandbox.py, which reuses the pieces below.

Stdlib only (the package must not depend on psutil): process and memory facts come from /proc.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field

from sandbox.api import BACKEND_NAMES, evaluate_batch, get_backend
from sandbox.bench_workload import CORRECT_CLASSES, Candidate, generate
from sandbox.types import Limits, Verdict

HACK_CLASSES = frozenset({"hack"})


@dataclass
class RunStats:
    system: str
    workload: str
    concurrency: int | str
    n_programs: int
    n_tests: int
    wall_s: float
    cpu_s: float  # whole-process-tree CPU of the run (self + reaped children)
    user_cpu_s: float | None  # CPU the candidate code itself used, when the system reports it
    latencies: list[float]  # per program, seconds
    flags: list[list[bool]]  # per program, per test: passed
    verdicts: list[list[str]] | None = None
    hygiene: dict = field(default_factory=dict)

    @property
    def tests_per_s(self) -> float:
        return self.n_tests / self.wall_s

    @property
    def programs_per_s(self) -> float:
        return self.n_programs / self.wall_s

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))]


def cpu_now() -> float:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def _descendants(root: int) -> dict[int, str]:
    """pid -> state letter of every live descendant of `root` (from /proc; racy by nature, good enough
    after a run has finished)."""
    parent, state = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        parent[int(name)], state[int(name)] = int(fields[1]), fields[0].decode()
    out = {}
    for pid in parent:
        p = parent[pid]
        while p > 1:
            if p == root:
                out[pid] = state[pid]
                break
            p = parent.get(p, 0)
    return out


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class HygieneProbe:
    """Leftover descendant processes / zombies, new files in `tmpdir`, parent RSS growth."""

    def __init__(self, tmpdir: str):
        self.tmpdir = tmpdir

    def __enter__(self):
        self.rss0 = _rss_mb()
        self.files0 = set(os.listdir(self.tmpdir))
        self.procs0 = set(_descendants(os.getpid()))
        return self

    def result(self) -> dict:
        time.sleep(0.2)  # let the last reaper run
        left = {p: s for p, s in _descendants(os.getpid()).items() if p not in self.procs0}
        zombies = sum(1 for s in left.values() if s == "Z")
        return {"leftover_procs": len(left) - zombies, "zombies": zombies,
                "tmp_files": len(set(os.listdir(self.tmpdir)) - self.files0),
                "rss_growth_mb": _rss_mb() - self.rss0}

    def __exit__(self, *exc):
        return False


def run_ours(name: str, backend, items, workload: str, concurrency: int, limits: Limits, compare: str,
             tmpdir: str) -> RunStats:
    with HygieneProbe(tmpdir) as probe:
        cpu0 = cpu_now()
        # Start the sandboxes first, as the SandboxFusion-style server is started before its clock: their
        # start-up CPU is counted (cpu0 is before it), their start-up wall time is not.
        warm = [("pass", {"inputs": [""], "outputs": [""]})] * concurrency
        evaluate_batch(warm, concurrency=concurrency, limits=limits, compare=compare, backend=backend)
        t0 = time.perf_counter()
        results = evaluate_batch(items, concurrency=concurrency, limits=limits, compare=compare, backend=backend)
        wall = time.perf_counter() - t0
        close_idle = getattr(backend, "close_idle", None)
        if close_idle:  # reaps the reusable sandboxes, so that their CPU is counted (RUSAGE_CHILDREN)
            close_idle()
        cpu = cpu_now() - cpu0
        hygiene = probe.result()
    user_cpu = sum(t.cpu_s for r in results for t in r.tests)
    if getattr(backend, "name", "") in ("docker", "http"):  # the work runs outside our process tree
        cpu, user_cpu = float("nan"), None
    return RunStats(name, workload, concurrency, len(items), sum(r.n_tests for r in results), wall, cpu,
                    user_cpu, [r.wall_s for r in results],
                    [[Verdict(t.verdict) is Verdict.AC for t in r.tests] for r in results],
                    [[Verdict(t.verdict).value for t in r.tests] for r in results], hygiene)


def fidelity(stats: RunStats, candidates: list[Candidate]) -> dict:
    """Per-test agreement with the labels: false negatives on correct / slow-correct programs, false
    positives on hacks, mean |pass rate - ground truth|, and the tests off ground truth per class."""
    fn = {"correct": [0, 0], "slow_correct": [0, 0]}
    fp_hacks = [0, 0]
    abs_err = []
    by_class: dict[str, list[int]] = {}
    for cand, flags in zip(candidates, stats.flags):
        abs_err.append(abs(sum(flags) / len(flags) - cand.expected_pass_rate))
        slot = by_class.setdefault(cand.label, [0, 0])
        slot[0] += sum(f != e for f, e in zip(flags, cand.expected_pass))
        slot[1] += len(flags)
        if cand.label in CORRECT_CLASSES:
            key = "slow_correct" if cand.label == "slow_correct" else "correct"
            fn[key][0] += sum(not f for f in flags)
            fn[key][1] += len(flags)
        if cand.label in HACK_CLASSES:
            fp_hacks[0] += sum(flags)
            fp_hacks[1] += len(flags)
    return {"mean_abs_reward_err": statistics.fmean(abs_err) if abs_err else 0.0,
            "fn_correct": fn["correct"], "fn_slow": fn["slow_correct"], "fp_hacks": fp_hacks,
            "mismatch_by_class": {k: v for k, v in by_class.items() if v[0]}}


def fidelity_ok(fid: dict) -> bool:
    return fid["fn_correct"][0] == 0 and fid["fn_slow"][0] == 0 and fid["fp_hacks"][0] == 0


def print_table(rows: list[tuple[RunStats, dict | None]], out=sys.stdout) -> None:
    header = (f"{'system':<20} {'workload':<10} {'conc':>8} {'progs':>5} {'tests':>5} {'wall s':>7} "
              f"{'tests/s':>8} {'progs/s':>8} {'p50 s':>6} {'p95 s':>6} {'p99 s':>6} {'cpu/test ms':>11} "
              f"{'ovh/test ms':>11} {'FN corr':>8} {'FN slow':>8} {'FP hack':>8} {'|err|':>6} "
              f"{'procs':>5} {'tmp':>4} {'dRSS MB':>7}")
    print(header, file=out)
    print("-" * len(header), file=out)
    for s, fid in rows:
        ovh = f"{1000 * (s.cpu_s - s.user_cpu_s) / s.n_tests:11.2f}" if s.user_cpu_s is not None else f"{'n/a':>11}"
        pair = (lambda key: f"{fid[key][0]}/{fid[key][1]}") if fid else (lambda key: "")
        print(f"{s.system:<20} {s.workload:<10} {s.concurrency!s:>8} {s.n_programs:>5} {s.n_tests:>5} "
              f"{s.wall_s:7.2f} {s.tests_per_s:8.1f} {s.programs_per_s:8.2f} {s.pct(.5):6.2f} {s.pct(.95):6.2f} "
              f"{s.pct(.99):6.2f} {1000 * s.cpu_s / s.n_tests:11.2f} {ovh} "
              f"{pair('fn_correct'):>8} {pair('fn_slow'):>8} {pair('fp_hacks'):>8} "
              f"{fid['mean_abs_reward_err'] if fid else 0:6.3f} "
              f"{s.hygiene.get('leftover_procs', '?'):>5} {s.hygiene.get('tmp_files', '?'):>4} "
              f"{s.hygiene.get('rss_growth_mb', 0):7.1f}", file=out)
    print("FN/FP: failed (FN) or passed (FP) tests / tests of the class; |err|: mean |pass rate - ground truth|"
          " per program; ovh: CPU minus the candidates' own CPU, per test;", file=out)
    print("procs/tmp: leftover descendant processes / new files in the private TMPDIR; dRSS: parent RSS growth.",
          file=out)
    for s, fid in rows:
        if fid and fid["mismatch_by_class"]:
            detail = {k: f"{a}/{b}" for k, (a, b) in fid["mismatch_by_class"].items()}
            print(f"  off ground truth: {s.system} {s.workload} c={s.concurrency}: {detail}", file=out)


def print_progress(s: RunStats) -> None:
    print(f"  done: {s.system:<20} {s.workload:<9} c={s.concurrency}: {s.n_tests} tests in {s.wall_s:.1f} s",
          flush=True)


def numpy_site_packages() -> list[str]:
    """The directory holding numpy, if installed, so the heavy-import class can run in the sandbox."""
    import importlib.util

    found = importlib.util.find_spec("numpy")
    return [os.path.dirname(os.path.dirname(found.origin))] if found and found.origin else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sandbox bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=16)
    ap.add_argument("--tests", type=int, default=4)
    ap.add_argument("--per-problem", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu-s", type=float, default=1.0, help="CPU limit per test (slow_correct burns 0.6x)")
    ap.add_argument("--backend", default="local", choices=BACKEND_NAMES)
    ap.add_argument("--url", default=None, help="service URL for --backend http")
    ap.add_argument("--concurrency", default=str(os.cpu_count() or 1), help="comma-separated, e.g. 1,2")
    ap.add_argument("--compare", default="lines_float")
    args = ap.parse_args(argv)

    options = {"url": args.url} if args.backend == "http" else {}
    if args.backend == "unsafe":  # the local backend mounts numpy by default (LocalBackend.packages)
        options["site_packages"] = numpy_site_packages()
    backend = get_backend(args.backend, **options)
    limits = Limits(cpu_s=args.cpu_s)
    candidates = generate(args.problems, args.tests, args.per_problem, seed=args.seed, cpu_s=args.cpu_s)
    items = [(c.program, c.tests) for c in candidates]
    print(f"# {len(candidates)} programs x {args.tests} tests, backend {args.backend} ({backend.isolation}), "
          f"{os.cpu_count()} cores, load avg {os.getloadavg()[0]:.2f}")
    rows, verdicts = [], {}
    with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmpdir:
        for conc in [int(c) for c in args.concurrency.split(",")]:
            s = run_ours(f"ours-{args.backend}", backend, items, "mix", conc, limits, args.compare, tmpdir)
            rows.append((s, fidelity(s, candidates)))
            verdicts[conc] = s.verdicts
            print_progress(s)
    print()
    print_table(rows)
    same = all(v == next(iter(verdicts.values())) for v in verdicts.values())
    print(f"verdicts identical across concurrency {sorted(verdicts)}: {same}")
    ok = all(fidelity_ok(fid) for _, fid in rows) and same
    print("fidelity: OK" if ok else "fidelity: FAILED (see the off-ground-truth lines)")
    return 0 if ok else 1
