"""Command line: `python -m sandbox run|bench|serve`.

run:   python -m sandbox run PROGRAM.py TESTS.json [--backend local] [--cpu-s 6] [--compare lines]
       prints ProgramResult.to_dict() as one JSON object. Exit status 0 when it ran (whatever the
       verdicts), 2 for a bad test spec or usage error, 3 when isolation is unavailable.
bench: delegated to sandbox.bench_cli.main(argv); serve: delegated to sandbox.service.main(argv).
"""

from __future__ import annotations

import argparse
import json
import sys

from sandbox.api import BACKEND_NAMES
from sandbox.compare import COMPARE_MODES


def _run(argv: list[str]) -> int:
    from sandbox import BadTestSpec, IsolationUnavailable, Limits, TestSpec, evaluate

    parser = argparse.ArgumentParser(prog="python -m sandbox run", description="Evaluate one program.")
    parser.add_argument("program", help="path of the Python program")
    parser.add_argument("tests", help='path of a JSON file: {"inputs": [...], "outputs": [...], "fn_name"?} '
                                      'or {"functional": [...]}')
    parser.add_argument("--backend", default="local", choices=BACKEND_NAMES)
    parser.add_argument("--url", default=None, help="service URL for --backend http")
    parser.add_argument("--cpu-s", type=float, default=Limits.cpu_s)
    parser.add_argument("--wall-s", type=float, default=None)
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb)
    parser.add_argument("--compare", default="lines", choices=COMPARE_MODES)
    args = parser.parse_args(argv)
    try:
        with open(args.program, encoding="utf-8", errors="surrogateescape") as f:
            program = f.read()
        with open(args.tests, encoding="utf-8") as f:
            spec = TestSpec.from_dict(json.load(f))
        limits = Limits(cpu_s=args.cpu_s, wall_s=args.wall_s, memory_mb=args.memory_mb).validate()
    except (OSError, ValueError) as e:  # BadTestSpec and JSON errors are ValueErrors
        kind = "bad test spec" if isinstance(e, BadTestSpec) else "error"
        print(f"sandbox run: {kind}: {e}", file=sys.stderr)
        return 2
    backend: object = args.backend
    if args.backend == "http":
        from sandbox import get_backend

        backend = get_backend("http", url=args.url)
    try:
        result = evaluate(program, spec, limits=limits, compare=args.compare, backend=backend)
    except IsolationUnavailable as e:
        print(f"sandbox run: {e}", file=sys.stderr)
        return 3
    print(json.dumps(result.to_dict()))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = ("run", "bench", "serve")
    if not argv or argv[0] not in commands:
        print(f"usage: python -m sandbox {{{','.join(commands)}}} ...", file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "run":
        return _run(rest)
    if command == "bench":
        from sandbox import bench_cli  # written alongside the benchmark

        return int(bench_cli.main(rest) or 0)
    from sandbox import service

    return int(service.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
