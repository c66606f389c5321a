"""Guards around bytes from outside (request bodies, queue messages, uploads) before a library sees them.

Two libraries can fail in ways an ``except ValueError`` does not catch:

- ``json.loads`` recurses once per nesting level and raises :class:`RecursionError` past ~1,000 levels of
  ``[`` or ``{``: the depth is measured first, without recursion, and refused above a limit;
- cryptography's Rust code panics on some inputs (a NUL byte in a password), and pyo3's ``PanicException``
  derives from :class:`BaseException`: :func:`contain_panics` turns it into the product's own 4xx error.

Errors raised here carry a message that names the problem, never the input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import accumulate
from typing import Any

# A JSON string (with escapes), removed before brackets are counted: brackets inside strings do not nest.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableInput(ValueError):
    """Input a guard refused; ``str(exc)`` is safe to show (it never repeats the input)."""


def json_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text`` (brackets inside strings do not count), computed
    without recursion. For text that is not JSON the figure is an upper bound, which is all a guard needs."""
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    if not brackets:
        return 0
    return max(accumulate(1 if bracket in "[{" else -1 for bracket in brackets))


def load_json(raw: str | bytes, *, max_depth: int) -> Any:
    """``json.loads`` for untrusted text: UTF-8 checked, nesting bounded, every failure
    :class:`UnreadableInput` (numbers of more than 4,300 digits too: Python refuses to convert them)."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UnreadableInput("not valid UTF-8") from None
    if json_depth(raw) > max_depth:
        raise UnreadableInput(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise UnreadableInput("not valid JSON") from None


def has_lone_surrogate(document: Any) -> bool:
    """Whether a decoded JSON document holds a string (or key) with a lone surrogate (``"\\ud800"``): text no
    UTF-8 encoder, and so no store or library downstream, can take. Bounded: documents come from
    :func:`load_json`, whose depth is limited."""
    stack = [document]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def is_panic(exc: BaseException) -> bool:
    """pyo3's ``PanicException`` (a Rust panic surfacing in Python): not importable by name, so recognised by
    its class name; it is a :class:`BaseException` but neither an :class:`Exception` nor an interrupt."""
    return type(exc).__name__ == "PanicException" and not isinstance(exc, Exception)


@contextmanager
def contain_panics(error: Callable[[], Exception]) -> Iterator[None]:
    """Run a library call on untrusted bytes; a Rust panic becomes ``error()`` (raised without its cause,
    whose text can carry the input). Interrupts and exits pass through untouched."""
    try:
        yield
    except BaseException as exc:
        if is_panic(exc):
            raise error() from None
        raise
