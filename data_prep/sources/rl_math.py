"""rl-math source shapes: KlearReasoner-MathSub-30K / Skywork-OR1 (verl layout), G2RL's MATH train,
DeepScaleR, AceReason-Math and NuminaMath (1.5 and CoT). Column names: docs/data-and-eval.md,
"Supported source formats".

Skywork-OR1 stores the accepted answers as a list literal in a string (`'["2", "x=2"]'`); a row with
several different answers keeps them all (the reward accepts any one), and the output ground truth
column is then a list of strings for the whole file (one-element lists for single golds).
NuminaMath-1.5's `problem_is_valid` / `solution_is_valid` flags must be "Yes"; other rows are rejected
with the flag's value as the reason.

Output data_source: "MATH-TTT" for MATH train, "math_longcot_math_verify" (Klear's math verifier
name) for the rest, unless --data-source overrides it. Native prompts: MATH train keeps its SimpleRL
system prompt; the others are the raw problem as one user turn (Klear uses no \\boxed instruction).
"""

from __future__ import annotations

import ast
import hashlib
import json

import pyarrow as pa

from data_prep.errors import RowError
from data_prep.sources.base import (
    ConvertOptions,
    Example,
    SourceShape,
    answer_string,
    chat_turns,
    field_of,
    last_boxed,
    math_prompt,
    user_text,
)

KLEAR_MATH_DATA_SOURCE = "math_longcot_math_verify"
MATH_TTT_DATA_SOURCE = "MATH-TTT"
# NuminaMath-1.5 marks unanswerable rows with these answers; math-verify would happily parse "proof"
# as a product of symbols, so they are rejected by name.
_NON_ANSWERS = {"proof", "notfound", "none", ""}


def content_id(prefix: str, text: str) -> str:
    return f"{prefix}-{hashlib.blake2b(text.encode('utf-8'), digest_size=6).hexdigest()}"


def _math_example(
    source_id: str, problem: str, gold: str, prompt: list[dict], data_source: str, extra: dict | None = None
) -> Example:
    return Example(
        source_id=source_id,
        problem=problem,
        gold=gold,
        row={
            "data_source": data_source,
            "prompt": prompt,
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": gold},
            "extra_info": extra or {},
        },
    )


def _prompt_for(problem: str, opts: ConvertOptions, native: list[dict] | None) -> list[dict]:
    if opts.prompt_style == "native" and native is not None:
        return native
    return math_prompt(problem, "simplerl" if opts.prompt_style == "simplerl" else "raw")


def accepted_golds(value) -> list[str]:
    """The accepted answers of a verl-layout ground truth: a plain answer, a list, or a list literal in
    a string (JSON or Python syntax, as Skywork-OR1 writes it). Duplicates are dropped, order kept."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            try:
                parsed = ast.literal_eval(value.strip())  # literals only: never evaluates code
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                parsed = value  # an interval such as "[0, 1)" is one answer, not a list
        if isinstance(parsed, list) and not any(isinstance(g, (list, dict)) for g in parsed):
            value = parsed
    values = value if isinstance(value, list) else [value]
    golds = list(dict.fromkeys(answer_string(g, "reward_model.ground_truth") for g in values))
    if not golds:
        raise RowError("reward_model.ground_truth is an empty list: no accepted answer")
    return golds


def _convert_verl_rl(row: dict, opts: ConvertOptions):
    turns = chat_turns(field_of(row, "prompt", (list, str)), "prompt")
    problem = user_text(turns, "prompt")
    gt = field_of(row, "reward_model", dict)
    if "ground_truth" not in gt:
        raise RowError("missing field 'reward_model.ground_truth'")
    golds = accepted_golds(gt["ground_truth"])
    orig_ds = field_of(row, "data_source")
    info = row.get("extra_info") if isinstance(row.get("extra_info"), dict) else {}
    number = info.get("index", row.get("__index_level_0__"))
    source_id = f"{orig_ds}-{number}" if number is not None else content_id(orig_ds, problem)
    native = [t for t in turns if t["role"] in ("system", "user")]
    ex = _math_example(
        source_id,
        problem,
        golds[0],
        _prompt_for(problem, opts, native),
        opts.data_source or KLEAR_MATH_DATA_SOURCE,
        {"original_data_source": orig_ds},
    )
    ex.golds = golds
    ex.row["reward_model"]["ground_truth"] = golds if len(golds) > 1 else golds[0]
    yield ex


def file_has_gold_lists(inp) -> bool:
    """Whether any row of a verl-layout file lists several different accepted answers (decides the
    output's ground-truth column type before the first row is written)."""
    for _, row in inp.rows():
        if isinstance(row, dict) and isinstance(row.get("reward_model"), dict):
            try:
                if len(accepted_golds(row["reward_model"].get("ground_truth"))) > 1:
                    return True
            except RowError:
                continue
    return False


def _convert_math_train(row: dict, opts: ConvertOptions):
    turns = chat_turns(field_of(row, "prompt", (list, str)), "prompt")
    problem = user_text(turns, "prompt")
    gold = answer_string(
        field_of(row, "reward_model.ground_truth", (str, int, float)), "reward_model.ground_truth"
    )
    source_id = str(field_of(row, "extra_info.index", (str, int)))
    yield _math_example(
        source_id,
        problem,
        gold,
        _prompt_for(problem, opts, turns),
        opts.data_source or MATH_TTT_DATA_SOURCE,
        {"level": field_of(row, "level"), "type": field_of(row, "type")},
    )


_VALIDITY_FLAGS = ("problem_is_valid", "solution_is_valid")


def _convert_problem_answer(prefix: str):
    def convert(row: dict, opts: ConvertOptions):
        problem = field_of(row, "problem")
        for flag in _VALIDITY_FLAGS:  # NuminaMath-1.5 marks broken problems/solutions
            if flag in row and str(row[flag]).strip().lower() != "yes":
                raise RowError(
                    f"numinamath_{flag.removesuffix('_is_valid')}_invalid: {flag} is {row[flag]!r}"
                )
        answer = answer_string(field_of(row, "answer", (str, int, float), allow_empty=True), "answer")
        if answer.lower() in _NON_ANSWERS:
            raise RowError(f"answer is {answer!r}, not a checkable answer")
        if row.get("question_type") == "proof":
            raise RowError("question_type is 'proof': no checkable answer")
        yield _math_example(
            content_id(prefix, problem),
            problem,
            answer,
            _prompt_for(problem, opts, None),
            opts.data_source or KLEAR_MATH_DATA_SOURCE,
        )

    return convert


def _convert_numinamath_cot(row: dict, opts: ConvertOptions):
    problem = field_of(row, "problem")
    gold = last_boxed(field_of(row, "solution"))
    if not gold:
        raise RowError("solution has no \\boxed{...} final answer")
    yield _math_example(
        content_id("numinamath", problem),
        problem,
        gold,
        _prompt_for(problem, opts, None),
        opts.data_source or KLEAR_MATH_DATA_SOURCE,
    )


SHAPES = [
    SourceShape(
        name="verl_rl_math",
        builder="rl-math",
        signature=frozenset({"data_source", "prompt", "ability", "reward_model"}),
        required=frozenset({"data_source", "prompt", "reward_model"}),
        licence="Apache-2.0 (KlearReasoner-MathSub-30K); Skywork-OR1-RL-Data: see its card",
        convert=_convert_verl_rl,
        extra_fields=(("original_data_source", pa.string()),),
        gold_lists=True,
        description="verl layout: KlearReasoner-MathSub-30K, Skywork-OR1-RL-Data (math split)",
    ),
    SourceShape(
        name="math_train",
        builder="rl-math",
        signature=frozenset({"prompt", "data_source", "level", "type", "reward_model"}),
        required=frozenset({"prompt", "level", "type", "reward_model", "extra_info"}),
        licence="MIT (MATH, Hendrycks et al.; G2RL copy)",
        convert=_convert_math_train,
        extra_fields=(("level", pa.string()), ("type", pa.string())),
        description="G2RL MATH train (math_train.parquet)",
    ),
    SourceShape(
        name="deepscaler",
        builder="rl-math",
        signature=frozenset({"problem", "answer", "solution"}),
        required=frozenset({"problem", "answer"}),
        licence="MIT (DeepScaleR-Preview-Dataset)",
        convert=_convert_problem_answer("deepscaler"),
    ),
    SourceShape(
        name="acereason_math",
        builder="rl-math",
        signature=frozenset({"problem", "answer"}),
        required=frozenset({"problem", "answer"}),
        licence="CC-BY-4.0 (nvidia/AceReason-Math)",
        convert=_convert_problem_answer("acereason_math"),
        description="AceReason-Math ({problem, answer})",
    ),
    SourceShape(
        name="numinamath",
        builder="rl-math",
        signature=frozenset({"problem", "solution", "answer", "problem_type", "question_type", "source"}),
        required=frozenset({"problem", "answer"}),
        licence="Apache-2.0 (NuminaMath-1.5)",
        convert=_convert_problem_answer("numinamath"),
        description="NuminaMath-1.5",
    ),
    SourceShape(
        name="numinamath_cot",
        builder="rl-math",
        signature=frozenset({"problem", "solution", "source", "messages"}),
        required=frozenset({"problem", "solution"}),
        licence="Apache-2.0 (NuminaMath-CoT)",
        convert=_convert_numinamath_cot,
        description="NuminaMath-CoT (gold = last \\boxed in the solution)",
    ),
]
