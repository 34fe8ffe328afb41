"""Comparison modes and call-value comparison: hand-derived cases, hostile outputs, and fuzzing that no
candidate output can make a comparator raise (docs/sandbox.md: verdict integrity)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sandbox import compare_output
from sandbox.compare import COMPARE_MODES, MAX_JSON_DEPTH, compare_call_value, parse_untrusted_json


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
    # lines_float: an integer expected token needs exactly that value (rel tol would accept 1e9 +- 1000)
    ("1000000000\n", "1000000007\n", "lines_float", False),
    ("1000000000.0\n", "1000000007\n", "lines_float", False),
    ("1e9\n", "1000000007\n", "lines_float", False),
    ("1000000007.0\n", "1000000007\n", "lines_float", True),  # same value, float spelling
    ("3.0 -0\n", "3 0\n", "lines_float", True),
    ("+7\n", "7\n", "lines_float", True),
    ("1" * 5000 + "\n", "1" * 4999 + "2\n", "lines_float", False),  # beyond int()'s digit limit
    ("1_000\n", "1000\n", "lines_float", False),  # not a plain decimal number
    ("\u0661\n", "1\n", "lines_float", False),  # Arabic-Indic digit one
    ("1e999999\n", "1e999999\n", "lines_float", True),  # equal strings
    ("1e999999\n", "1e999998\n", "lines_float", False),
    ("1 2\n", "1 2 3\n", "lines_float", False),
    # strip (Klear): only the outer whitespace
    ("\n  a b \n\n", "a b", "strip", True),
    ("a  b", "a b", "strip", False),
    # lcb: strip lines; Decimal-exact tokens
    ("  1.0 2\n 3 \n", "1 2.00\n3", "lcb", True),
    ("1.0000001\n", "1\n", "lcb", False),
    ("a\nb\n", "a\n", "lcb", False),
    # lcb: tokens Decimal cannot compare are mismatches, never exceptions (sNaN signals on ==)
    ("sNaN\n", "1\n", "lcb", False),
    ("1 sNaN\n", "1 sNaN0\n", "lcb", False),
    ("NaN\n", "0\n", "lcb", False),
    ("1e99999999999999999999999\n", "1\n", "lcb", False),  # exponent beyond Decimal's range
    ("sNaN\n", "sNaN\n", "lcb", True),  # identical lines match before any Decimal is built
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
    # integers are exact; huge integers never overflow a float conversion
    (1000000000, "1000000007", "lines_float", False),
    (10 ** 400, "1.5", "lines_float", False),
    (10 ** 400, str(10 ** 400), "lines", True),
    (1.5, str(10 ** 400), "lines_float", False),
    (1e300, "1e300", "lines_float", True),
])
def test_compare_call_value(value, expected_text, mode, same):
    assert compare_call_value(value, expected_text, mode) is same


def test_untrusted_json_is_bounded_in_depth_and_size():
    deep = b"[" * 100_000 + b"]" * 100_000  # json.loads raises RecursionError on this
    assert parse_untrusted_json(deep)[:2] == (False, None)
    at_limit = b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH
    ok, value, _ = parse_untrusted_json(at_limit)
    assert ok and json.dumps(value).count("[") == MAX_JSON_DEPTH
    # brackets inside strings are text, not nesting
    assert parse_untrusted_json(json.dumps(["[" * 10_000, '\\"[{'])) [:2] == (True, ["[" * 10_000, '\\"[{'])
    assert parse_untrusted_json(b"1" * 10, max_bytes=5)[0] is False
    assert parse_untrusted_json(b"\xff\xfe")[0] is False
    assert parse_untrusted_json(b"1" * 5000)[0] is False  # int() digit limit: ValueError, reported


# ----------------------------------------------------------------------------------------------------
# fuzzing: nothing a candidate prints or returns makes a comparator raise

_NUMERIC_TOKENS = st.sampled_from([
    "sNaN", "-sNaN", "NaN", "nan", "inf", "-Infinity", "1e999999999999999999999", "1e-999999999999999999999",
    "0", "-0", "+0.0", "1_000", "\u0661", "1" * 5000, ".", "-", "e5", "1e", "0x10", "1000000007", "3.0",
])
_TEXT = st.lists(st.one_of(_NUMERIC_TOKENS, st.text(max_size=12)), max_size=12).map(
    lambda parts: " ".join(parts)) | st.text(max_size=200)
_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(min_value=10 ** 300, max_value=10 ** 400)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actual=_TEXT, expected=_TEXT, mode=st.sampled_from(COMPARE_MODES))
def test_fuzz_compare_output_never_raises(actual, expected, mode):
    assert compare_output(actual, expected, mode) in (True, False)
    assert compare_output(actual, actual, mode) is True  # reflexive on any text


@settings(max_examples=150, deadline=None)
@given(value=_JSON_VALUES, expected=_JSON_VALUES | st.text(max_size=20),
       mode=st.sampled_from(COMPARE_MODES))
def test_fuzz_compare_call_value_never_raises(value, expected, mode):
    expected_text = expected if isinstance(expected, str) else json.dumps(expected)
    # the parent sees the candidate's value only through parse_untrusted_json of the bytes it wrote
    ok, parsed, _ = parse_untrusted_json(json.dumps(value).encode())
    assert ok
    assert compare_call_value(parsed, expected_text, mode) in (True, False)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300) | st.text(alphabet="[]{}\"\\,:0123456789.eE-", max_size=400).map(str.encode))
def test_fuzz_untrusted_json_never_raises(data):
    ok, _, reason = parse_untrusted_json(data, max_depth=8)
    assert ok is (reason == "")
