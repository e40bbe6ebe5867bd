"""Raw model text -> contract object, or a typed parse error.

Real answers wrap their JSON in ``<reasoning>`` blocks, markdown fences and prose, use
single quotes and trailing commas, forget the top-level key, and get cut off by the
output cap. Everything recoverable is recovered and named in ``repairs``; a cut answer is
salvaged as ``partial`` and never passed off as complete; an answer with no JSON at all
(reasoning only) is ``no_json``.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any, Literal

from enrichment_dagster.contracts.lenient import ContractError, ValidationReport, validate_pass
from enrichment_dagster.contracts.passes import Contract
from enrichment_dagster.llm.tolerant_json import (
    MAX_NESTING,
    TolerantJSONError,
    read_int,
    read_tolerant,
)
from enrichment_dagster.llm.types import valid_text

#: The error class of an answer that broke the parser or the validator in a way no other
#: class names (a bug, or an input nobody foresaw): still a typed, counted answer failure.
UNPARSEABLE = "unparseable"

ParseStatus = Literal["complete", "partial", "no_json", "failed"]

_REASONING_TAGS = ("reasoning", "thinking", "think", "thought")
# A reasoning block opens at the start of a line (every recorded answer does): a tag in
# the middle of a line is text, e.g. a quoted posting inside a JSON string.
_CLOSED_BLOCK = re.compile(
    r"^[ \t]*<(" + "|".join(_REASONING_TAGS) + r")\b[^>]*>.*?</\1\s*>",
    re.DOTALL | re.IGNORECASE | re.MULTILINE,
)
_OPEN_TAG = re.compile(
    r"^[ \t]*<(" + "|".join(_REASONING_TAGS) + r")\b[^>]*>", re.IGNORECASE | re.MULTILINE
)
_FENCE_OPEN = re.compile(r"```(?:json|JSON|javascript)?\s*\n?")


@dataclass
class ParseResult:
    status: ParseStatus
    data: dict[str, Any] | None = None
    error_class: str | None = None
    error: str | None = None
    repairs: list[str] = field(default_factory=list)
    reasoning: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("complete", "partial")


def _strip_reasoning(text: str, repairs: list[str]) -> tuple[str, str | None]:
    reasoning: list[str] = []

    def keep(match: re.Match[str]) -> str:
        reasoning.append(match.group(0))
        return ""

    stripped = _CLOSED_BLOCK.sub(keep, text)
    if reasoning:
        repairs.append("reasoning block removed")
    opened = _OPEN_TAG.search(stripped)
    if opened:
        # An unclosed reasoning block: the answer, if any, starts at the first line that
        # opens a JSON object or a fence after the tag.
        rest = stripped[opened.end() :]
        start = re.search(r"^\s*(\{|```)", rest, re.MULTILINE)
        reasoning.append(rest if start is None else rest[: start.start()])
        stripped = stripped[: opened.start()] + ("" if start is None else rest[start.start() :])
        repairs.append("unclosed reasoning block removed")
    return stripped, ("\n".join(reasoning) or None)


def _candidate(text: str, repairs: list[str]) -> tuple[str, int] | None:
    """The text to read and the index of its first ``{``; fences preferred to prose."""
    fenced = _fenced(text)
    if fenced is not None:
        repairs.append("markdown fence removed")
        return fenced
    if text.lstrip().startswith("["):
        return text, text.index("[")  # a top-level array is read, then refused as not an object
    brace = text.find("{")
    if brace < 0:
        return None
    if text[:brace].strip():
        repairs.append("prose before JSON ignored")
    return text, brace


def _fenced(text: str) -> tuple[str, int] | None:
    """The body of the first markdown fence that holds a ``{``, and that ``{``'s index.

    A fence inside a string of the JSON (a quoted posting that contains markdown) is part
    of the answer, not around it: it neither opens nor closes the answer's fence. Linear in
    the text, however many fences a hostile answer holds.
    """
    first_brace = text.find("{")
    if first_brace < 0:
        return None
    strings = _json_strings(text, first_brace)
    position = 0
    while (opening := _FENCE_OPEN.search(text, position)) is not None:
        if _inside(strings, opening.start()):
            return None
        close = text.find("```", opening.end())
        while close >= 0 and _inside(strings, close):
            close = text.find("```", close + 3)
        close = close if close >= 0 else len(text)
        body = text[opening.end() : close]
        brace = body.find("{")
        if brace >= 0:
            return body, brace
        position = close + 3
    return None


_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"?', re.DOTALL)


def _json_strings(text: str, start: int) -> tuple[list[int], list[int]]:
    """Starts and ends of the double-quoted strings of the JSON opened at ``start``."""
    starts: list[int] = []
    ends: list[int] = []
    quote = text.find('"', start)
    while quote >= 0:
        match = _JSON_STRING.match(text, quote)
        assert match is not None  # the pattern matches any text opening with a quote
        starts.append(quote)
        ends.append(match.end())
        quote = text.find('"', match.end())
    return starts, ends


def _inside(strings: tuple[list[int], list[int]], position: int) -> bool:
    starts, ends = strings
    index = bisect_right(starts, position) - 1
    return index >= 0 and starts[index] < position < ends[index]


def _loads(text: str) -> Any:
    """``json.loads`` with long integers read as floats; too-deep nesting is a
    JSONDecodeError (the tolerant reader then refuses it by name)."""
    try:
        return json.loads(text, parse_int=read_int)
    except RecursionError as exc:
        raise json.JSONDecodeError(f"nested too deep: {exc}", text[:1], 0) from None


def _read_whole(text: str) -> dict[str, Any] | None:
    """The answer when the whole text is one JSON object, else None."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        data = _loads(stripped)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


class _TooDeep(ValueError):
    pass


def _made_valid(value: Any) -> Any:
    """``value`` with every string (keys too) made valid Unicode; _TooDeep past
    MAX_NESTING. Iterative: the depth of a hostile answer must not reach the C stack."""
    root: list[Any] = [value]
    stack: list[tuple[Any, int]] = [(root, 0)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_NESTING:
            raise _TooDeep(f"JSON nested deeper than {MAX_NESTING} levels")
        if isinstance(container, dict):
            for key in list(container):
                item = container[key]
                if isinstance(item, str):
                    item = valid_text(item)
                if isinstance(key, str) and (fixed := valid_text(key)) != key:
                    del container[key]
                    key = fixed
                container[key] = item
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
        else:
            for index, item in enumerate(container):
                if isinstance(item, str):
                    container[index] = valid_text(item)
                elif isinstance(item, dict | list):
                    stack.append((item, depth + 1))
    return root[0]


def parse_model_output(text: str, pass_number: int) -> ParseResult:
    """Find and read the JSON answer in raw model text; no contract validation yet."""
    del pass_number  # the layout rules are the same for every pass
    repairs: list[str] = []
    if not text or not text.strip():
        return ParseResult("failed", error_class="empty", error="empty answer")
    direct = _read_whole(text)
    if direct is not None:
        # Already plain JSON: the layout repairs below must not touch text inside its
        # strings (a quoted posting may hold "```" or "<think>").
        try:
            return ParseResult("complete", _made_valid(direct))
        except _TooDeep as exc:
            return ParseResult("failed", error_class="invalid_json", error=str(exc))
    body, reasoning = _strip_reasoning(text, repairs)
    found = _candidate(body, repairs)
    if found is None:
        return ParseResult(
            "no_json",
            error_class="no_json",
            repairs=repairs,
            reasoning=reasoning,
            error="no JSON object in the answer" + (" (reasoning only)" if reasoning else ""),
        )
    candidate, brace = found
    try:
        data = _loads(candidate[brace:].rstrip().rstrip("`").rstrip())
        truncated = False
    except json.JSONDecodeError:
        try:
            result = read_tolerant(candidate, brace)
        except TolerantJSONError as exc:
            return ParseResult(
                "failed",
                error_class="invalid_json",
                error=str(exc),
                repairs=repairs,
                reasoning=reasoning,
            )
        data, truncated = result.value, result.truncated
        repairs.extend(result.repairs)
        if not truncated and candidate[result.end :].strip().strip("`").strip():
            repairs.append("text after JSON ignored")
    try:
        data = _made_valid(data)
    except _TooDeep as exc:
        return ParseResult(
            "failed", error_class="invalid_json", error=str(exc), repairs=repairs,
            reasoning=reasoning,
        )
    if not isinstance(data, dict):
        return ParseResult(
            "failed",
            error_class="not_object",
            repairs=repairs,
            reasoning=reasoning,
            error=f"answer is a {type(data).__name__}, not an object",
        )
    return ParseResult(
        "partial" if truncated else "complete", data, repairs=repairs, reasoning=reasoning
    )


@dataclass
class ParsedAnswer:
    """A parse plus contract validation: what the engine stores for one pass of one record."""

    status: ParseStatus
    output: Contract | None
    report: ValidationReport
    parse: ParseResult
    error_class: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.output is not None

    @property
    def coerced_fields(self) -> int:
        return self.report.count("coerced", "nulled", "renamed", "dropped", "wrapped")


def parse_answer(text: str, pass_number: int) -> ParsedAnswer:
    """Raw text -> validated contract object (complete or partial), or a typed error.

    Never raises: the answer has been paid for by the time it is parsed, so whatever goes
    wrong reading it (an exception nobody foresaw included) is that answer's typed error
    (:data:`UNPARSEABLE`), counted against the record's attempts like any bad answer.
    """
    try:
        return _parse_answer(text, pass_number)
    except Exception as exc:  # noqa: BLE001 (see docstring)
        message = valid_text(f"the answer could not be read: {type(exc).__name__}: {exc}")[:500]
        parse = ParseResult("failed", error_class=UNPARSEABLE, error=message)
        return ParsedAnswer("failed", None, ValidationReport(), parse, UNPARSEABLE, message)


def _parse_answer(text: str, pass_number: int) -> ParsedAnswer:
    parsed = parse_model_output(text, pass_number)
    if not parsed.ok or parsed.data is None:
        return ParsedAnswer(
            parsed.status, None, ValidationReport(), parsed, parsed.error_class, parsed.error
        )
    try:
        validated = validate_pass(pass_number, parsed.data, complete=parsed.status == "complete")
    except ContractError as exc:
        status: ParseStatus = "failed"
        return ParsedAnswer(status, None, ValidationReport(), parsed, exc.error_class, str(exc))
    return ParsedAnswer(parsed.status, validated.model, validated.report, parsed)
