"""Every pointer into the documentation resolves, and nothing points outside the repository.

A pointer is a Markdown file path such as `docs/rewards.md` (or a page name inside docs/), optionally
followed by the section it means, in quotes: `docs/rewards.md, "Routing" and "verl adapter"`,
`(docs/verl-integration.md, 'Trainer modes')`, `docs/methods.md, section "G2RL"`, or a link anchor
`docs/metrics.md#logs`. The page must exist and each named section must be one of its headings.
"""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".sbatch", ".txt", ".cfg", ".ini", ".json"}

_PAGE = re.compile(
    r"(?P<link>\]\()?(?<![\w/.-])(?P<path>(?:\.\./)*(?:[\w-]+/)*[\w.-]+\.md)(?:#(?P<anchor>[\w-]+))?"
)
# one or more quoted section names right after the page: `, "A"`, `: "A" and "B"`, `, section 'A'`
_SECTIONS = re.compile(
    r"""\A(?:[,:][ \t]*(?:\n[ \t#*/]*)?(?:sections?[ \t]+)?|[ \t]+sections?[ \t]+)"""
    r"""(?P<list>(?P<q>["'])[^"'\n]+(?P=q)"""
    r"""(?:[ \t]*(?:,|and|,[ \t]*and)[ \t]*(?P<q2>["'])[^"'\n]+(?P=q2))*)"""
)
_QUOTED = re.compile(r"""(["'])([^"'\n]+)\1""")
# The outside design folder: its file names with a section sign, the folder itself, any section sign.
_OUTSIDE = re.compile(
    "(?:gppo|g2rl|rewards|sandbox|data-eval|verl-0\\.9)\\.md ?\u00a7|shared/" + "spec|\u00a7"
)


def repo_files() -> list[Path]:
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    files = []
    for rel in out:
        path = REPO / rel
        if rel and path.suffix in TEXT_SUFFIXES and path.is_file() and ".venv" not in path.parts:
            files.append(path)
    return files


def _strip_md(text: str) -> str:
    return re.sub(r"[`*_]", "", text).strip()


@cache
def headings(page: Path) -> tuple[str, ...]:
    out, fenced = [], False
    for line in page.read_text(encoding="utf-8").split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            out.append(line.lstrip("#").strip())
    return tuple(out)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", _strip_md(heading).lower()).replace(" ", "-")


def section_exists(page: Path, name: str) -> bool:
    wanted = _strip_md(name)
    for h in headings(page):
        plain = _strip_md(h)
        # a heading may carry a code location after the name: "reward/* (per training step) [...]"
        if plain == wanted or re.sub(r"\s*[(\[].*$", "", plain) == wanted:
            return True
    return False


def resolve(source: Path, ref: str) -> Path | None:
    """The page a reference means: relative to the repository, else to the referring file."""
    if "docs/" in ref:
        return REPO / "docs" / ref.split("docs/", 1)[1]
    for base in (REPO, source.parent):
        candidate = (base / ref).resolve()
        if candidate.is_file():
            return candidate
    return None


def references():
    """(where, page reference, resolved page or None, anchor, [section names])."""
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for m in _PAGE.finditer(text):
            ref = m["path"]
            page = resolve(path, ref)
            # checked: every docs/ pointer, every Markdown link, and any other name of an existing page
            # (a bare `report.md` that is no page is an output file name, not a pointer)
            if page is None and "docs/" not in ref and not m["link"]:
                continue
            line = text.count("\n", 0, m.start()) + 1
            after = _SECTIONS.match(text[m.end() : m.end() + 300])
            names = [q[1] for q in _QUOTED.findall(after["list"])] if after else []
            yield f"{path.relative_to(REPO)}:{line}", ref, page, m["anchor"], names


def test_every_docs_page_and_section_named_exists():
    problems, checked = [], 0
    for where, ref, page, anchor, names in references():
        checked += 1
        if page is None or not page.is_file():
            problems.append(f"{where}: {ref} does not exist")
            continue
        for name in names:
            if not section_exists(page, name):
                problems.append(f"{where}: {ref} has no section {name!r} (headings: {list(headings(page))})")
        if anchor and anchor not in {slug(h) for h in headings(page)}:
            problems.append(f"{where}: {ref}#{anchor} matches no heading of {ref}")
    assert checked > 50, f"only {checked} references found: the scanner is broken"
    assert not problems, "broken documentation pointers:\n" + "\n".join(problems)


def test_nothing_cites_the_outside_design_folder():
    hits = []
    for path in repo_files():
        if path == Path(__file__).resolve():
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").split("\n"), start=1):
            if _OUTSIDE.search(line):
                hits.append(f"{path.relative_to(REPO)}:{n}: {line.strip()[:120]}")
    assert not hits, (
        "cite docs/<page>.md and its section name instead of the outside design folder:\n" + "\n".join(hits)
    )


@pytest.mark.parametrize(
    "text, names",
    [
        ('see docs/rewards.md, "Routing" and "verl adapter").', ["Routing", "verl adapter"]),
        ("(docs/verl-integration.md, 'Trainer modes')", ["Trainer modes"]),
        ('docs/methods.md, section "G2RL".', ["G2RL"]),
        ('docs/methods.md: "GPPO", "CE-GPPO"', ["GPPO", "CE-GPPO"]),
        ("docs/methods.md says", []),
    ],
)
def test_the_scanner_reads_the_citation_styles(text, names):
    m = _PAGE.search(text)
    after = _SECTIONS.match(text[m.end() :])
    assert ([q[1] for q in _QUOTED.findall(after["list"])] if after else []) == names


def test_a_missing_section_is_reported():
    page = REPO / "docs" / "methods.md"
    assert section_exists(page, "GPPO")
    assert not section_exists(page, "No such section")
    assert slug("Limits (`sandbox.Limits`)") == "limits-sandboxlimits"
