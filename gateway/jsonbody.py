"""Reading a JSON request body with its nesting bounded before the parser sees it.

`json.loads` recurses once per `[` or `{`: a body of 100,000 brackets raises RecursionError (an answer 500) and
anything it did parse would nest too deeply for every later step (json.dumps into the audit log included). The
depth is measured first, outside string literals, with an early stop, so a hostile body costs one pass at most.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32

# A JSON string literal (escapes included); brackets inside one do not nest. The unrolled form never backtracks.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPENERS = frozenset(b"[{")


class TooDeep(ValueError):
    """The body nests arrays and objects deeper than allowed."""


def depth_exceeds(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether `raw` opens more than `limit` arrays/objects at once (outside strings). Unbalanced or otherwise
    invalid JSON is left for the parser to refuse."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False
    depth = 0
    for byte in brackets:
        if byte in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def loads(raw: bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads`, refusing a body nested deeper than `max_depth` with TooDeep (a ValueError, like every other
    reason the body is not acceptable JSON)."""
    if depth_exceeds(raw, max_depth):
        raise TooDeep(f"the JSON nests arrays and objects more than {max_depth} levels deep")
    return json.loads(raw)
