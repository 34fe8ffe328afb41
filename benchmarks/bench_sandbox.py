"""Sandbox throughput / fidelity / hygiene benchmark (docs/sandbox.md, "Speed"). A script, not a test.

    python benchmarks/bench_sandbox.py [--problems 64 --tests 8 --per-problem 2 --cpu-s 1.0]
                                       [--concurrency 1,2,8] [--systems ours,sf,lcb,docker]
                                       [--humaneval /work/shared/data/HumanEval.jsonl.gz]

Systems (same host, same CPU budget):
- ``ours``: sandbox.evaluate_batch on the ``local`` backend (bubblewrap isolation);
- ``docker``: the same on the ``docker`` backend (only when a daemon and the image exist);
- ``sf``: SandboxFusion-style per-test-subprocess HTTP service (benchmarks/baseline_sandboxfusion.py);
- ``lcb``: LiveCodeBench-style in-process harness (benchmarks/baseline_lcb.py).

Workloads:
- the labelled synthetic mix (sandbox/bench_workload.py, seeded). The unisolated
  baselines never get the host-harmful classes (memory / fork / thread bombs); those run on the
  isolated systems only, as a separate "hostile" pass;
- the ``correct`` class alone ("overhead" workload: user code is ~0.1 ms, so CPU per test is the
  executor's own overhead);
- HumanEval's 164 canonical solutions (program = prompt + canonical_solution, one assert-style test
  ``test + check(entry_point)``), read from the shared data path, never copied.

Every system starts its workers before its clock (the SandboxFusion-style server, our sandboxes) and
has their start-up CPU counted. Speed is reported, not asserted; the machine is shared, so quote medians
of repeated runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # the baselines live next to this script

import baseline_lcb
import baseline_sandboxfusion

from sandbox import Limits, get_backend
from sandbox.bench_cli import (
    HygieneProbe,
    RunStats,
    cpu_now,
    fidelity,
    print_progress,
    print_table,
    run_ours,
)
from sandbox.bench_workload import HOST_HARMFUL_CLASSES, generate

DEFAULT_HUMANEVAL = str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "HumanEval.jsonl.gz")


def run_lcb(items, workload: str, concurrency: int, limits: Limits, compare: str, tmpdir: str) -> RunStats:
    with HygieneProbe(tmpdir) as probe:
        cpu0, t0 = cpu_now(), time.perf_counter()
        # wall-clock only (signal.alarm, whole seconds): it gets our wall cap, the same allowance sleepers get
        out = baseline_lcb.evaluate_all(
            items, concurrency=concurrency, timeout_s=max(1, round(limits.wall_cap_s)), compare=compare
        )
        wall, cpu = time.perf_counter() - t0, cpu_now() - cpu0
        hygiene = probe.result()
    return RunStats(
        "lcb-style",
        workload,
        concurrency,
        len(items),
        sum(len(f) for f, _ in out),
        wall,
        cpu,
        None,
        [lat for _, lat in out],
        [f for f, _ in out],
        None,
        hygiene,
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_sf(items, workload: str, limits: Limits, compare: str, tmpdir: str) -> RunStats:
    port = _free_port()
    with HygieneProbe(tmpdir) as probe:
        cpu0 = cpu_now()
        server = subprocess.Popen(
            [sys.executable, baseline_sandboxfusion.__file__, "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_port(port, server)
            t0 = time.perf_counter()
            # wall-clock run_timeout: it gets our wall cap, the same allowance sleepers get from us
            out = baseline_sandboxfusion.run_all(
                f"http://127.0.0.1:{port}/run_code", items, timeout_s=limits.wall_cap_s, compare=compare
            )
            wall = time.perf_counter() - t0
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:  # stuck requests keep uvicorn from shutting down
                server.kill()
                server.wait()
        cpu = cpu_now() - cpu0  # includes the server and everything it reaped
        hygiene = probe.result()
    return RunStats(
        "sandboxfusion-style",
        workload,
        "64 (sem)",
        len(items),
        sum(len(f) for f, _ in out),
        wall,
        cpu,
        None,
        [lat for _, lat in out],
        [f for f, _ in out],
        None,
        hygiene,
    )


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"baseline server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"baseline server did not listen on {port} within {timeout} s")


def fidelity_he(s: RunStats) -> dict:
    """HumanEval rows: every canonical solution is correct, so each failed test is a false negative."""
    n = sum(len(f) for f in s.flags)
    fn = sum(not x for f in s.flags for x in f)
    err = [1 - sum(f) / len(f) for f in s.flags if f]
    return {"mean_abs_reward_err": sum(err) / len(err) if err else 0.0, "fn_correct": [fn, n], "fn_slow": [0, 0],
            "fp_hacks": [0, 0], "mismatch_by_class": {}}


def load_humaneval(path: str) -> list[tuple[str, dict]]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [
        (
            r["prompt"] + r["canonical_solution"],
            {"functional": [r["test"] + "\ncheck(" + r["entry_point"] + ")"]},
        )
        for r in rows
    ]


def _lcb_items(items):
    """The in-process harness takes assert-style tests as stdin programs with no expected output."""
    out = []
    for program, tests in items:
        if "functional" in tests:
            out.append((program + "\n" + tests["functional"][0], {"inputs": [""], "outputs": [None]}))
        else:
            out.append((program, tests))
    return out


def _sf_items(items):
    out = []
    for program, tests in items:
        if "functional" in tests:
            out.append((program + "\n" + tests["functional"][0], {"inputs": [""], "outputs": [None]}))
        else:
            out.append((program, tests))
    return out


def main(argv: list[str] | None = None) -> int:
    tmpdir = tempfile.mkdtemp(prefix="bench-sandbox-")
    try:
        return _main(argv, tmpdir)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


def _main(argv: list[str] | None, tmpdir: str) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--problems", type=int, default=64)
    ap.add_argument("--tests", type=int, default=8)
    ap.add_argument("--per-problem", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cpu-s", type=float, default=0.5, help="CPU limit per test (slow_correct uses 0.6x)")
    ap.add_argument("--wall-s", type=float, default=None, help="wall cap per test (default 3 x cpu + 1)")
    ap.add_argument("--compare", default="lines_float")
    ap.add_argument("--concurrency", default="1,2,8")
    ap.add_argument("--systems", default="ours,sf,lcb,docker")
    ap.add_argument("--humaneval", default=DEFAULT_HUMANEVAL, help="path, or '' to skip")
    args = ap.parse_args(argv)

    systems = set(args.systems.split(","))
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    ncores = os.cpu_count() or 1
    limits = Limits(cpu_s=args.cpu_s, wall_s=args.wall_s)
    os.environ["TMPDIR"] = tmpdir  # every system's temp files land here, so leftovers are attributable
    tempfile.tempdir = tmpdir
    args.humaneval = os.path.abspath(args.humaneval) if args.humaneval else args.humaneval
    os.chdir(tmpdir)  # and files the unisolated baselines' programs write into their cwd (never the checkout)

    candidates = generate(args.problems, args.tests, args.per_problem, seed=args.seed, cpu_s=args.cpu_s)
    safe = [c for c in candidates if c.label not in HOST_HARMFUL_CLASSES]
    hostile = [c for c in candidates if c.label in HOST_HARMFUL_CLASSES]
    correct_only = [c for c in candidates if c.label == "correct"]
    as_items = lambda cs: [(c.program, c.tests) for c in cs]
    print(f"# machine: {ncores} cores, load avg {os.getloadavg()[0]:.2f} at start (shared machine)")
    print(
        f"# workload: {len(candidates)} programs x {args.tests} tests (seed {args.seed}); "
        f"{len(safe)} safe, {len(hostile)} host-harmful (isolated systems only), "
        f"{len(correct_only)} 'correct' (overhead workload); limits cpu_s={args.cpu_s} wall_s={args.wall_s}"
    )

    rows: list[tuple[RunStats, dict | None]] = []
    backends = {}
    if "ours" in systems:
        # default configuration: numpy mounted read-only (LocalBackend.packages), sandboxes reused with a
        # complete reset between programs
        backends["ours-local"] = get_backend("local")
    if "docker" in systems:
        try:
            backends["ours-docker"] = get_backend("docker")
        except Exception as e:  # noqa: BLE001 - report why the optional system is absent
            print(f"# docker backend skipped: {e}")

    try:
        verdict_sets: dict[str, dict[int, list[list[str]]]] = {}
        for name, backend in backends.items():
            concs = concurrencies if name == "ours-local" else [ncores]
            for conc in concs:
                s = run_ours(name, backend, as_items(safe), "mix-safe", conc, limits, args.compare, tmpdir)
                rows.append((s, fidelity(s, safe)))
                verdict_sets.setdefault(name, {})[conc] = s.verdicts
                print_progress(s)
            if hostile:  # small workloads may have no host-harmful program
                s = run_ours(name, backend, as_items(hostile), "hostile", ncores, limits, args.compare, tmpdir)
                rows.append((s, fidelity(s, hostile)))
                print_progress(s)
            s = run_ours(name, backend, as_items(correct_only), "correct", ncores, limits, args.compare, tmpdir)
            rows.append((s, fidelity(s, correct_only)))
            print_progress(s)
        if "sf" in systems:
            for workload, cs in (("mix-safe", safe), ("correct", correct_only)):
                s = run_sf(as_items(cs), workload, limits, args.compare, tmpdir)
                rows.append((s, fidelity(s, cs)))
                print_progress(s)
        if "lcb" in systems:
            for workload, cs in (("mix-safe", safe), ("correct", correct_only)):
                s = run_lcb(as_items(cs), workload, ncores, limits, args.compare, tmpdir)
                rows.append((s, fidelity(s, cs)))
                print_progress(s)

        he_rows = []
        if args.humaneval:
            if not os.path.exists(args.humaneval):
                print(f"# HumanEval skipped: {args.humaneval} does not exist")
            else:
                he = load_humaneval(args.humaneval)
                he_limits = Limits(cpu_s=6.0)
                for name, backend in backends.items():
                    he_rows.append(run_ours(name, backend, he, "humaneval", ncores, he_limits, "lines", tmpdir))
                if "sf" in systems:
                    he_rows.append(run_sf(_sf_items(he), "humaneval", he_limits, "lines", tmpdir))
                if "lcb" in systems:
                    he_rows.append(run_lcb(_lcb_items(he), "humaneval", ncores, he_limits, "lines", tmpdir))

    finally:  # never leave warm containers behind, even when a system crashes mid-run
        for backend in backends.values():
            close = getattr(backend, "close", None)
            if close:
                close()
    print()
    print_table(rows + [(s, fidelity_he(s)) for s in he_rows])
    for name, by_conc in verdict_sets.items():
        base = next(iter(by_conc.values()))
        same = all(v == base for v in by_conc.values())
        print(f"verdicts identical across concurrency {sorted(by_conc)} ({name}): {same}")

    def tps(system, workload):
        xs = [
            s
            for s, _ in rows
            if s.system == system and s.workload == workload and s.concurrency in (ncores, "64 (sem)")
        ]
        return xs[0].tests_per_s if xs else None

    all_rows = rows + [(s, None) for s in he_rows]

    def stats(system, workload, conc=None):
        for s, _ in all_rows:
            if s.system == system and s.workload == workload and (conc is None or s.concurrency == conc):
                return s
        return None

    sf_name = "sandboxfusion-style"
    for workload in ("correct", "mix-safe", "humaneval"):
        concs = concurrencies if workload == "mix-safe" else [ncores]
        for conc in concs:
            ours, sf = stats("ours-local", workload, conc), stats(sf_name, workload)
            if ours and sf:
                print(f"ratio ours(local, isolated, c={conc}) / sandboxfusion-style tests/s on {workload}: "
                      f"{ours.tests_per_s / sf.tests_per_s:.2f}x (target >= 3x)")
    sf_mix = stats(sf_name, "mix-safe")
    if sf_mix:
        # CPU the candidates themselves need to be judged without false negatives: slow_correct runs 0.6 x
        # the CPU limit per test, tle_busy runs to the limit. No executor on these cores beats that / cores.
        need = sum(args.tests * args.cpu_s * {"slow_correct": 0.6, "tle_busy": 1.0}.get(c.label, 0.0) for c in safe)
        floor_s = need / ncores
        print(f"bound on mix-safe: candidates' own CPU {need:.1f} s / {ncores} cores = {floor_s:.1f} s wall at least; "
              f"sandboxfusion-style took {sf_mix.wall_s:.1f} s, so no FN-free executor exceeds "
              f"{sf_mix.wall_s / floor_s:.2f}x here")
    ours, floor = stats("ours-local", "correct", ncores), stats("lcb-style", "correct")
    if ours and floor:  # 'correct' programs run ~0.1 ms of their own code: CPU per program is overhead
        per_prog = lambda s: s.cpu_s / s.n_programs
        print(f"overhead (CPU) per program, ours / in-process LCB-style floor on correct: "
              f"{1000 * per_prog(ours):.1f} / {1000 * per_prog(floor):.1f} ms = {per_prog(ours) / per_prog(floor):.2f}x "
              f"(target <= 2x)")
    for s in he_rows:
        n_ac = sum(all(f) for f in s.flags)
        print(f"HumanEval canonical AC ({s.system}): {n_ac}/{s.n_programs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
