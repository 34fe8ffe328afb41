"""Text normalisation, word tokens and n-grams used by dedup and decontamination.

See docs/data-and-eval.md, "Decontamination". Normalisation is Unicode NFKC, lowercase and collapsed
whitespace. Decontamination tokens are *words*: maximal alphanumeric runs (any script) of the
normalised text after Asymptote blocks (``[asy] ... [/asy]``), LaTeX environment markers
(``\\begin{..}``, ``\\end{..}``) and LaTeX command names (``\\frac``, ``\\left``) are removed.
Braces, ``$``, punctuation and operators are never tokens, so ``$\\frac{1}{2}x^2$`` gives
["1", "2", "x", "2"] and ``\\text{Evelyn}`` gives ["evelyn"]. Markup-only differences therefore
never break a match, and markup-only boilerplate (``draw((0,0)--(1,0))``) never forms one.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

# An unterminated [asy] block runs to the end of the text (truncated problems still lose their code).
_ASY_RE = re.compile(r"\[asy\].*?(?:\[/asy\]|\Z)", re.DOTALL | re.IGNORECASE)
_ENV_RE = re.compile(r"\\(?:begin|end)\s*\{[^{}]*\}")
_COMMAND_RE = re.compile(r"\\[a-zA-Z]+")
# [^\W_]+ is "one or more letters/digits" (\w minus underscore)
_WORD_RE = re.compile(r"[^\W_]+")
# the same rule for ASCII text as one C-level pass: every non-alphanumeric character becomes a space
_ASCII_NON_WORD = str.maketrans({chr(i): " " for i in range(128) if not chr(i).isalnum()})


def normalize(text: str) -> str:
    """NFKC, lowercase, collapse whitespace runs to one space and strip the ends."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def strip_markup(text: str) -> str:
    """The text with Asymptote blocks, LaTeX environment markers and command names removed."""
    if "[" in text:
        text = _ASY_RE.sub(" ", text)
    if "\\" in text:
        text = _ENV_RE.sub(" ", text)
        text = _COMMAND_RE.sub(" ", text)
    return text


def words(text: str) -> list[str]:
    """Decontamination tokens: the words of the normalised text with markup removed."""
    if text.isascii():  # NFKC is the identity on ASCII
        return strip_markup(text).lower().translate(_ASCII_NON_WORD).split()
    return _WORD_RE.findall(strip_markup(unicodedata.normalize("NFKC", text)).lower())


def ngrams(toks: list[str], n: int) -> Iterator[tuple[str, ...]]:
    """All contiguous token n-grams; none when the text has fewer than n tokens."""
    return zip(*(toks[i:] for i in range(n)))


def text_key(text: str) -> bytes:
    """A 16-byte digest used as a dedup key (stable across processes, unlike hash())."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
