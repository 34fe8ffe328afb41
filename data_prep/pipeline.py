"""The build pipeline shared by all builders: resolve inputs, recognise their shapes, convert rows,
validate golds, apply filters in order, write the parquet atomically and write the report.

Order of the steps (each counted in the report): when decontaminating, a first pass over the inputs
counts boilerplate n-grams; then conversion (malformed rows rejected), dedup_exact,
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

from data_prep.decontam import DecontaminationIndex
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
    boilerplate_rows: int = 3  # an n-gram in this many distinct training problems is boilerplate
    min_shared_ngrams: int = 3  # non-boilerplate n-grams shared with one eval item to count as a match
    min_coverage: float = 0.9  # or: shared n-grams covering this share of both texts
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
        if self.boilerplate_rows < 1 or self.min_shared_ngrams < 1:
            bad("--boilerplate-rows and --min-shared-ngrams must be >= 1")
        if not 0.0 < self.min_coverage <= 1.0:
            bad(f"--min-coverage must be in (0, 1], got {self.min_coverage}")
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
            bad(
                f"--data-source {self.data_source!r} is not a name the reward router knows (see docs/rewards.md)"
            )
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


def _decontamination_index(cfg: BuildConfig, files: list, opts: ConvertOptions) -> DecontaminationIndex:
    """Index the evaluation files, then count boilerplate n-grams over the whole training corpus (the
    first of the two passes decontamination needs; see `data_prep.decontam`)."""
    index = DecontaminationIndex(cfg.ngram, cfg.boilerplate_rows, cfg.min_shared_ngrams, cfg.min_coverage)
    for spec in cfg.decontaminate:
        path = Path(spec)
        if not path.is_file():
            raise DataPrepError(f"--decontaminate {spec!r}: no such file")
        index.add_file(path)
    for inp, shape in files:
        for _, raw in tqdm(
            inp.rows(),
            total=inp.num_rows,
            desc=f"boilerplate n-grams {inp.path.name}",
            file=sys.stderr,
            disable=not cfg.progress,
            mininterval=1.0,
        ):
            for item in _convert_quietly(shape, raw, opts):
                index.observe_training(item.problem)
    return index


def _convert_quietly(shape, raw, opts: ConvertOptions) -> list[Example]:
    """The Examples of one row, or none when the row is unusable (the main pass reports it)."""
    if isinstance(raw, BadLine):
        return []
    try:
        return [item for item in shape.convert(raw, opts) if isinstance(item, Example)]
    except RowError:
        return []


def _make_filters(cfg: BuildConfig, files: list, opts: ConvertOptions) -> list:
    filters: list = []
    if cfg.builder == "eval-sets":
        return filters
    sft_build = cfg.builder == "sft-longcot"
    if cfg.dedup:
        filters += [DedupFilter(False, sft_build), DedupFilter(True, sft_build)]
    if sft_build:
        filters.append(ResponsesPerPromptFilter(cfg.max_responses_per_prompt))
    if cfg.decontaminate:
        filters.append(DecontaminationFilter(_decontamination_index(cfg, files, opts)))
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


def _row(cfg: BuildConfig, ex: Example, source: str, index: int, repeat_idx: int, gold_lists: bool) -> dict:
    if cfg.builder == "sft-longcot":
        return {**ex.row, "id": ex.source_id}
    extra = dict(ex.row["extra_info"])
    extra.update(split=cfg.split_name, index=index, source_id=ex.source_id, source=source)
    if cfg.builder == "eval-sets":
        extra["repeat"] = repeat_idx
    row = {**ex.row, "extra_info": extra}
    if gold_lists:  # the file's ground truths are lists: a single gold is a one-element list
        gt = row["reward_model"]["ground_truth"]
        row["reward_model"] = {**row["reward_model"], "ground_truth": gt if isinstance(gt, list) else [gt]}
    return row


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


def _open_inputs(cfg: BuildConfig) -> list:
    """(InputFile, SourceShape) per resolved input; every shape is recognised before anything is written."""
    files = []
    for path in resolve_inputs(cfg.inputs):
        inp = open_input(path)
        files.append((inp, detect_shape(path, inp.columns, SHAPES[cfg.builder], cfg.builder)))
    if cfg.builder == "eval-sets" and any(s.name == "livecodebench" for _, s in files) and not cfg.lcb_window:
        raise DataPrepError("a LiveCodeBench input needs --lcb-window v5 or v6 (the contest-date window)")
    return files


def _convert_options(cfg: BuildConfig) -> ConvertOptions:
    window = None
    if cfg.lcb_window:
        _, start, end = eval_sets.LCB_WINDOWS[cfg.lcb_window]
        window = (cfg.lcb_window, start, end)
    return ConvertOptions(
        prompt_style=cfg.prompt_style,
        data_source=cfg.data_source,
        seed=cfg.seed,
        code_timeout=cfg.code_timeout,
        max_test_cases=cfg.max_test_cases,
        lcb_window=window,
    )


def _output_schema(cfg: BuildConfig, files: list) -> pa.Schema:
    if cfg.builder == "sft-longcot":
        return SFT_SCHEMA
    extra = (("repeat", pa.int64()),) if cfg.builder == "eval-sets" else ()
    gold_lists = any(shape.gold_lists and rl_math.file_has_gold_lists(inp) for inp, shape in files)
    return rl_schema([s for _, s in files], extra, gold_lists)


class _FileBuild:
    """Converts, filters, checks and writes the rows of the input files into one writer.

    Cheap filters run before the math-verify gold check and the tokenizer-based length filter after
    it, so neither expensive step is spent on rows that are dropped anyway.
    """

    def __init__(self, cfg: BuildConfig, report: Report, filters: list, gold: GoldValidator | None, writer):
        self.cfg, self.report, self.gold, self.writer = cfg, report, gold, writer
        self.token_filter = next((f for f in filters if isinstance(f, TokenLengthFilter)), None)
        self.cheap_filters = [f for f in filters if f is not self.token_filter]
        self.code_formats: Counter[str] = Counter()
        self.index = 0  # rows written so far (the next extra_info.index)
        self.gold_lists = (
            pa.types.is_list(writer.schema.field("reward_model").type.field("ground_truth").type)
            if cfg.builder != "sft-longcot"
            else False
        )

    def run_file(self, inp, shape, opts: ConvertOptions) -> None:
        written_before = self.index
        converted = _convert_rows(self.cfg, inp, shape, opts, self.report)
        while chunk := list(itertools.islice(converted, _CHUNK_ROWS)):
            survivors = self._cheap_pass(chunk, inp, shape.name)
            if self.gold is not None:
                self.gold.prefetch(
                    g for _, item in survivors for g in (item.golds or [item.gold]) if g is not None
                )
            for row_no, item in survivors:
                self._finish_row(row_no, item, inp, shape.name)
        self.report.inputs.append(
            {
                "path": str(inp.path),
                "sha256": file_sha256(inp.path),
                "shape": shape.name,
                "licence": shape.licence,
                "rows_written": self.index - written_before,
            }
        )

    def _cheap_pass(self, chunk: list, inp, src: str) -> list:
        """Count conversion rejects and source-level drops; apply the cheap filters; return survivors."""
        survivors = []
        for row_no, item in chunk:
            if isinstance(item, Rejected):
                self.report.reject(src, str(inp.path), row_no, item.reason)
            elif isinstance(item, Filtered):
                self.report.drop(src, item.filter_name)
            else:
                item.source = src
                item.location = f"{inp.path}:{row_no}"
                dropped_by = next((f.name for f in self.cheap_filters if f.drop_reason(item)), None)
                if dropped_by:
                    self.report.drop(src, dropped_by)
                else:
                    survivors.append((row_no, item))
        return survivors

    def _finish_row(self, row_no: int, item: Example, inp, src: str) -> None:
        if self.gold is not None and item.gold is not None:
            for gold in item.golds or [item.gold]:
                if reason := self.gold.failure(gold):
                    self.report.reject(src, str(inp.path), row_no, f"gold {reason} (gold {gold!r})")
                    return
        if self.token_filter is not None and self.token_filter.drop_reason(item):
            self.report.drop(src, self.token_filter.name)
            return
        if item.test_format:
            self.code_formats[item.test_format] += 1
        self.report.histograms["problem_chars"].add(len(item.problem))
        if item.response is not None:
            self.report.histograms["response_chars"].add(len(item.response))
        if self.token_filter is not None:
            self.report.histograms["tokens"].add(self.token_filter.last_length)
        for k in range(self.cfg.repeat):
            self.writer.write(_row(self.cfg, item, src, self.index, k, self.gold_lists))
            self.index += 1
            self.report.written(src, self.cfg.split_name)


def _fill_report_sections(
    report: Report, cfg: BuildConfig, run: _FileBuild, filters: list, schema: pa.Schema, sha256: str
) -> None:
    report.sections["output"] = {
        "path": str(cfg.output),
        "rows": run.index,
        "sha256": sha256,
        "schema": str(schema).splitlines(),
    }
    report.sections["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}
    for f in filters:
        if isinstance(f, DecontaminationFilter):
            report.sections["decontamination"] = f.summary()
        else:
            report.sections.setdefault("filter_details", {})[f.name] = f.summary()
    if run.gold is not None:
        report.sections["gold_validation"] = run.gold.summary()
    if run.code_formats:
        report.sections["code_formats"] = dict(sorted(run.code_formats.items()))


def build(cfg: BuildConfig) -> dict | None:
    """Run one build; returns the report dict, or None when the output exists and --overwrite is off."""
    cfg.validate()
    if cfg.output.exists() and not cfg.overwrite:
        print(f"data_prep: {cfg.output} exists; skipping (pass --overwrite to rebuild)", file=sys.stderr)
        return None
    files = _open_inputs(cfg)
    opts = _convert_options(cfg)
    report = Report(cfg.builder)
    filters = _make_filters(cfg, files, opts)
    schema = _output_schema(cfg, files)
    gold = GoldValidator(workers=cfg.workers) if cfg.builder in ("rl-math", "eval-sets") else None
    try:
        with AtomicParquetWriter(cfg.output, schema) as writer:
            run = _FileBuild(cfg, report, filters, gold, writer)
            for inp, shape in files:
                run.run_file(inp, shape, opts)
            _fill_report_sections(report, cfg, run, filters, schema, writer.close_tmp())
            result = report.as_dict()
            write_json_atomic(cfg.report_path, result)
            write_text_atomic(cfg.report_path.with_suffix(".txt"), report.as_text())
            writer.commit()
    finally:
        if gold is not None:
            gold.close()
    print(report.as_text(), file=sys.stderr, end="")
    return result
