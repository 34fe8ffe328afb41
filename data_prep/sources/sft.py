"""sft-longcot source shapes: OpenThoughts (114k and 3), OpenR1-Math, NuminaMath, AceReason-1.1-SFT,
OpenCodeReasoning, plus generic chat (`messages`) rows.

Every response is rewritten into the R1 layout `<think>\\n{reasoning}\\n</think>\\n\\n{answer}`.
Source system prompts are dropped (they describe the source's own tag format, which we rewrite).
A response with no closing think tag (truncated) or an empty answer is rejected with that reason.
NuminaMath has no reasoning trace: its worked solution becomes the reasoning and the last \\boxed
answer the final answer (a short-CoT source, as the issue lists it).
"""

from __future__ import annotations

from data_prep.errors import RowError
from data_prep.sources.base import (
    ConvertOptions,
    Example,
    Rejected,
    SourceShape,
    chat_turns,
    field_of,
    last_boxed,
)
from data_prep.sources.rl_math import content_id

_OT_THOUGHT = ("<|begin_of_thought|>", "<|end_of_thought|>")
_OT_SOLUTION = ("<|begin_of_solution|>", "<|end_of_solution|>")
_USER_ROLES = {"user", "human"}
_ASSISTANT_ROLES = {"assistant", "gpt"}


def split_response(text: str) -> tuple[str, str]:
    """(reasoning, answer) from an R1 (<think>) or OpenThoughts-114k (<|begin_of_thought|>) response."""
    if _OT_THOUGHT[1] in text:
        head, _, tail = text.rpartition(_OT_THOUGHT[1])
        reasoning = head.split(_OT_THOUGHT[0], 1)[-1]
        answer = tail.replace(_OT_SOLUTION[0], "").replace(_OT_SOLUTION[1], "")
    elif "</think>" in text:
        head, _, answer = text.rpartition("</think>")
        reasoning = head.split("<think>", 1)[-1]
    else:
        raise RowError("response has no closing think tag (truncated or not a long-CoT response)")
    reasoning, answer = reasoning.strip(), answer.strip()
    if not reasoning:
        raise RowError("response has an empty reasoning block")
    if not answer:
        raise RowError("response has no final answer after the reasoning")
    return reasoning, answer


def r1_content(reasoning: str, answer: str) -> str:
    return f"<think>\n{reasoning}\n</think>\n\n{answer}"


def _sft_example(source: str, source_id: str, problem: str, reasoning: str, answer: str) -> Example:
    content = r1_content(reasoning, answer)
    return Example(
        source_id=source_id,
        problem=problem,
        response=content,
        row={
            "messages": [{"role": "user", "content": problem}, {"role": "assistant", "content": content}],
            "source": source,
        },
    )


def _from_turns(source: str, turns: list[dict], id_hint: str | None):
    users = [t["content"] for t in turns if t["role"] in _USER_ROLES]
    answers = [t["content"] for t in turns if t["role"] in _ASSISTANT_ROLES]
    if len(users) != 1 or len(answers) != 1:
        raise RowError(f"expected one user and one assistant turn, found {len(users)} and {len(answers)}")
    reasoning, answer = split_response(answers[0])
    problem = users[0].strip()
    if not problem:
        raise RowError("empty user turn")
    yield _sft_example(source, id_hint or content_id(source, problem), problem, reasoning, answer)


def _convert_openthoughts(row: dict, opts: ConvertOptions):
    convs = field_of(row, "conversations", list)
    turns = []
    for i, c in enumerate(convs):
        if (
            not isinstance(c, dict)
            or not isinstance(c.get("from"), str)
            or not isinstance(c.get("value"), str)
        ):
            raise RowError(f"conversations[{i}] is not a {{from, value}} turn of strings")
        turns.append({"role": c["from"], "content": c["value"]})
    yield from _from_turns("openthoughts", turns, None)


def _convert_chat(row: dict, opts: ConvertOptions):
    turns = chat_turns(field_of(row, "messages", (list, str)), "messages")
    yield from _from_turns("chat", turns, str(row["id"]) if row.get("id") is not None else None)


def _convert_openr1(row: dict, opts: ConvertOptions):
    problem = field_of(row, "problem").strip()
    generations = field_of(row, "generations", list)
    complete = row.get("is_reasoning_complete")
    uuid = str(row.get("uuid") or content_id("openr1", problem))
    for k, gen in enumerate(generations):
        if isinstance(complete, list) and k < len(complete) and complete[k] is False:
            yield Rejected(f"is_reasoning_complete is false [generation {k}]")
            continue
        if not isinstance(gen, str):
            yield Rejected(f"generation is not a string [generation {k}]")
            continue
        try:
            reasoning, answer = split_response(gen)
        except RowError as e:
            yield Rejected(f"{e} [generation {k}]")
            continue
        yield _sft_example("openr1_math", f"{uuid}-{k}", problem, reasoning, answer)


def _convert_numinamath(row: dict, opts: ConvertOptions):
    problem = field_of(row, "problem").strip()
    solution = field_of(row, "solution").strip()
    boxed = last_boxed(solution)
    if not boxed:
        raise RowError("solution has no \\boxed{...} final answer")
    yield _sft_example(
        "numinamath",
        content_id("numinamath", problem),
        problem,
        solution,
        f"The final answer is $\\boxed{{{boxed}}}$.",
    )


def _convert_input_output(source: str):
    def convert(row: dict, opts: ConvertOptions):
        problem = field_of(row, "input").strip()
        if problem == "-":
            # OpenCodeReasoning split_1 leaves the question out; it must be joined from its dataset
            raise RowError("input is the placeholder '-': join the question from the original dataset first")
        reasoning, answer = split_response(field_of(row, "output"))
        id_hint = f"{source}-{row['id']}" if row.get("id") is not None else None
        yield _sft_example(source, id_hint or content_id(source, problem), problem, reasoning, answer)

    return convert


SHAPES = [
    SourceShape(
        name="openthoughts",
        builder="sft-longcot",
        signature=frozenset({"conversations"}),
        required=frozenset({"conversations"}),
        licence="Apache-2.0 (OpenThoughts)",
        convert=_convert_openthoughts,
        description="OpenThoughts-114k (system, conversations) and OpenThoughts3 (conversations from human/gpt)",
    ),
    SourceShape(
        name="openr1_math",
        builder="sft-longcot",
        signature=frozenset({"problem", "solution", "generations", "uuid"}),
        required=frozenset({"problem", "generations"}),
        licence="Apache-2.0 (OpenR1-Math-220k)",
        convert=_convert_openr1,
    ),
    SourceShape(
        name="numinamath",
        builder="sft-longcot",
        signature=frozenset({"problem", "solution", "source"}),
        required=frozenset({"problem", "solution"}),
        licence="Apache-2.0 (NuminaMath)",
        convert=_convert_numinamath,
    ),
    SourceShape(
        name="acereason",
        builder="sft-longcot",
        signature=frozenset({"category", "source", "input", "output"}),
        required=frozenset({"input", "output"}),
        licence="CC-BY-4.0 (AceReason-1.1-SFT)",
        convert=_convert_input_output("acereason"),
    ),
    SourceShape(
        name="opencodereasoning",
        builder="sft-longcot",
        signature=frozenset({"id", "input", "output", "dataset", "difficulty"}),
        required=frozenset({"id", "input", "output"}),
        licence="CC-BY-4.0 (OpenCodeReasoning)",
        convert=_convert_input_output("opencodereasoning"),
    ),
    SourceShape(
        name="chat",
        builder="sft-longcot",
        signature=frozenset({"messages"}),
        required=frozenset({"messages"}),
        licence="(user-provided chat file)",
        convert=_convert_chat,
        description="generic chat rows: messages = [user, assistant with <think>...</think>]",
    ),
]
