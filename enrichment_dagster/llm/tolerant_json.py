"""A forgiving JSON reader for model output.

``json.loads`` rejects what models routinely write: single-quoted strings, trailing
commas, Python literals, and above all answers cut off by the output-token cap. This
reader accepts those and reports what it had to forgive. On a cut it returns what was
complete before the cut: an unfinished object near the top (the answer, its wrapper key
and the field groups) keeps its finished members; any other unfinished value is dropped,
because half a list or half a ``{value, confidence}`` pair would pass for a real answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Unfinished objects at this depth or above keep their completed members.
KEEP_PARTIAL_OBJECT_DEPTH = 2
#: Deeper nesting is refused (an answer nests 4 levels; 10,000 would overflow the stack).
MAX_NESTING = 64
#: Integers longer than this are read as floats: Python refuses to convert more than 4,300
#: digits, and no contract field holds more than a float can (the validator then nulls an
#: out-of-range value as a field issue instead of losing the answer).
MAX_INT_DIGITS = 300


def read_int(token: str) -> int | float:
    """A JSON integer token as int, or as float (possibly inf) when it is too long."""
    if len(token) > MAX_INT_DIGITS:
        return float(token)
    return int(token)


class _Truncated(Exception):
    """Raised at end of input; carries the partial value built so far (or None)."""

    def __init__(self, partial: Any = None, keep: bool = False) -> None:
        super().__init__("truncated")
        self.partial = partial
        self.keep = keep


class TolerantJSONError(ValueError):
    pass


@dataclass
class TolerantResult:
    value: Any
    truncated: bool
    repairs: list[str] = field(default_factory=list)
    end: int = 0


_LITERALS = {
    "true": True,
    "false": False,
    "null": None,
    "True": True,
    "False": False,
    "None": None,
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.repairs: list[str] = []

    def note(self, repair: str) -> None:
        if repair not in self.repairs:
            self.repairs.append(repair)

    def skip_ws(self) -> None:
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch in " \t\r\n":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = n if end < 0 else end
                self.note("comment removed")
            else:
                break

    def peek(self) -> str:
        self.skip_ws()
        if self.pos >= len(self.text):
            raise _Truncated()
        return self.text[self.pos]

    def value(self, depth: int) -> Any:
        if depth > MAX_NESTING:
            raise TolerantJSONError(f"JSON nested deeper than {MAX_NESTING} levels")
        ch = self.peek()
        if ch == "{":
            return self.obj(depth)
        if ch == "[":
            return self.array(depth)
        if ch in "\"'":
            return self.string()
        return self.bare()

    def obj(self, depth: int) -> dict[str, Any]:
        self.pos += 1
        result: dict[str, Any] = {}
        keep = depth <= KEEP_PARTIAL_OBJECT_DEPTH
        while True:
            key: str | None = None
            try:
                ch = self.peek()
                if ch == "}":
                    self.pos += 1
                    return result
                if ch == ",":
                    self.pos += 1
                    if self.peek() == "}":
                        self.note("trailing comma removed")
                    continue
                key = self.string() if ch in "\"'" else self.bare_key()
                if not key.strip() and self.peek() not in ":":
                    # `"ic", " "confidence": 0.8`: a stray quote split the real key.
                    self.note("stray quote dropped")
                    key = self.string() if self.peek() in "\"'" else self.bare_key()
                    if self.peek() in "\"'":
                        self.pos += 1
                if self.peek() != ":":
                    raise TolerantJSONError(f"expected ':' after key {key!r} at {self.pos}")
                self.pos += 1
                result[key] = self.value(depth + 1)
            except _Truncated as cut:
                if cut.keep and cut.partial is not None and key is not None:
                    result[key] = cut.partial
                raise _Truncated(result if keep else None, keep) from None

    def array(self, depth: int) -> list[Any]:
        self.pos += 1
        result: list[Any] = []
        while True:
            try:
                ch = self.peek()
                if ch == "]":
                    self.pos += 1
                    return result
                if ch == ",":
                    self.pos += 1
                    if self.peek() == "]":
                        self.note("trailing comma removed")
                    continue
                result.append(self.value(depth + 1))
            except _Truncated:
                raise _Truncated(None, False) from None

    def string(self) -> str:
        quote = self.text[self.pos]
        if quote == "'":
            self.note("single-quoted string read")
        self.pos += 1
        out: list[str] = []
        text, n = self.text, len(self.text)
        while self.pos < n:
            ch = text[self.pos]
            if ch == quote:
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                if self.pos + 1 >= n:
                    break
                esc = text[self.pos + 1]
                if esc == "u":
                    hex_digits = text[self.pos + 2 : self.pos + 6]
                    if len(hex_digits) < 4:
                        break
                    try:
                        out.append(chr(int(hex_digits, 16)))
                    except ValueError as exc:
                        raise TolerantJSONError(f"bad \\u escape at {self.pos}") from exc
                    self.pos += 6
                    continue
                out.append({"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}.get(esc, esc))
                self.pos += 2
                continue
            if ch == "\n" and quote == '"':
                self.note("raw newline in string kept")
            out.append(ch)
            self.pos += 1
        raise _Truncated()

    def bare(self) -> Any:
        start = self.pos
        text, n = self.text, len(self.text)
        while self.pos < n and text[self.pos] not in ",}] \t\r\n":
            self.pos += 1
        token = text[start : self.pos]
        if self.pos >= n:
            raise _Truncated()  # a number or literal cut at the end may be incomplete
        if token in _LITERALS:
            if token not in ("true", "false", "null"):
                self.note("Python literal read")
            return _LITERALS[token]
        try:
            if token in ("NaN", "Infinity", "-Infinity") or any(c in token for c in ".eE"):
                # NaN, Infinity and 1e400 are read; the validator nulls a non-finite value as
                # a field issue, so one bad number never costs the rest of the answer.
                return float(token)
            return read_int(token)
        except ValueError as exc:
            raise TolerantJSONError(f"unexpected token {token[:30]!r} at {start}") from exc

    def bare_key(self) -> str:
        start = self.pos
        while self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] == "_"
        ):
            self.pos += 1
        if self.pos >= len(self.text):
            raise _Truncated()
        if self.pos == start:
            raise TolerantJSONError(f"expected a key at {start}")
        self.note("unquoted key read")
        return self.text[start : self.pos]


def read_tolerant(text: str, start: int = 0) -> TolerantResult:
    """Read one JSON value starting at ``start`` (which should point at ``{``)."""
    reader = _Reader(text)
    reader.pos = start
    try:
        value = reader.value(0)
    except _Truncated as cut:
        reader.note("truncated output salvaged")
        return TolerantResult(cut.partial, True, reader.repairs, len(text))
    return TolerantResult(value, False, reader.repairs, reader.pos)
