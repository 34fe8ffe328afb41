"""Comparison modes (rewards.md §4.5) and call-value comparison, with hand-derived cases."""

from __future__ import annotations

import pytest

from sandbox import compare_output
from sandbox.compare import compare_call_value


@pytest.mark.parametrize("actual, expected, mode, same", [
    # lines: CRLF == LF, trailing spaces and trailing blank lines ignored, leading spaces significant
    ("1 2\r\n3\r\n", "1 2\n3", "lines", True),
    ("1 2   \n3\n\n\n", "1 2\n3\n", "lines", True),
    ("  1\n", "1\n", "lines", False),
    ("1\n\n2\n", "1\n2\n", "lines", False),  # an inner blank line matters
    ("", "", "lines", True),
    ("0.1000001\n", "0.1\n", "lines", False),
    # lines_float: |a - b| <= max(1e-6, 1e-6 * |b|)
    ("0.1000001\n", "0.1\n", "lines_float", True),  # diff 1e-7
    ("0.10001\n", "0.1\n", "lines_float", False),  # diff 1e-5
    ("1000000.5 x\n", "1000000.0 x\n", "lines_float", True),  # rel: 1e-6 * 1e6 = 1.0 >= 0.5
    ("nan\n", "nan\n", "lines_float", True),  # equal as strings
    ("inf\n", "1e308\n", "lines_float", False),  # non-finite never tolerance-equal
    ("1 2\n", "1 2 3\n", "lines_float", False),
    # strip (Klear): only the outer whitespace
    ("\n  a b \n\n", "a b", "strip", True),
    ("a  b", "a b", "strip", False),
    # lcb: strip lines; Decimal-exact tokens
    ("  1.0 2\n 3 \n", "1 2.00\n3", "lcb", True),
    ("1.0000001\n", "1\n", "lcb", False),
    ("a\nb\n", "a\n", "lcb", False),
])
def test_compare_output_modes(actual, expected, mode, same):
    assert compare_output(actual, expected, mode) is same


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="lines_float"):
        compare_output("a", "a", "fuzzy")


@pytest.mark.parametrize("value, expected_text, mode, same", [
    ([0, 1], "[0, 1]", "lines", True),
    ([0, 1], "[0,1]", "lines", True),  # JSON, not string formatting
    (True, "true", "lines", True),
    (True, "1", "lines", False),  # JSON booleans are not numbers
    (1, "1.0", "lines", True),
    (5, "[5]", "lines", True),  # APPS: one-element list wraps the value
    ([5], "[5]", "lines", True),
    (0.30000000000000004, "0.3", "lines", False),
    (0.30000000000000004, "0.3", "lines_float", True),
    ({"a": [1, 2]}, '{"a": [1, 2]}', "lines", True),
    ("abc", "abc", "lines", True),  # not JSON: compared as a plain string
    (None, "null", "lines", True),
])
def test_compare_call_value(value, expected_text, mode, same):
    assert compare_call_value(value, expected_text, mode) is same
