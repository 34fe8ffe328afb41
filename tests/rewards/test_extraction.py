"""Unit tests of the pure extraction helpers: strict math extraction, think modes, maj@k canonical
answers, python-block extraction and multiple-choice letters (docs/rewards.md)."""

from __future__ import annotations

import pytest

from g2rl_verl.rewards import canonical_answer, extract_strict
from g2rl_verl.rewards.code_extract import extract_python_block
from g2rl_verl.rewards.math_extract import last_boxed, normalize_gold
from g2rl_verl.rewards.mc_verifier import extract_letter
from g2rl_verl.rewards.think import answer_region


@pytest.mark.parametrize(
    "text, answer, detail",
    [
        (r"\boxed{\frac{a}{\sqrt{b}}}", r"\frac{a}{\sqrt{b}}", "boxed"),  # nested braces
        (r"\boxed {x}", "x", "boxed"),  # whitespace before the brace
        (r"\fbox{7}", "7", "boxed"),
        (r"\boxed{3} text \boxed{5}", "5", "boxed"),  # self-correction: last box
        (r"\boxed{3} then \boxed{\frac{1}{2}", None, "truncated_box"),  # unclosed last box
        (r"\boxed{\{1,2\}}", r"\{1,2\}", "boxed"),  # escaped braces do not count
        ("blah\nAnswer: 12", "12", "anchor"),
        ("The final answer is $\\frac12$.", r"\frac12", "anchor"),
        ("compute 2+2=4 then 3", None, "no_anchor"),  # never an unanchored number
        (r"\boxed{}", None, "empty_box"),
    ],
)
def test_extract_strict(text, answer, detail):
    got = extract_strict(text)
    assert (got.answer, got.detail) == (answer, detail)


def test_last_boxed_prefers_latest_closing_and_flags_truncation():
    assert last_boxed(r"\boxed{\boxed{5}}") == (r"\boxed{5}", False)  # outer box closes last
    assert last_boxed(r"no box") == (None, False)
    assert last_boxed(r"\boxed{1") == (None, True)


@pytest.mark.parametrize(
    "response, mode, text, error",
    [
        ("<think>a</think>b", "require_both", "b", ""),
        ("<think>a</think>b</think>c", "require_both", "c", ""),  # cut at the last </think>
        ("<think>a", "require_both", None, "missing_close_think"),
        ("a</think>b", "require_both", None, "missing_open_think"),
        ("a</think>b", "prompt_opens_think", "b", ""),
        ("a", "prompt_opens_think", None, "missing_close_think"),
        ("a", "none", "a", ""),
        ("a</think>b", "none", "b", ""),
    ],
)
def test_think_modes(response, mode, text, error):
    region = answer_region(response, mode)
    assert (region.text, region.format_error) == (text, error)


@pytest.mark.parametrize(
    "pred, canonical",
    [
        (r"\left( 3, \frac{\pi}{2} \right)", r"(3,\frac{\pi}{2})"),
        (r"\dfrac{1}{2}", r"\frac{1}{2}"),
        (r"\tfrac 1 2", r"\frac12"),
        ("27.0", "27"),
        ("-3.00", "-3"),
        ("2.50", "2.50"),  # only integral floats are rewritten
        (r"x \rightarrow y", r"x\rightarrowy"),  # \right inside \rightarrow is kept
        ("C", "C"),
        ("-0.0", "0"),
        ("+" + "7" * 5000 + ".0", "7" * 5000),  # beyond int()'s 4300-digit limit
    ],
)
def test_canonical_answer(pred, canonical):
    assert canonical_answer(pred) == canonical


def test_normalize_gold():
    assert normalize_gold(27.0) == "27"
    assert normalize_gold(0.5) == "0.5"
    assert normalize_gold(7) == "7"
    assert normalize_gold("  x^2 ") == "x^2"
    with pytest.raises(TypeError):
        normalize_gold(["1"])


@pytest.mark.parametrize(
    "text, program",
    [
        ("```python\nprint(1)\n```", "print(1)\n"),
        ("```py\na\n```\ntext\n```Python3\nb\n```", "b\n"),  # last python block, tag case-insensitive
        ("```python\na\n```\n```text\nnot code\n```", "a\n"),  # non-python blocks are skipped
        ("```python\na\n```\n```python\nunclosed", "a\n"),  # an unclosed final fence is truncated
        ("```\nuntagged\n```", None),
        ("no code", None),
    ],
)
def test_extract_python_block(text, program):
    assert extract_python_block(text) == program


@pytest.mark.parametrize(
    "text, letters, letter",
    [
        (r"\boxed{C}", "ABCD", "C"),
        (r"\boxed{\text{(B)}}", "ABCD", "B"),
        (r"\boxed{B} ... \boxed{D}", "ABCD", "D"),
        (r"\boxed{E}", "ABCD", None),  # not an allowed letter for GPQA
        (r"\boxed{E}", "ABCDEFGHIJ", "E"),
        ("Answer: B", "ABCD", "B"),
        ("The answer is (C).", "ABCD", "C"),
        ("the answer is A. Then Answer: D", "ABCD", "D"),  # last anchor
        ("The answer is Because...", "ABCD", None),
        ("I think it's B or C", "ABCD", None),  # no unanchored letters, no random guess
        (r"\boxed{42} Answer: C", "ABCD", "C"),
    ],
)
def test_extract_letter(text, letters, letter):
    assert extract_letter(text, letters) == letter
