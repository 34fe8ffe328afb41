"""Decontamination: word tokens without markup, boilerplate learnt from the training corpus, the three
match rules, the per-row report, and the targets on the real shared files."""

from __future__ import annotations

import json
import re
import unicodedata

import pyarrow.parquet as pq
import pytest
from dp_fixtures import SHARED_DATA, deepscaler_row, write_jsonl

from data_prep.decontam import DecontaminationIndex
from data_prep.text import _WORD_RE, ngrams, strip_markup, words

# ---- word tokens ------------------------------------------------------------------------------


def test_words_drop_latex_markup_and_asymptote():
    assert words(r"Let $\frac{1}{2}x^2 = y_1$ and \text{Evelyn}.") == [
        "let",
        "1",
        "2",
        "x",
        "2",
        "y",
        "1",
        "and",
        "evelyn",
    ]
    # environment names are markup; their contents are not
    assert words(r"\begin{pmatrix} a \\ b \end{pmatrix}") == ["a", "b"]
    # Asymptote code is dropped, closed or not (truncated problems)
    assert words('Area? [asy] draw((0,0)--(1,0)); label("$A$"); [/asy] Express it.') == [
        "area",
        "express",
        "it",
    ]
    assert words("Area? [ASY]size(100); draw((0,0)--(1,0));") == ["area"]
    # the same words whatever the markup: "1/2" and "\dfrac{1}{2}" agree
    assert words(r"is $\dfrac{1}{2}$") == words("is 1/2")
    # NFKC: full-width letters and ligatures become plain words
    assert words("ＡＢ ﬁnd café") == ["ab", "find", "café"]


@pytest.mark.parametrize(
    "text",
    [
        "x_1+y__2 = 3.5% of 10,000; (a)-(b) @home #tag ~q `c` |d| 'e' \"f\" <g> {h} [i]",
        "tab\tnew\nline\r\x0bvert\x0cfeed",
        r"\alpha\beta 12\gamma3 \\ \$5 \%",
        "[asy] never closed \\frac{1}{2}",
        "",
    ],
)
def test_ascii_fast_path_equals_the_regex_rule(text):
    # the rule as written in the module docstring, applied through the general (regex) path
    expected = _WORD_RE.findall(strip_markup(unicodedata.normalize("NFKC", text)).lower())
    assert words(text) == expected


def test_ascii_fast_path_on_real_math_train():
    if not (SHARED_DATA / "math_train.parquet").exists():
        pytest.skip("shared data folder not present")
    prompts = [
        p[-1]["content"]
        for p in pq.read_table(SHARED_DATA / "math_train.parquet").column("prompt").to_pylist()
    ]
    for text in prompts:
        assert words(text) == _WORD_RE.findall(strip_markup(text).lower())


# ---- the three rules on small fixtures -------------------------------------------------------

EVAL = (
    "A farmer plants seven rows of turnips along the river bank and waters each row twice daily; "
    "how many litres does the orchard consume if every watering uses three buckets of eleven litres? "
    "Express your answer as a common fraction in simplest form please."
)
BOILER = "express your answer as a common fraction in simplest form please"  # 11 words


def _index(train: list[str], eval_items=(("bench", "q1", EVAL),), **kw) -> DecontaminationIndex:
    idx = DecontaminationIndex(9, **kw)
    for name, item_id, text in eval_items:
        idx.add_text(name, item_id, text)
    for t in train:
        idx.observe_training(t)
    return idx


def test_boilerplate_phrases_never_remove_a_row():
    # three unrelated training problems end with the same 11-word instruction as the eval item
    train = [f"Problem {k}: compute {k} plus {k} apples. {BOILER}" for k in range(3)]
    idx = _index(train)
    assert all(idx.match(t) is None for t in train)
    # the same rows with boilerplate detection effectively off: the instruction alone would remove them
    strict = _index(train, boilerplate_rows=4)
    m = strict.match(train[0])
    assert m is not None and m.rule == "ngram" and m.informative_ngrams == 3


def test_ngram_rule_needs_min_shared_informative_ngrams():
    eval_words = EVAL.split()
    row11 = "Warm up. " + " ".join(eval_words[2:13]) + " Then stop."  # 11 shared words = 3 nine-grams
    row10 = "Warm up. " + " ".join(eval_words[2:12]) + " Then stop."  # 10 shared words = 2 nine-grams
    idx = _index([row11, row10])
    m = idx.match(row11)
    assert m is not None and (m.rule, m.eval_set, m.eval_id, m.informative_ngrams) == (
        "ngram",
        "bench",
        "q1",
        3,
    )
    # the listed n-grams are word 9-grams of both texts, checked on the raw word lists
    both = {" ".join(g) for g in ngrams(words(EVAL), 9)} & {" ".join(g) for g in ngrams(words(row11), 9)}
    assert set(m.matched_ngrams) == both
    assert idx.match(row10) is None
    assert _index([row10], min_shared=2).match(row10).rule == "ngram"


def test_coverage_rule_catches_a_problem_the_corpus_repeats():
    # the eval problem appears five times (reformatted): all its n-grams become "boilerplate", yet every
    # copy is the same problem text and must go
    copies = [f"Problem {k}. {EVAL}" for k in range(5)]  # distinct word sequences, same problem
    idx = _index(copies)
    for t in copies:
        m = idx.match(t)
        assert m is not None, t
        assert (m.rule, m.eval_id, m.informative_ngrams) == ("coverage", "q1", 0)
        assert m.coverage >= 0.9
    # a sibling that keeps only the first half of the text is not the same problem
    half = "Problem 9. " + " ".join(EVAL.split()[:18])
    assert _index(copies + [half]).match(half) is None


def test_exact_rule_for_short_questions_keeps_markup():
    items = (("short", "s1", r"Compute $\arcsin \frac{1}{2}$."), ("short", "s2", "What is 2+2?"))
    idx = _index([], eval_items=items)
    assert idx.match(r"compute   $\arcsin \frac{1}{2}$.").rule == "exact"
    assert idx.match("WHAT IS 2+2?").eval_id == "s2"
    # same words, different maths: \sqrt{2} is not \frac{1}{2}, so no exact match
    assert idx.match(r"Compute $\arcsin \frac{1}{\sqrt{2}}$.") is None
    assert idx.match("What is 2+3?") is None


def test_asymptote_only_overlap_is_not_contamination():
    asy = '[asy] draw((0,0)--(4,0)--(4,3)--cycle); label("$A$",(0,0),SW); label("$B$",(4,0),SE); [/asy]'
    idx = _index([], eval_items=(("geo", "g1", "Find the hypotenuse of the triangle shown. " + asy),))
    assert idx.match("What is the area of the right triangle in the figure? " + asy) is None


def test_index_rejects_bad_settings():
    from data_prep.errors import DataPrepError

    for kw in ({"boilerplate_rows": 0}, {"min_shared": 0}, {"min_coverage": 0.0}, {"min_coverage": 1.5}):
        with pytest.raises(DataPrepError):
            DecontaminationIndex(9, **kw)


# ---- through the pipeline: report with 1-based rows, eval ids and n-grams -------------------


def test_pipeline_report_lists_each_removal(tmp_path, run_build):
    eval_file = write_jsonl(
        tmp_path / "amc_like.jsonl",
        [{"id": 4, "problem": EVAL, "question": EVAL, "answer": 16.0, "url": "u"}],
    )
    copied = "Warm up. " + " ".join(EVAL.split()[:20])
    train = write_jsonl(
        tmp_path / "dsr.jsonl",
        [
            deepscaler_row(q="What is 1+1?", answer="2"),
            deepscaler_row(q=copied, answer="3"),  # line 2
            *[deepscaler_row(q=f"Problem {k} about {k} pears. {BOILER}", answer=str(k)) for k in range(3)],
        ],
    )
    report, out = run_build("rl-math", [train], decontaminate=[str(eval_file)])
    kept = [r["prompt"][0]["content"] for r in pq.read_table(out).to_pylist()]
    assert copied not in kept and len(kept) == 4  # the three boilerplate rows stay
    dc = report["decontamination"]
    assert dc["removed_per_eval_set"] == {"amc23": 1} and dc["removed_per_rule"] == {"ngram": 1}
    (removed,) = dc["removed"]
    assert removed["row"] == f"{train}:2"
    assert removed["eval_id"] == "amc23-4" and removed["eval_set"] == "amc23"
    assert removed["matched_ngrams"] and all(g in " ".join(words(copied)) for g in removed["matched_ngrams"])
    assert dc["boilerplate_ngrams"] >= 3 and dc["training_rows_observed"] == 5


# ---- real shared files: the targets -------------------------------------------------------


def _shared(name):
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def math_train_prompts():
    rows = pq.read_table(_shared("math_train.parquet")).to_pylist()
    return [(r["extra_info"]["index"], r["prompt"][-1]["content"]) for r in rows]


def _run(files, prompts):
    idx = DecontaminationIndex()
    for f in files:
        idx.add_file(_shared(f))
    for _, text in prompts:
        idx.observe_training(text)
    return idx, [(sid, text, idx.match(text)) for sid, text in prompts]


def test_math_train_vs_math500_removes_1_to_6_percent_explainably(math_train_prompts):
    _, results = _run(["math500.json"], math_train_prompts)
    removed = [(sid, text, m) for sid, text, m in results if m is not None]
    share = len(removed) / len(results)
    assert 0.01 <= share <= 0.06, f"{len(removed)} removed ({share:.2%})"
    items = {r["unique_id"]: r["problem"] for r in json.loads(_shared("math500.json").read_text())}
    corpus = [" " + " ".join(words(t)) + " " for _, t in math_train_prompts]
    for sid, text, m in removed:
        eval_words = " " + " ".join(words(items[m.eval_id])) + " "
        row_words = " " + " ".join(words(text)) + " "
        if m.rule == "exact":
            assert re.sub(r"\s+", " ", text.strip().lower()) == re.sub(
                r"\s+", " ", items[m.eval_id].strip().lower()
            )
            continue
        # every quoted n-gram is really in both texts
        for g in m.matched_ngrams:
            assert f" {g} " in eval_words and f" {g} " in row_words, (sid, g)
        if m.rule == "ngram":
            # recount independently: the informative n-grams quoted are in < 3 distinct training problems
            informative = m.matched_ngrams[: min(m.informative_ngrams, len(m.matched_ngrams))]
            for g in informative:
                assert len({c for c in corpus if f" {g} " in c}) < 3, (sid, g)
        else:
            assert m.coverage >= 0.9


def test_math_train_vs_aime_hmmt_removes_at_most_half_a_percent(math_train_prompts):
    _, results = _run(["aime24.jsonl", "aime25.jsonl", "hmmt_feb2025.jsonl"], math_train_prompts)
    removed = [m for _, _, m in results if m is not None]
    assert len(removed) / len(results) <= 0.005, len(removed)


def test_cli_options_reach_the_index(tmp_path, capsys):
    from data_prep.cli import main

    eval_file = write_jsonl(
        tmp_path / "amc_like.jsonl",
        [{"id": 4, "problem": EVAL, "question": EVAL, "answer": 16.0, "url": "u"}],
    )
    train = write_jsonl(
        tmp_path / "dsr.jsonl",
        [deepscaler_row(q=f"Problem {k} about pears. {BOILER}", answer=str(k)) for k in range(3)],
    )
    out = tmp_path / "out.parquet"
    common = [
        "rl-math",
        "--input",
        str(train),
        "--output",
        str(out),
        "--no-progress",
        "--workers",
        "1",
        "--decontaminate",
        str(eval_file),
    ]
    assert (
        main([*common, "--boilerplate-rows", "4", "--min-shared-ngrams", "3", "--min-coverage", "0.95"]) == 0
    )
    report = json.loads(out.with_name("out.report.json").read_text())
    dc = report["decontamination"]
    assert (dc["boilerplate_rows"], dc["min_shared_ngrams"], dc["min_coverage"]) == (4, 3, 0.95)
    assert dc["removed_per_rule"] == {"ngram": 3}  # with boilerplate at 4 rows, the shared instruction counts
    assert main([*common, "--overwrite", "--min-coverage", "0"]) == 2
    assert "--min-coverage must be in (0, 1]" in capsys.readouterr().err
