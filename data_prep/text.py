"""Text normalisation, tokens and n-grams used by dedup and decontamination (data-eval.md §4.3).

Normalisation: Unicode NFKC, lowercase, whitespace collapsed. Tokens are maximal alphanumeric runs
(any script) or single non-space symbols, so "x^2+1" gives ["x", "^", "2", "+", "1"].
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

# [^\W_]+ is "one or more letters/digits" (\w minus underscore); every other non-space character,
# underscore included, is a token of its own.
_TOKEN_RE = re.compile(r"[^\W_]+|[^\w\s]|_")
# the same rule for lowercased ASCII text (NFKC is the identity there), about 20% faster
_ASCII_TOKEN_RE = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")


def normalize(text: str) -> str:
    """NFKC, lowercase, collapse whitespace runs to one space and strip the ends."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def tokens(text: str) -> list[str]:
    """Tokens of the normalised text (whitespace collapse does not change the token list)."""
    if text.isascii():
        return _ASCII_TOKEN_RE.findall(text.lower())
    return _TOKEN_RE.findall(unicodedata.normalize("NFKC", text).lower())


def ngrams(toks: list[str], n: int) -> Iterator[tuple[str, ...]]:
    """All contiguous token n-grams; none when the text has fewer than n tokens."""
    return zip(*(toks[i:] for i in range(n)))


def text_key(text: str) -> bytes:
    """A 16-byte digest used as a dedup key (stable across processes, unlike hash())."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
