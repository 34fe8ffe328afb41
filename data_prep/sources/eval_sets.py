"""eval-sets source shapes: the shared benchmark files (AIME24, AIME25, HMMT Feb 2025, AMC23,
MATH-500; parsed by `g2rl_verl.eval.datasets.parse_row`, their one parser) plus GPQA-Diamond,
MMLU-Pro and LiveCodeBench. Formats: docs/data-and-eval.md, "Benchmark files".

data_source names are the evaluation names the reward router knows. Native prompts:
math is the raw question as one user turn (Klear's protocol; --prompt-style simplerl adds G2RL's
system prompt); multiple choice always uses the SimpleRL system prompt with one option per line
(docs/data-and-eval.md); LiveCodeBench uses its generic chat format (system preamble, ### Question,
### Format, ### Answer).
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime

import pyarrow as pa

from data_prep import code_tests
from data_prep.errors import RowError
from data_prep.sources.base import (
    ConvertOptions,
    Example,
    Filtered,
    SourceShape,
    field_of,
    math_prompt,
)
from data_prep.sources.rl_code import KLEAR_CODE_PREAMBLE
from g2rl_verl.eval.datasets import LCB_WINDOWS, SIMPLERL_SYSTEM_PROMPT, BenchmarkRowError, parse_row

__all__ = ["LCB_WINDOWS", "SHAPES", "gpqa_option_order", "lcb_prompt"]

LETTERS = "ABCDEFGHIJ"


def _math_eval(
    data_source: str, source_id: str, problem: str, gold: str, opts: ConvertOptions, extra: dict | None = None
) -> Example:
    style = "simplerl" if opts.prompt_style == "simplerl" else "raw"
    return Example(
        source_id=source_id,
        problem=problem,
        gold=gold,
        row={
            "data_source": data_source,
            "prompt": math_prompt(problem, style),
            "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": gold},
            "extra_info": extra or {},
        },
    )


def _benchmark_converter(fmt: str):
    """data_prep's view of a shared benchmark file: the one parser in g2rl_verl.eval.datasets."""

    def convert(row: dict, opts: ConvertOptions):
        try:
            item = parse_row(fmt, row)
        except BenchmarkRowError as e:
            raise RowError(str(e)) from None
        yield _math_eval(fmt, item.problem_id, item.question, item.gold, opts, dict(item.extra))

    return convert


def _mc_example(
    data_source: str,
    source_id: str,
    question: str,
    options: list[str],
    gold_letter: str,
    category: str | None,
) -> Example:
    lines = "\n".join(f"{LETTERS[i]}) {opt}" for i, opt in enumerate(options))
    return Example(
        source_id=source_id,
        problem=question,
        row={
            "data_source": data_source,
            "prompt": [
                {"role": "system", "content": SIMPLERL_SYSTEM_PROMPT},
                {"role": "user", "content": f"{question}\n\n{lines}"},
            ],
            "ability": "mc",
            "reward_model": {"style": "rule", "ground_truth": gold_letter},
            "extra_info": {"category": category},
        },
    )


def gpqa_option_order(record_id: str, seed: int) -> list[int]:
    """Permutation of [correct, wrong1, wrong2, wrong3] for one question: seeded per (id, seed)."""
    digest = hashlib.sha256(f"{record_id}:{seed}".encode()).digest()
    order = [0, 1, 2, 3]
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def _convert_gpqa(row: dict, opts: ConvertOptions):
    question = field_of(row, "Question").strip()
    choices = [field_of(row, "Correct Answer")] + [field_of(row, f"Incorrect Answer {i}") for i in (1, 2, 3)]
    record_id = field_of(row, "Record ID")
    order = gpqa_option_order(record_id, opts.seed)
    options = [choices[k].strip() for k in order]
    gold = LETTERS[order.index(0)]
    domain = row.get("High-level domain") if isinstance(row.get("High-level domain"), str) else None
    yield _mc_example("gpqa_diamond", record_id, question, options, gold, domain)


def _convert_mmlu_pro(row: dict, opts: ConvertOptions):
    question = field_of(row, "question").strip()
    options = field_of(row, "options", list)
    if not 2 <= len(options) <= 10 or not all(isinstance(o, str) for o in options):
        raise RowError(f"options must be 2-10 strings, got {len(options)}")
    answer = field_of(row, "answer")
    index = field_of(row, "answer_index", int)
    if not 0 <= index < len(options) or LETTERS[index] != answer:
        raise RowError(f"answer {answer!r} does not match answer_index {index}")
    yield _mc_example(
        "mmlu_pro",
        f"mmlu_pro-{field_of(row, 'question_id', (int, str))}",
        question,
        [o.strip() for o in options],
        answer,
        row.get("category"),
    )


def lcb_prompt(content: str, starter_code: str | None) -> list[dict]:
    if starter_code and starter_code.strip():
        fmt = (
            "You will use the following starter code to write the solution to the problem and enclose "
            f"your code within delimiters.\n```python\n{starter_code.rstrip()}\n```"
        )
    else:
        fmt = (
            "Read the inputs from stdin solve the problem and write the answer to stdout (do not directly "
            "test on the sample inputs). Enclose your code within delimiters as follows. Ensure that when "
            "the python program runs, it reads the inputs, runs the algorithm and writes output to STDOUT."
            "\n```python\n# YOUR CODE HERE\n```"
        )
    user = f"### Question:\n{content.strip()}\n\n### Format: {fmt}\n\n### Answer: (use the provided format with backticks)\n\n"
    return [{"role": "system", "content": KLEAR_CODE_PREAMBLE}, {"role": "user", "content": user}]


def _parse_day(value: str, what: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{what} {value!r} is not an ISO date") from None


def _convert_lcb(row: dict, opts: ConvertOptions):
    if opts.lcb_window is None:
        raise RowError("LiveCodeBench row but no --lcb-window given")
    name, start, end = opts.lcb_window
    date = _parse_day(str(field_of(row, "contest_date", (str, datetime))), "contest_date")
    # upstream parses window ends as midnight, so the end date excludes problems later that day
    if not (datetime.fromisoformat(start) <= date <= datetime.fromisoformat(end)):
        yield Filtered("lcb_window")
        return
    content = field_of(row, "question_content")
    spec = code_tests.from_livecodebench(row)
    starter = row.get("starter_code") if isinstance(row.get("starter_code"), str) else None
    n_tests = code_tests.count_tests(spec)
    yield Example(
        source_id=f"lcb-{field_of(row, 'question_id', (str, int))}",
        problem=content,
        num_tests=n_tests,
        test_format=code_tests.spec_format(spec),
        row={
            "data_source": f"lcb_{name}",
            "prompt": lcb_prompt(content, starter),
            "ability": "code",
            "reward_model": {"style": "rule", "ground_truth": code_tests.dumps_spec(spec)},
            "extra_info": {
                "difficulty": str(row.get("difficulty")) if row.get("difficulty") else None,
                "contest_date": date.date().isoformat(),
            },
        },
    )


_DIFF = (("difficulty", pa.string()),)
SHAPES = [
    SourceShape(
        "aime24",
        "eval-sets",
        frozenset({"messages", "meta.answer", "meta.solution", "meta.Part"}),
        frozenset({"messages", "meta.answer", "meta.unique_id"}),
        "Apache-2.0 (KlearReasoner benchmarks)",
        _benchmark_converter("aime24"),
    ),
    SourceShape(
        "aime25",
        "eval-sets",
        frozenset({"messages", "meta.solution", "meta.Part"}),
        frozenset({"messages", "meta.solution", "meta.unique_id", "meta.Part"}),
        "Apache-2.0 (KlearReasoner benchmarks)",
        _benchmark_converter("aime25"),
    ),
    SourceShape(
        "hmmt_feb2025",
        "eval-sets",
        frozenset({"id", "messages", "solution", "answer"}),
        frozenset({"id", "messages", "answer"}),
        "Apache-2.0 (KlearReasoner benchmarks)",
        _benchmark_converter("hmmt_feb2025"),
    ),
    SourceShape(
        "amc23",
        "eval-sets",
        frozenset({"id", "problem", "question", "answer", "url"}),
        frozenset({"id", "problem", "answer"}),
        "MIT (Qwen2.5-Math evaluation data)",
        _benchmark_converter("amc23"),
        (("url", pa.string()),),
    ),
    SourceShape(
        "math500",
        "eval-sets",
        frozenset({"problem", "answer", "unique_id"}),
        frozenset({"problem", "answer", "unique_id"}),
        "MIT (rllm math.json)",
        _benchmark_converter("math500"),
        (("level", pa.int64()), ("subject", pa.string())),
    ),
    SourceShape(
        "gpqa_diamond",
        "eval-sets",
        frozenset(
            {"Question", "Correct Answer", "Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3"}
        ),
        frozenset(
            {
                "Question",
                "Correct Answer",
                "Incorrect Answer 1",
                "Incorrect Answer 2",
                "Incorrect Answer 3",
                "Record ID",
            }
        ),
        "CC-BY-4.0 (GPQA; gated: do not redistribute)",
        _convert_gpqa,
        (("category", pa.string()),),
    ),
    SourceShape(
        "mmlu_pro",
        "eval-sets",
        frozenset({"question_id", "question", "options", "answer", "answer_index"}),
        frozenset({"question_id", "question", "options", "answer", "answer_index"}),
        "MIT (MMLU-Pro)",
        _convert_mmlu_pro,
        (("category", pa.string()),),
    ),
    SourceShape(
        "livecodebench",
        "eval-sets",
        frozenset({"question_content", "public_test_cases", "private_test_cases", "contest_date"}),
        frozenset({"question_content", "question_id", "public_test_cases", "contest_date"}),
        "CC-BY-4.0 (LiveCodeBench); check its terms",
        _convert_lcb,
        _DIFF + (("contest_date", pa.string()),),
    ),
]
