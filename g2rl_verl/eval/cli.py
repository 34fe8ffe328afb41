"""`python -m g2rl_verl.eval {generate,score}`.

generate: sample n responses per problem with vLLM into <out-dir>/<benchmark>.generations.jsonl
          (resumable; settings in <benchmark>.run.json).
score:    grade stored generations on CPU with the training reward code, write
          <benchmark>.scored.jsonl, report.md, report.json and pass_at_k.png. Exits with status 3 when the
          timeout+error rate of any benchmark exceeds --max-error-rate (reports are still written).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from g2rl_verl.eval.datasets import ROW_PARSERS, SIMPLERL_SYSTEM_PROMPT, load_problems, with_system_prompt
from g2rl_verl.eval.paper_results import check_paper_models
from g2rl_verl.eval.records import file_sha256, read_generations, write_records
from g2rl_verl.eval.report import write_report
from g2rl_verl.eval.scoring import grade, sandbox_isolation
from g2rl_verl.eval.summary import summarize

EXIT_ERROR_RATE = 3
GEN_SUFFIX = ".generations.jsonl"


def _kv(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected key=value, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # bare strings: profile=klear
    return key, value


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m g2rl_verl.eval",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="sample responses (vLLM on GPU, or --backend hf)")
    g.add_argument(
        "--benchmark",
        required=True,
        help=f"benchmark key: {', '.join(ROW_PARSERS)}, or any name with --format rl",
    )
    g.add_argument("--data", required=True, type=Path, help="benchmark file")
    g.add_argument("--format", default="auto", choices=("auto", "rl"))
    g.add_argument("--out-dir", required=True, type=Path)
    g.add_argument("--model", required=True)
    g.add_argument("--revision", default=None)
    g.add_argument("--n", type=int, required=True, help="samples per problem")
    g.add_argument("--temperature", type=float, required=True)
    g.add_argument("--top-p", type=float, required=True)
    g.add_argument("--top-k", type=int, default=-1)
    g.add_argument("--max-tokens", type=int, required=True)
    g.add_argument("--repetition-penalty", type=float, default=1.0)
    g.add_argument("--seed", type=int, default=0)
    prompt = g.add_mutually_exclusive_group()
    prompt.add_argument("--system-prompt", default=None, help="system turn added to every problem")
    prompt.add_argument("--simplerl-prompt", action="store_true", help="use the G2RL/SimpleRL system prompt")
    g.add_argument("--enable-thinking", type=_bool, default=None, help="chat_template_kwargs.enable_thinking")
    g.add_argument(
        "--rope-scaling",
        type=json.loads,
        default=None,
        help='JSON, e.g. {"rope_type":"yarn","factor":2.5,"original_max_position_embeddings":32768}',
    )
    g.add_argument("--max-model-len", type=int, default=None)
    g.add_argument(
        "--backend",
        choices=("vllm", "hf"),
        default="vllm",
        help="vllm (GPU) or hf (transformers; runs on CPU, for small local models)",
    )
    g.add_argument("--device", default="cpu", help="--backend hf: torch device (default cpu)")
    g.add_argument("--tensor-parallel-size", type=int, default=1)
    g.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    g.add_argument(
        "--batch-size", type=int, default=512, help="requests per engine call (= resume granularity)"
    )
    g.add_argument("--limit", type=int, default=None, help="only the first N problems (smoke runs)")

    s = sub.add_parser("score", help="grade stored generations and write the report (CPU)")
    s.add_argument("--in-dir", required=True, type=Path, help=f"directory with *{GEN_SUFFIX} files")
    s.add_argument("--benchmarks", nargs="*", default=None, help="subset of benchmarks (default: every file)")
    s.add_argument("--out-dir", type=Path, default=None, help="where reports go (default: --in-dir)")
    s.add_argument(
        "--reward-kwarg",
        type=_kv,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="reward_kwargs for g2rl_verl.rewards.compute_score, e.g. think_mode=require_both",
    )
    s.add_argument(
        "--maj-k", type=int, nargs="*", default=None, help="maj@k values (default: 1, 2, 4, ..., n)"
    )
    s.add_argument("--seed", type=int, default=0, help="seed of maj@k subsets and bootstrap CIs")
    s.add_argument(
        "--paper-model",
        nargs="*",
        default=(),
        help="compare only against these paper rows (full row labels, e.g. 'Klear-Reasoner-8B')",
    )
    s.add_argument(
        "--max-error-rate", type=float, default=0.01, help="fail when timeout+error share exceeds this"
    )
    s.add_argument("--concurrency", type=int, default=16)
    return parser


def cmd_generate(args: argparse.Namespace) -> int:
    from g2rl_verl.eval.generation import SamplingConfig, make_engine, require_vllm, run_generation

    if args.backend == "vllm":
        require_vllm()
    system_prompt = SIMPLERL_SYSTEM_PROMPT if args.simplerl_prompt else args.system_prompt
    cfg = SamplingConfig(
        model=args.model,
        model_revision=args.revision,
        n=args.n,
        temperature=args.temperature,
        top_p=args.top_p,
        top_k=args.top_k,
        max_tokens=args.max_tokens,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        system_prompt=system_prompt,
        enable_thinking=args.enable_thinking,
        rope_scaling=args.rope_scaling,
        max_model_len=args.max_model_len,
    )
    problems = with_system_prompt(load_problems(args.benchmark, args.data, args.format), system_prompt)
    if args.limit is not None:
        problems = problems[: args.limit]
    if args.backend == "vllm":
        options = {
            "tensor_parallel_size": args.tensor_parallel_size,
            "gpu_memory_utilization": args.gpu_memory_utilization,
        }
    else:
        options = {"device": args.device, "batch_size": args.batch_size}
    engine = make_engine(args.backend, cfg, **options)
    out = args.out_dir / f"{args.benchmark}{GEN_SUFFIX}"
    provenance = {
        "benchmark": args.benchmark,
        "data_file": str(args.data),
        "data_sha256": file_sha256(args.data),
        "num_problems": len(problems),
        "backend": args.backend,
    }
    run_generation(problems, cfg, engine, out, batch_size=args.batch_size, provenance=provenance)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    try:
        check_paper_models(tuple(args.paper_model))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    files = sorted(args.in_dir.glob(f"*{GEN_SUFFIX}"))
    if args.benchmarks:
        wanted = set(args.benchmarks)
        files = [f for f in files if f.name[: -len(GEN_SUFFIX)] in wanted]
        missing = wanted - {f.name[: -len(GEN_SUFFIX)] for f in files}
        if missing:
            raise SystemExit(f"no {GEN_SUFFIX} file for {sorted(missing)} in {args.in_dir}")
    if not files:
        raise SystemExit(
            f"no *{GEN_SUFFIX} files in {args.in_dir}; run `python -m g2rl_verl.eval generate` first"
        )
    out_dir = args.out_dir or args.in_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    reward_kwargs = dict(args.reward_kwarg)
    summaries, failures = [], []
    for f in files:
        gens = read_generations(f)
        if not gens:
            raise SystemExit(f"{f} is empty")
        scored = grade(gens, reward_kwargs, concurrency=args.concurrency)
        write_records(out_dir / f.name.replace(GEN_SUFFIX, ".scored.jsonl"), scored)
        summary = summarize(scored, maj_ks=args.maj_k, seed=args.seed)
        summaries.append(summary)
        if summary.infra_failure_rate > args.max_error_rate:
            failures.append(
                f"{summary.benchmark}: timeout+error rate {summary.infra_failure_rate:.3%} > "
                f"--max-error-rate {args.max_error_rate:.3%} (kinds {summary.kind_counts})"
            )
    provenance = {
        "generation_files": {f.name: file_sha256(f) for f in files},
        "reward_kwargs": reward_kwargs,
        "max_error_rate": args.max_error_rate,
        "maj_seed": args.seed,
        "sandbox": sandbox_isolation({ds for s in summaries for ds in s.data_sources}, reward_kwargs),
    }
    run_files = {
        f.name: json.loads(f.with_name(f.name.replace(GEN_SUFFIX, ".run.json")).read_text())
        for f in files
        if f.with_name(f.name.replace(GEN_SUFFIX, ".run.json")).exists()
    }
    if run_files:
        provenance["generation_runs"] = run_files
    paths = write_report(out_dir, summaries, provenance, tuple(args.paper_model))
    for name, p in paths.items():
        print(f"{name}: {p}")
    if failures:
        for line in failures:
            print(f"ERROR: {line}", file=sys.stderr)
        return EXIT_ERROR_RATE
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return {"generate": cmd_generate, "score": cmd_score}[args.command](args)
