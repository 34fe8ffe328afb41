"""The build pipeline shared by all builders: resolve inputs, recognise their shapes, convert rows,
validate golds, apply filters in order, write the parquet atomically and write the report.

Order of the steps (each counted in the report): conversion (malformed rows rejected), dedup_exact,
dedup_normalized, responses_per_prompt (SFT), decontamination, min_tests (code), pass_rate, then the
math-verify gold check (math; failures rejected), then token_length. The expensive steps come last so
they only see rows that survive the cheap ones; a row whose gold is then rejected has already been
seen by dedup, so a later duplicate of it is still dropped as a duplicate.
"""

from __future__ import annotations

import itertools
import os
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from data_prep.decontam import NgramIndex
from data_prep.errors import DataPrepError, RowError
from data_prep.filters import (
    DecontaminationFilter,
    DedupFilter,
    MinTestsFilter,
    PassRateFilter,
    ResponsesPerPromptFilter,
    TokenLengthFilter,
)
from data_prep.gold import GoldValidator
from data_prep.readers import BadLine, file_sha256, open_input, resolve_inputs
from data_prep.report import Report
from data_prep.router_names import is_routable
from data_prep.schemas import SFT_SCHEMA, rl_schema
from data_prep.sources import eval_sets, rl_code, rl_math, sft
from data_prep.sources.base import ConvertOptions, Example, Filtered, Rejected, detect_shape
from data_prep.writer import AtomicParquetWriter, write_json_atomic, write_text_atomic

SHAPES = {
    "sft-longcot": sft.SHAPES,
    "rl-math": rl_math.SHAPES,
    "rl-code": rl_code.SHAPES,
    "eval-sets": eval_sets.SHAPES,
}
PROMPT_STYLES = ("native", "raw", "simplerl")
_CHUNK_ROWS = 2048  # rows converted ahead so their distinct golds can be checked in parallel


@dataclass
class BuildConfig:
    """Everything one build needs; `validate()` checks it before any file is touched."""

    builder: str
    inputs: list[str]
    output: Path
    report: Path | None = None  # default: <output>.report.json (+ .report.txt)
    overwrite: bool = False
    seed: int = 0
    split: str | None = None  # default: "test" for eval-sets, else "train"
    progress: bool = True
    workers: int = min(4, os.cpu_count() or 1)  # math-verify gold checks in parallel processes
    # filters (training builders)
    dedup: bool = True
    decontaminate: list[str] = field(default_factory=list)
    ngram: int = 9
    pass_rate_file: str | None = None
    pass_rate_range: tuple[float, float] = (0.0, 1.0)
    pass_rate_missing: str = "drop"
    tokenizer: str | None = None
    max_tokens: int | None = None
    max_responses_per_prompt: int = 16  # sft-longcot
    min_tests: int = 16  # rl-code
    # conversion
    prompt_style: str = "native"
    data_source: str | None = None
    code_timeout: int | None = None
    max_test_cases: int | None = None
    lcb_window: str | None = None  # eval-sets: v5 | v6
    repeat: int = 1  # eval-sets: rows per problem, for avg@k in verl validation

    def validate(self) -> None:
        def bad(msg: str):
            raise DataPrepError(msg)

        if self.builder not in SHAPES:
            bad(f"unknown builder {self.builder!r}; choose one of {', '.join(SHAPES)}")
        if not self.inputs:
            bad("at least one --input is required")
        if self.output.suffix != ".parquet":
            bad(f"--output {self.output} must end in .parquet")
        if self.ngram < 1:
            bad(f"--ngram must be >= 1, got {self.ngram}")
        lo, hi = self.pass_rate_range
        if not 0.0 <= lo <= hi <= 1.0:
            bad(f"--pass-rate {lo} {hi}: need 0 <= LO <= HI <= 1")
        if self.pass_rate_missing not in ("drop", "keep"):
            bad("--pass-rate-missing must be drop or keep")
        if self.max_tokens is not None and (self.tokenizer is None or self.max_tokens < 1):
            bad("--max-tokens needs --tokenizer and a positive value")
        if self.workers < 1:
            bad(f"--workers must be >= 1, got {self.workers}")
        if self.max_responses_per_prompt < 1 or self.min_tests < 0 or self.repeat < 1:
            bad("--max-responses-per-prompt and --repeat must be >= 1, --min-tests >= 0")
        if self.prompt_style not in PROMPT_STYLES:
            bad(f"--prompt-style must be one of {', '.join(PROMPT_STYLES)}")
        if self.data_source is not None and not is_routable(self.data_source):
            bad(f"--data-source {self.data_source!r} is not a name the reward router knows (rewards.md §6)")
        if self.lcb_window is not None and self.lcb_window not in eval_sets.LCB_WINDOWS:
            bad(f"--lcb-window must be one of {', '.join(eval_sets.LCB_WINDOWS)}")
        for key in ("code_timeout", "max_test_cases"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                bad(f"--{key.replace('_', '-')} must be >= 1")

    @property
    def split_name(self) -> str:
        return self.split or ("test" if self.builder == "eval-sets" else "train")

    @property
    def report_path(self) -> Path:
        return self.report or self.output.with_name(
            self.output.name.removesuffix(".parquet") + ".report.json"
        )


def _make_filters(cfg: BuildConfig) -> list:
    filters: list = []
    if cfg.builder == "eval-sets":
        return filters
    sft_build = cfg.builder == "sft-longcot"
    if cfg.dedup:
        filters += [DedupFilter(False, sft_build), DedupFilter(True, sft_build)]
    if sft_build:
        filters.append(ResponsesPerPromptFilter(cfg.max_responses_per_prompt))
    if cfg.decontaminate:
        index = NgramIndex(cfg.ngram)
        for spec in tqdm(
            cfg.decontaminate, desc="index eval sets", file=sys.stderr, disable=not cfg.progress
        ):
            path = Path(spec)
            if not path.is_file():
                raise DataPrepError(f"--decontaminate {spec!r}: no such file")
            index.add_file(path)
        filters.append(DecontaminationFilter(index))
    if cfg.builder == "rl-code" and cfg.min_tests > 0:
        filters.append(MinTestsFilter(cfg.min_tests))
    if cfg.pass_rate_file:
        lo, hi = cfg.pass_rate_range
        filters.append(PassRateFilter(Path(cfg.pass_rate_file), lo, hi, cfg.pass_rate_missing))
    if cfg.tokenizer:
        max_tokens = cfg.max_tokens or (32768 if sft_build else None)
        if max_tokens is None:
            raise DataPrepError("--tokenizer for an RL builder needs --max-tokens")
        filters.append(TokenLengthFilter(cfg.tokenizer, max_tokens, "messages" if sft_build else "prompt"))
    return filters


def _row(cfg: BuildConfig, ex: Example, source: str, index: int, repeat_idx: int) -> dict:
    if cfg.builder == "sft-longcot":
        return {**ex.row, "id": ex.source_id}
    extra = dict(ex.row["extra_info"])
    extra.update(split=cfg.split_name, index=index, source_id=ex.source_id, source=source)
    if cfg.builder == "eval-sets":
        extra["repeat"] = repeat_idx
    return {**ex.row, "extra_info": extra}


def _convert_rows(cfg: BuildConfig, inp, shape, opts: ConvertOptions, report: Report):
    """(row number, Example | Rejected | Filtered) for every item of every row of one input file."""
    for row_no, raw in tqdm(
        inp.rows(),
        total=inp.num_rows,
        desc=f"{cfg.builder} {inp.path.name}",
        file=sys.stderr,
        disable=not cfg.progress,
        mininterval=1.0,
    ):
        report.read(shape.name)
        try:
            if isinstance(raw, BadLine):
                raise RowError(raw.reason)
            items = list(shape.convert(raw, opts))
        except RowError as e:
            report.reject(shape.name, str(inp.path), row_no, str(e))
            continue
        for item in items:
            yield row_no, item


def build(cfg: BuildConfig) -> dict | None:
    """Run one build; returns the report dict, or None when the output exists and --overwrite is off."""
    cfg.validate()
    if cfg.output.exists() and not cfg.overwrite:
        print(f"data_prep: {cfg.output} exists; skipping (pass --overwrite to rebuild)", file=sys.stderr)
        return None
    paths = resolve_inputs(cfg.inputs)
    files = []
    for path in paths:
        inp = open_input(path)
        files.append((inp, detect_shape(path, inp.columns, SHAPES[cfg.builder], cfg.builder)))
    if cfg.builder == "eval-sets" and any(s.name == "livecodebench" for _, s in files) and not cfg.lcb_window:
        raise DataPrepError("a LiveCodeBench input needs --lcb-window v5 or v6 (the contest-date window)")

    report = Report(cfg.builder)
    filters = _make_filters(cfg)
    # cheap filters run before the math-verify gold check, the tokenizer-based length filter after it,
    # so neither expensive step is spent on rows that are dropped anyway
    token_filter = next((f for f in filters if isinstance(f, TokenLengthFilter)), None)
    cheap_filters = [f for f in filters if f is not token_filter]
    shapes = [s for _, s in files]
    schema = (
        SFT_SCHEMA
        if cfg.builder == "sft-longcot"
        else rl_schema(shapes, (("repeat", pa.int64()),) if cfg.builder == "eval-sets" else ())
    )
    window = None
    if cfg.lcb_window:
        _, start, end = eval_sets.LCB_WINDOWS[cfg.lcb_window]
        window = (cfg.lcb_window, start, end)
    opts = ConvertOptions(
        prompt_style=cfg.prompt_style,
        data_source=cfg.data_source,
        seed=cfg.seed,
        code_timeout=cfg.code_timeout,
        max_test_cases=cfg.max_test_cases,
        lcb_window=window,
    )
    gold = GoldValidator(workers=cfg.workers) if cfg.builder in ("rl-math", "eval-sets") else None
    code_formats: Counter[str] = Counter()
    index = 0

    try:
        with AtomicParquetWriter(cfg.output, schema) as writer:
            for inp, shape in files:
                src = shape.name
                written_before = index
                converted = _convert_rows(cfg, inp, shape, opts, report)
                while chunk := list(itertools.islice(converted, _CHUNK_ROWS)):
                    survivors = []
                    for row_no, item in chunk:
                        if isinstance(item, Rejected):
                            report.reject(src, str(inp.path), row_no, item.reason)
                        elif isinstance(item, Filtered):
                            report.drop(src, item.filter_name)
                        else:
                            item.source = src
                            dropped_by = next((f.name for f in cheap_filters if f.drop_reason(item)), None)
                            if dropped_by:
                                report.drop(src, dropped_by)
                            else:
                                survivors.append((row_no, item))
                    if gold is not None:
                        gold.prefetch(item.gold for _, item in survivors if item.gold is not None)
                    for row_no, item in survivors:
                        if gold is not None and item.gold is not None and (reason := gold.failure(item.gold)):
                            report.reject(src, str(inp.path), row_no, f"{reason} (gold {item.gold!r})")
                            continue
                        if token_filter is not None and token_filter.drop_reason(item):
                            report.drop(src, token_filter.name)
                            continue
                        if item.test_format:
                            code_formats[item.test_format] += 1
                        report.histograms["problem_chars"].add(len(item.problem))
                        if item.response is not None:
                            report.histograms["response_chars"].add(len(item.response))
                        if token_filter is not None:
                            report.histograms["tokens"].add(token_filter.last_length)
                        for k in range(cfg.repeat):
                            writer.write(_row(cfg, item, src, index, k))
                            index += 1
                            report.written(src, cfg.split_name)
                report.inputs.append(
                    {
                        "path": str(inp.path),
                        "sha256": file_sha256(inp.path),
                        "shape": src,
                        "licence": shape.licence,
                        "rows_written": index - written_before,
                    }
                )
            sha256 = writer.close_tmp()
            report.sections["output"] = {
                "path": str(cfg.output),
                "rows": index,
                "sha256": sha256,
                "schema": str(schema).splitlines(),
            }
            report.sections["config"] = {
                k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()
            }
            for f in filters:
                if isinstance(f, DecontaminationFilter):
                    report.sections["decontamination"] = f.summary()
                else:
                    report.sections.setdefault("filter_details", {})[f.name] = f.summary()
            if gold is not None:
                report.sections["gold_validation"] = gold.summary()
            if code_formats:
                report.sections["code_formats"] = dict(sorted(code_formats.items()))
            result = report.as_dict()
            write_json_atomic(cfg.report_path, result)
            write_text_atomic(cfg.report_path.with_suffix(".txt"), report.as_text())
            writer.commit()
    finally:
        if gold is not None:
            gold.close()
    print(report.as_text(), file=sys.stderr, end="")
    return result
