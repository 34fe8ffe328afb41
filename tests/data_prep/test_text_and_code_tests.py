"""Normalisation/words and code test-spec conversion (docs/data-and-eval.md)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import unicodedata
import zlib

import pytest
from dp_fixtures import lcb_compress
from hypothesis import given, settings
from hypothesis import strategies as st

from data_prep import code_tests
from data_prep.errors import RowError
from data_prep.text import _WORD_RE, ngrams, normalize, strip_markup, words


def test_normalize_and_ngrams_hand_derived():
    # NFKC maps the full-width "Ｘ" to "X" and the ligature "ﬁ" to "fi"; lowercase; whitespace collapsed
    assert normalize("  Ｘ^2\t+ ﬁnd\n\nIt ") == "x^2 + find it"
    assert words("Let $f(x_1)=3.5$, café!") == ["let", "f", "x", "1", "3", "5", "café"]
    assert list(ngrams(["a", "b", "c", "d"], 3)) == [("a", "b", "c"), ("b", "c", "d")]
    assert list(ngrams(["a", "b"], 3)) == []


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=60))
def test_ascii_fast_path_equals_the_unicode_rule(text):
    assert words(text) == _WORD_RE.findall(strip_markup(unicodedata.normalize("NFKC", text)).lower())


def test_lcb_compressed_tests_decode():
    cases = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    assert code_tests.decode_compressed(lcb_compress(cases)) == cases


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_globals_and_zip_bombs():
    evil = base64.b64encode(zlib.compress(pickle.dumps(_Evil()))).decode()
    with pytest.raises(RowError, match="forbidden"):
        code_tests.decode_compressed(evil)
    # a set needs no global in protocol 4+, but it is not a plain JSON-like value: rejected after loading
    odd = base64.b64encode(zlib.compress(pickle.dumps({1, 2}, protocol=4))).decode()
    with pytest.raises(RowError, match="holds a set"):
        code_tests.decode_compressed(odd)
    bomb = base64.b64encode(zlib.compress(pickle.dumps("x" * 5000))).decode()
    with pytest.raises(RowError, match="exceeds the 1000-byte cap"):
        code_tests.decode_compressed(bomb, max_bytes=1000)
    # strict base64 (one rule with the reward): stray characters are an error, not silently skipped
    good = base64.b64encode(zlib.compress(pickle.dumps('[{"input": "1", "output": "1"}]'))).decode()
    assert code_tests.decode_compressed(good) == [{"input": "1", "output": "1"}]
    with pytest.raises(RowError, match="base64"):
        code_tests.decode_compressed(good[:8] + "!*" + good[8:])


def test_one_compressed_test_decoder():
    from g2rl_verl.rewards import code_spec

    assert code_tests._decode is code_spec.decode_compressed
    cases = [{"input": "2\n", "output": "4\n", "testtype": "stdin"}]
    payload = lcb_compress(cases)
    assert code_tests.decode_compressed(payload) == code_spec.decode_compressed(payload) == cases


def test_apps_call_based_and_stdin_lists():
    call = code_tests.from_apps_input_output(
        json.dumps({"fn_name": "f", "inputs": [[[1, 2], "a"]], "outputs": [[True]]})
    )
    assert call == {"inputs": ['[1, 2]\n"a"'], "outputs": ["[true]"], "fn_name": "f"}
    stdin = code_tests.from_apps_input_output({"inputs": [["1 2", "3"]], "outputs": ["6\n"]})
    assert stdin == {"inputs": ["1 2\n3"], "outputs": ["6\n"]}
    with pytest.raises(RowError, match="1 inputs but 0 outputs"):
        code_tests.from_apps_input_output({"inputs": ["1"], "outputs": []})


def test_klear_ground_truth_formats():
    assert code_tests.from_klear_ground_truth('{"functional": "assert f(1) == 1"}') == {
        "functional": "assert f(1) == 1"
    }
    assert code_tests.count_tests({"functional": "assert 1"}) == 1
    # list-valued entries are joined with ", " (the Klear reference rule)
    spec = code_tests.from_klear_ground_truth(
        {"inputs": [["1", "2"]], "outputs": ["3"], "fn_name": "g", "timeout": 10}
    )
    assert spec == {"inputs": ["1, 2"], "outputs": ["3"], "fn_name": "g", "timeout": 10}
    for bad, msg in [
        ('{"inputs_file": "a"}', "unsupported_test_format: inputs_file"),
        ('{"inputs": [], "outputs": []}', "no tests"),
        ("[1]", "not a JSON object"),
        ('{"functional": []}', "functional tests must be"),
    ]:
        with pytest.raises(RowError, match=msg):
            code_tests.from_klear_ground_truth(bad)


def test_codecontests_file_io_is_unsupported():
    with pytest.raises(RowError, match="unsupported_test_format"):
        code_tests.from_codecontests(
            {"input_file": "input.txt", "public_tests": {"input": ["1"], "output": ["1"]}}
        )
