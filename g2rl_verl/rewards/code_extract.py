"""Program extraction from a code response (docs/rewards.md, "Code reward: extraction"): the LAST
complete fenced block tagged `python`, `py` or `python3` (case-insensitive) in the answer region. An
unclosed final fence is a truncated block and is ignored.

A fence line is optional indentation, three backticks and an optional tag; the block it opens is closed
by the next bare fence line (no tag). One pass over the lines, so extraction is linear in the text
whatever it holds (a lazy multi-line regex rescans to the end for every unclosed opener: quadratic).
"""

from __future__ import annotations

import hashlib
import re

_FENCE_LINE = re.compile(r"[ \t]*```[ \t]*+([^\n`]*)")
PYTHON_TAGS = frozenset({"python", "py", "python3"})


def extract_python_block(answer_text: str) -> str | None:
    program = None
    open_tag: str | None = None  # tag of the block being read, None outside a block
    body_start = 0
    pos = 0
    n = len(answer_text)
    while pos <= n:
        line_end = answer_text.find("\n", pos)
        if line_end < 0:
            line_end = n
        fence = _FENCE_LINE.fullmatch(answer_text, pos, line_end)
        if fence is not None:
            tag = fence.group(1).strip().lower()
            if open_tag is None:
                open_tag, body_start = tag, line_end + 1
            elif not tag:  # a bare fence closes the open block
                if open_tag in PYTHON_TAGS:
                    program = answer_text[body_start:pos]
                open_tag = None
        pos = line_end + 1
    return program


def program_digest(program: str) -> str:
    """Short stable id of a program, used as `pred` for code (never the code itself)."""
    return hashlib.sha256(program.encode("utf-8", "surrogatepass")).hexdigest()[:16]
