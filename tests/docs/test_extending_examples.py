"""docs/extending.md's six worked examples, run for real.

The examples run in two subprocesses (registries are process-global; the two that need verl share one,
which also shows that their two plugin edits compose), with their new files and edits served from
memory (tests/docs/extending_examples.py), so the working tree is never written. An example passes
when its own test file passes and an independent check of the result does
(tests/docs/extending_checks.py). The page's promise that adding a loss or a reward type touches at
most three files is checked here as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from extending_examples import DOC, REPO, apply_diff, example_spec, parse_blocks

GROUPS = (("loss", "estimator"), ("reward", "dataset", "benchmark", "sandbox"))
EXAMPLES = tuple(name for group in GROUPS for name in group)
TIMEOUT_S = 300  # per group; importing verl dominates (about 10 s of CPU)


def run_examples(spec: dict, work: Path) -> subprocess.CompletedProcess:
    """tests/docs/extending_examples.py on `spec`, in `work`."""
    (work / "spec.json").write_text(json.dumps(spec))
    return subprocess.run(
        [sys.executable, str(HERE / "extending_examples.py"), str(work / "spec.json")],
        check=False,
        cwd=work,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def blocks():
    return parse_blocks(DOC.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def runs(blocks, tmp_path_factory):
    """Both groups' subprocesses, in parallel; example name -> its output section, or the error."""

    def run(group: tuple[str, ...]):
        work = tmp_path_factory.mktemp("examples")
        try:
            spec = example_spec({name: blocks[name] for name in group})
        except (AssertionError, KeyError) as e:
            return e
        return run_examples(spec, work)

    with ThreadPoolExecutor(max_workers=len(GROUPS)) as pool:
        results = list(pool.map(run, GROUPS))
    return {name: result for group, result in zip(GROUPS, results) for name in group}


def test_page_has_exactly_the_six_examples(blocks):
    assert sorted(blocks) == sorted(EXAMPLES)
    for name, bs in blocks.items():
        assert any(b.path.startswith("tests/") for b in bs), f"example {name} has no test file"
        assert any(not b.path.startswith("tests/") for b in bs), f"example {name} adds no code"


@pytest.mark.parametrize("name", ["loss", "reward"])
def test_loss_and_reward_touch_at_most_three_files(blocks, name):
    files = {b.path for b in blocks[name]}
    assert len(files) <= 3, f"adding a {name} touches {sorted(files)}"
    section = {"loss": "## Add a policy loss", "reward": "## Add a reward type"}[name]
    text = DOC.read_text(encoding="utf-8")
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    for path in files:  # the "Files:" line names every file the example touches
        assert f"`{path}`" in body.strip().split("\n\n", 1)[0], (
            f"{section}: the Files line does not name {path}"
        )


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(runs, name):
    result = runs[name]
    if isinstance(result, Exception):
        pytest.fail(f"example {name}: {result}")
    if f"EXAMPLE {name}: ok" not in result.stdout:
        tail = (result.stdout[-8000:] + "\n--- stderr ---\n" + result.stderr[-4000:]).strip()
        pytest.fail(f"example {name} failed (exit {result.returncode}):\n{tail}")


def test_diff_application_is_exact():
    """The edit mechanism itself: a stale context line fails and names the line."""
    original = "a = 1\nb = 2\nc = 3\n"
    assert apply_diff(original, "@@\n b = 2\n+d = 4\n c = 3\n", "t") == "a = 1\nb = 2\nd = 4\nc = 3\n"
    assert apply_diff(original, "@@\n-b = 2\n+b = 5\n", "t") == "a = 1\nb = 5\nc = 3\n"
    with pytest.raises(AssertionError, match="'b = 9'"):
        apply_diff(original, "@@\n b = 9\n+d = 4\n", "t")
    with pytest.raises(AssertionError, match="found 2 times"):
        apply_diff("x\nx\n", "@@\n x\n+y\n", "t")


def test_new_files_must_be_new(tmp_path):
    from extending_examples import Block

    with pytest.raises(AssertionError, match="already exists"):
        example_spec({"x": [Block("x", "file", "g2rl_verl/plugin.py", "pass\n", 1)]})
    assert (REPO / "g2rl_verl" / "plugin.py").is_file()


def test_a_wrong_example_fails_its_check(blocks, tmp_path):
    """The independent check catches a broken example even without the example's own test."""
    from extending_examples import Block

    broken = [
        Block(b.name, b.kind, b.path, b.body.replace("score01=1.0", "score01=0.5"), b.line)
        for b in blocks["reward"]
        if not b.path.startswith("tests/")
    ]
    assert any("score01=0.5" in b.body for b in broken)
    result = run_examples(example_spec({"reward": broken}), tmp_path)
    assert result.returncode == 1
    assert "EXAMPLE reward: independent check failed" in result.stdout
