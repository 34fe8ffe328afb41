"""Program extraction from a code response (rewards.md §4.1): the LAST complete fenced block tagged
`python`, `py` or `python3` (case-insensitive) in the answer region. An unclosed final fence is a
truncated block and is ignored."""

from __future__ import annotations

import hashlib
import re

_FENCE = re.compile(r"^[ \t]*```[ \t]*([^\n`]*)\n(.*?)^[ \t]*```[ \t]*$", re.MULTILINE | re.DOTALL)
PYTHON_TAGS = frozenset({"python", "py", "python3"})


def extract_python_block(answer_text: str) -> str | None:
    program = None
    for match in _FENCE.finditer(answer_text):
        tag = match.group(1).strip().lower()
        if tag in PYTHON_TAGS:
            program = match.group(2)
    return program


def program_digest(program: str) -> str:
    """Short stable id of a program, used as `pred` for code (never the code itself)."""
    return hashlib.sha256(program.encode("utf-8", "surrogatepass")).hexdigest()[:16]
