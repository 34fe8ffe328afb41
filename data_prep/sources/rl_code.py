"""rl-code source shapes: KlearReasoner-CodeSub-15K, TACO, APPS, CodeContests and LiveCodeBench.

Every output row gets data_source "coder1_longcot" (Klear's code verifier name; overridable) and a
ground truth in the layout of `data_prep.code_tests`. Rebuilt prompts use Klear's preamble followed by
the problem statement (and the starter code for call-based problems).
"""

from __future__ import annotations

import pyarrow as pa

from data_prep import code_tests
from data_prep.sources.base import ConvertOptions, Example, SourceShape, chat_turns, field_of, user_text
from data_prep.sources.rl_math import content_id

KLEAR_CODE_DATA_SOURCE = "coder1_longcot"
KLEAR_CODE_PREAMBLE = (
    "You are an expert Python programmer. You will be given a question (problem specification) and will "
    "generate a correct Python program that matches the specification and passes all tests."
)


def code_prompt(problem: str, starter_code: str | None) -> list[dict]:
    text = f"{KLEAR_CODE_PREAMBLE}\n\n{problem.strip()}"
    if starter_code and starter_code.strip():
        text += (
            "\n\nYou will use the following starter code to write the solution to the problem and "
            f"enclose your code within delimiters.\n```python\n{starter_code.rstrip()}\n```"
        )
    return [{"role": "user", "content": text}]


def _code_example(
    source_id: str,
    problem: str,
    prompt: list[dict],
    spec: dict,
    opts: ConvertOptions,
    extra: dict | None = None,
) -> Example:
    spec = code_tests.with_limits(spec, opts.code_timeout, opts.max_test_cases)
    fmt = code_tests.spec_format(spec)
    n_tests = code_tests.count_tests(spec)
    return Example(
        source_id=source_id,
        problem=problem,
        num_tests=n_tests,
        test_format=fmt,
        row={
            "data_source": opts.data_source or KLEAR_CODE_DATA_SOURCE,
            "prompt": prompt,
            "ability": "code",
            "reward_model": {"style": "rule", "ground_truth": code_tests.dumps_spec(spec)},
            "extra_info": {"test_format": fmt, "num_tests": n_tests, **(extra or {})},
        },
    )


def _convert_klear(row: dict, opts: ConvertOptions):
    turns = chat_turns(field_of(row, "prompt", (list, str)), "prompt")
    problem = user_text(turns, "prompt")
    spec = code_tests.from_klear_ground_truth(field_of(row, "reward_model.ground_truth", (str, dict)))
    # the Klear prompt carries the preamble already; dedup/decontaminate on the statement alone
    statement = problem.removeprefix(KLEAR_CODE_PREAMBLE).strip()
    yield _code_example(str(field_of(row, "hash", (str, int))), statement, turns, spec, opts)


def _convert_apps_like(prefix: str, id_key: str | None):
    def convert(row: dict, opts: ConvertOptions):
        question = field_of(row, "question")
        spec = code_tests.from_apps_input_output(field_of(row, "input_output", (str, dict), allow_empty=True))
        starter = row.get("starter_code") if isinstance(row.get("starter_code"), str) else None
        source_id = (
            f"{prefix}-{row[id_key]}"
            if id_key and row.get(id_key) is not None
            else content_id(prefix, question)
        )
        difficulty = row.get("difficulty")
        yield _code_example(
            source_id,
            question,
            code_prompt(question, starter),
            spec,
            opts,
            {"difficulty": None if difficulty is None else str(difficulty)},
        )

    return convert


def _convert_codecontests(row: dict, opts: ConvertOptions):
    description = field_of(row, "description")
    spec = code_tests.from_codecontests(row)
    name = row.get("name") if isinstance(row.get("name"), str) else None
    source_id = f"codecontests-{name}" if name else content_id("codecontests", description)
    difficulty = row.get("difficulty")
    yield _code_example(
        source_id,
        description,
        code_prompt(description, None),
        spec,
        opts,
        {"difficulty": None if difficulty is None else str(difficulty)},
    )


def _convert_lcb(row: dict, opts: ConvertOptions):
    content = field_of(row, "question_content")
    spec = code_tests.from_livecodebench(row)
    starter = row.get("starter_code") if isinstance(row.get("starter_code"), str) else None
    yield _code_example(
        f"lcb-{field_of(row, 'question_id', (str, int))}",
        content,
        code_prompt(content, starter),
        spec,
        opts,
        {"difficulty": str(row.get("difficulty")) if row.get("difficulty") else None},
    )


_DIFFICULTY = (("difficulty", pa.string()),)
_BASE_FIELDS = (("test_format", pa.string()), ("num_tests", pa.int64()))

SHAPES = [
    SourceShape(
        name="klear_codesub",
        builder="rl-code",
        signature=frozenset({"hash", "ability", "data_source", "prompt", "reward_model"}),
        required=frozenset({"hash", "prompt", "reward_model"}),
        licence="Apache-2.0 (KlearReasoner-CodeSub-15K)",
        convert=_convert_klear,
        extra_fields=_BASE_FIELDS,
    ),
    SourceShape(
        name="taco",
        builder="rl-code",
        signature=frozenset({"question", "input_output", "skill_types"}),
        required=frozenset({"question", "input_output"}),
        licence="Apache-2.0 (TACO)",
        convert=_convert_apps_like("taco", None),
        extra_fields=_BASE_FIELDS + _DIFFICULTY,
    ),
    SourceShape(
        name="apps",
        builder="rl-code",
        signature=frozenset({"problem_id", "question", "input_output"}),
        required=frozenset({"problem_id", "question", "input_output"}),
        licence="MIT (APPS)",
        convert=_convert_apps_like("apps", "problem_id"),
        extra_fields=_BASE_FIELDS + _DIFFICULTY,
    ),
    SourceShape(
        name="codecontests",
        builder="rl-code",
        signature=frozenset({"description", "public_tests", "private_tests", "generated_tests"}),
        required=frozenset({"description", "public_tests"}),
        licence="CC-BY-4.0 (CodeContests)",
        convert=_convert_codecontests,
        extra_fields=_BASE_FIELDS + _DIFFICULTY,
    ),
    SourceShape(
        name="livecodebench",
        builder="rl-code",
        signature=frozenset({"question_content", "public_test_cases", "private_test_cases", "contest_date"}),
        required=frozenset({"question_content", "question_id", "public_test_cases"}),
        licence="CC-BY-4.0 (LiveCodeBench code_generation_lite); check its terms",
        convert=_convert_lcb,
        extra_fields=_BASE_FIELDS + _DIFFICULTY,
    ),
]
