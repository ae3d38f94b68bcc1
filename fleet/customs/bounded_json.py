"""JSON parsing with bounds checked *before* the parser runs, so no input can exhaust the stack or the CPU.

Python's ``json`` recurses once per nesting level (``[`` x 5,000 raises ``RecursionError``) and converts
integers in quadratic time (a 4,300-digit integer raises ``ValueError`` whatever ``sys.set_int_max_str_digits``
says elsewhere). One pass of a regular expression over the bytes — skipping string contents — measures the
nesting depth and the longest number first; only input within the bounds reaches ``json.loads``. Strings
must be valid Unicode (a lone surrogate such as ``"\\ud800"`` is refused) and numbers finite.
"""

from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from fleet.customs.errors import MalformedInput

# a JSON string (skipped as a whole), a bracket, or a run of number characters
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]|[-+0-9.eE]+', re.DOTALL)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # only escapes can put a lone surrogate in a str


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise MalformedInput(f"number {text[:20]} out of range")
    return value


def _no_constants(text: str) -> float:
    raise MalformedInput(f"{text} is not JSON")


@functools.lru_cache(maxsize=8)
def _number_longer_than(chars: int) -> re.Pattern[bytes]:
    return re.compile(rb"[-+0-9.eE]{%d}" % (chars + 1))


def check_bounds(raw: bytes, max_depth: int, max_number_chars: int) -> None:
    """Raise :class:`MalformedInput` if ``raw`` nests deeper than ``max_depth`` or has a longer number."""
    few_brackets = raw.count(b"[") + raw.count(b"{") <= max_depth
    if few_brackets and not _number_longer_than(max_number_chars).search(raw):
        return  # the common case, decided by two C-speed scans: no token walk needed
    depth = 0
    for match in _TOKENS.finditer(raw):
        token = match.group()
        first = token[:1]
        if first in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise MalformedInput(f"nested deeper than {max_depth} levels")
        elif first in (b"]", b"}"):
            depth -= 1
        elif first != b'"' and len(token) > max_number_chars:
            raise MalformedInput(f"a number longer than {max_number_chars} characters")


def parse_bounded(raw: bytes, max_bytes: int, max_depth: int, max_number_chars: int) -> Any:
    """Parse ``raw`` (UTF-8 JSON) within the bounds, or raise :class:`MalformedInput` saying which one failed."""
    if len(raw) > max_bytes:
        raise MalformedInput(f"larger than {max_bytes} bytes")
    check_bounds(raw, max_depth, max_number_chars)
    try:
        value = json.loads(raw.decode("utf-8"), parse_float=_finite, parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise MalformedInput("not JSON (not UTF-8)") from None
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise MalformedInput(f"not JSON ({str(exc)[:120]})") from None
    if _SURROGATE_ESCAPE.search(raw):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedInput("a string is not valid Unicode (lone surrogate)") from None
    return value


def to_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON, for checking an already parsed object the same way."""
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str).encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedInput("a string is not valid Unicode (lone surrogate)") from None
    except (RecursionError, ValueError) as exc:
        raise MalformedInput(f"not JSON-serialisable ({type(exc).__name__})") from None
