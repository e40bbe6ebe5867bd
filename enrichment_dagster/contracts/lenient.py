"""Validation with coercion: one bad value never sinks a whole record.

Models drift: off-vocabulary enums, confidences as strings or as 7, ``"not_mentioned"`` in
a numeric field, a misspelt key, a dict where a float belongs. Failing the record for any
of these throws away a paid answer whose other 120 fields are fine. Instead each value is
coerced when its meaning is unambiguous (``"0.65"`` -> 0.65, ``"Full-time"`` ->
``full_time``) and nulled otherwise, and every decision is recorded as a field-level
:class:`FieldIssue`, so nothing is silently changed. A record fails only when the core
object is missing (:class:`ContractError`).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.absent import fill_absent
from enrichment_dagster.contracts.passes import CORE_KEYS, INFERRED_POSITIONS, PASS_MODELS, Contract
from enrichment_dagster.contracts.types import Kind, field_kinds

IssueKind = Literal["coerced", "nulled", "renamed", "dropped", "missing", "wrapped"]


@dataclass(frozen=True)
class FieldIssue:
    path: str
    kind: IssueKind
    detail: str


@dataclass
class ValidationReport:
    issues: list[FieldIssue] = field(default_factory=list)

    def add(self, path: str, kind: IssueKind, detail: str) -> None:
        self.issues.append(FieldIssue(path, kind, detail))

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(i.kind for i in self.issues))

    def count(self, *kinds: IssueKind) -> int:
        return sum(1 for i in self.issues if i.kind in kinds)

    @property
    def warnings(self) -> list[FieldIssue]:
        """Issues a user should look at: values changed or dropped, not merely absent."""
        return [i for i in self.issues if i.kind != "missing"]


class ContractError(ValueError):
    """The answer lacks the core object of its pass; nothing in it can be trusted."""

    error_class = "missing_core"


@dataclass
class Validated:
    pass_number: int
    model: Contract
    report: ValidationReport


def normalize_token(value: str) -> str:
    """Lowercase, trim, and fold spaces, hyphens and slashes to underscores."""
    token = value.strip().lower()
    token = re.sub(r"[\s\-/]+", "_", token)
    return token.strip("_.")


# ------------------------------------------------------------------ scalar coercion


def coerce_enum(
    raw: Any,
    choices: tuple[str, ...],
    path: str,
    report: ValidationReport,
    synonyms: dict[str, str] | None = None,
) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        if isinstance(raw, dict) and "value" in raw:
            report.add(path, "coerced", "unwrapped {value: ...} object")
            return coerce_enum(raw["value"], choices, path, report, synonyms)
        report.add(path, "nulled", f"expected one of the vocabulary, got {type(raw).__name__}")
        return None
    if raw in choices:
        return raw
    token = normalize_token(raw)
    by_token = {normalize_token(c): c for c in choices}
    table = {**vocab.SYNONYMS, **(synonyms or {})}
    candidate = by_token.get(token) or by_token.get(normalize_token(table.get(token, "")))
    if candidate is None and token in vocab.ABSENT_TOKENS:
        candidate = vocab.NOT_MENTIONED if vocab.NOT_MENTIONED in choices else None
        if candidate is None:
            report.add(path, "coerced", f"{raw!r} read as null")
            return None
    if candidate is None:
        report.add(path, "nulled", f"{raw!r} is not in the vocabulary")
        return None
    report.add(path, "coerced", f"{raw!r} -> {candidate!r}")
    return candidate


_NUMBER = re.compile(r"^[-+]?\d+(?:\.\d+)?$")


def _parse_number(text: str) -> float | None:
    cleaned = text.strip().lower()
    cleaned = re.sub(r"[,$€£₹\s]|usd|eur|gbp|inr|cad", "", cleaned)
    multiplier = 1.0
    if cleaned.endswith("k"):
        cleaned, multiplier = cleaned[:-1], 1000.0
    elif cleaned.endswith("%"):
        cleaned, multiplier = cleaned[:-1], 0.01
    if not _NUMBER.match(cleaned):
        return None
    return float(cleaned) * multiplier


def coerce_number(raw: Any, kind: Kind, path: str, report: ValidationReport) -> float | int | None:
    if raw is None:
        return None
    value: float | None
    if isinstance(raw, bool):
        report.add(path, "nulled", f"boolean {raw} where a number belongs")
        return None
    if isinstance(raw, int | float):
        try:
            value = float(raw)
        except OverflowError:  # an int beyond a float's range: out of range, not a crash
            report.add(path, "nulled", f"an integer of {raw.bit_length()} bits is out of range")
            return None
    elif isinstance(raw, str):
        if normalize_token(raw) in vocab.ABSENT_TOKENS:
            report.add(path, "coerced", f"{raw!r} read as null")
            return None
        value = _parse_number(raw)
        if value is None:
            report.add(path, "nulled", f"{raw!r} is not a number")
            return None
        report.add(path, "coerced", f"string {raw!r} -> {value:g}")
    elif isinstance(raw, dict) and "value" in raw:
        report.add(path, "coerced", "unwrapped {value: ...} object")
        return coerce_number(raw["value"], kind, path, report)
    else:
        report.add(path, "nulled", f"{type(raw).__name__} where a number belongs")
        return None
    if math.isnan(value) or math.isinf(value):
        report.add(path, "nulled", "not a finite number")
        return None
    if (kind.ge is not None and value < kind.ge) or (kind.le is not None and value > kind.le):
        report.add(
            path,
            "nulled",
            f"{value:g} outside [{kind.ge:g}, {kind.le if kind.le is not None else 'inf'}]",
        )
        return None
    if kind.name == "int":
        if not value.is_integer():
            report.add(path, "nulled", f"{value:g} is not a whole number")
            return None
        return int(value)
    return value


_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


def coerce_bool(raw: Any, path: str, report: ValidationReport) -> bool | None:
    if raw is None or isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        token = normalize_token(raw)
        if token in _TRUE or token in _FALSE:
            report.add(path, "coerced", f"string {raw!r} -> {token in _TRUE}")
            return token in _TRUE
        if token in vocab.ABSENT_TOKENS:
            report.add(path, "coerced", f"{raw!r} read as null")
            return None
    if isinstance(raw, int | float) and raw in (0, 1):
        report.add(path, "coerced", f"{raw!r} -> {bool(raw)}")
        return bool(raw)
    if isinstance(raw, dict) and "value" in raw:
        report.add(path, "coerced", "unwrapped {value: ...} object")
        return coerce_bool(raw["value"], path, report)
    report.add(path, "nulled", f"{raw!r} is not a boolean")
    return None


def coerce_str(raw: Any, path: str, report: ValidationReport) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
        return text or None
    if isinstance(raw, bool | int | float):
        report.add(path, "coerced", f"{type(raw).__name__} -> string")
        return str(raw)
    report.add(path, "coerced", f"{type(raw).__name__} serialised to JSON text")
    return json.dumps(raw, ensure_ascii=False, sort_keys=True)


def coerce_list(raw: Any, kind: Kind, path: str, report: ValidationReport) -> list[Any]:
    assert kind.item is not None
    if raw is None:
        return []
    if isinstance(raw, str):
        if normalize_token(raw) in vocab.ABSENT_TOKENS:
            return []
        report.add(path, "coerced", "comma-separated string split into a list")
        raw = [part for part in re.split(r"[,;]", raw) if part.strip()]
    if not isinstance(raw, list):
        report.add(path, "nulled", f"{type(raw).__name__} where a list belongs")
        return []
    items: list[Any] = []
    for index, element in enumerate(raw):
        if (
            kind.item.name == "enum"
            and isinstance(element, str)
            and (normalize_token(element) in vocab.ABSENT_TOKENS)
        ):
            continue  # "not_mentioned" inside a list means "nothing", not a value
        value = coerce_value(element, kind.item, f"{path}[{index}]", report)
        if value is not None and value not in items:
            items.append(value)
    return items


# ----------------------------------------------------------------- structures


def _match_key(key: str, fields: dict[str, Kind]) -> str | None:
    if key in fields:
        return key
    token = normalize_token(key)
    if token in fields:
        return token
    close = difflib.get_close_matches(token, list(fields), n=1, cutoff=0.85)
    return close[0] if close else None


def coerce_model(
    raw: Any,
    model: type[BaseModel],
    path: str,
    report: ValidationReport,
    track_missing: bool = True,
) -> dict[str, Any] | None:
    if raw is None:
        return None
    if isinstance(raw, str) and normalize_token(raw) in vocab.ABSENT_TOKENS:
        report.add(path, "coerced", f"{raw!r} read as null")
        return None
    if not isinstance(raw, dict):
        report.add(path, "nulled", f"{type(raw).__name__} where an object belongs")
        return None
    kinds = field_kinds(model)
    placed: dict[str, Any] = {}
    for key, value in raw.items():
        target = _match_key(str(key), kinds)
        if target is None:
            report.add(f"{path}.{key}", "dropped", "unknown key")
            continue
        if target != key:
            report.add(f"{path}.{key}", "renamed", f"key {key!r} read as {target!r}")
        if target in placed:
            continue  # the exact key wins over a near miss
        placed[target] = value
    result: dict[str, Any] = {}
    for name, kind in kinds.items():
        if name not in placed:
            if track_missing:
                report.add(f"{path}.{name}", "missing", "field absent")
            continue
        result[name] = coerce_value(placed[name], kind, f"{path}.{name}", report)
    return result


def coerce_inferred(
    raw: Any, kind: Kind, path: str, report: ValidationReport
) -> dict[str, Any] | None:
    assert kind.item is not None
    if raw is None:
        return None
    if _is_positional(raw, kind.item):
        raw = dict(zip(INFERRED_POSITIONS, raw, strict=False))
    if (
        not isinstance(raw, dict)
        or "value" not in raw
        and not ({"confidence", "evidence"} & set(raw))
    ):
        report.add(path, "wrapped", "bare value wrapped as {value: ...}")
        raw = {"value": raw}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        target = _match_key(
            str(key), {"value": kind, "confidence": kind, "evidence": kind, "source": kind}
        )
        if target is None:
            report.add(f"{path}.{key}", "dropped", "unknown key")
            continue
        out[target] = value
    result = {
        "value": coerce_value(out.get("value"), kind.item, f"{path}.value", report),
        "confidence": coerce_confidence(out.get("confidence"), f"{path}.confidence", report),
        "evidence": coerce_str(out.get("evidence"), f"{path}.evidence", report),
        "source": coerce_enum(
            out.get("source"), vocab.SOURCE, f"{path}.source", report, vocab.SOURCE_SYNONYMS
        ),
    }
    return result


def _is_positional(raw: Any, item: Kind) -> bool:
    """``[value, confidence, ...]``, told apart from a bare list value: its second item is a
    confidence (a number, a numeric string or null), and for a list-valued field its first
    item is itself a list."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= len(INFERRED_POSITIONS):
        return False
    if item.name == "list":
        return isinstance(raw[0], list) or raw[0] is None
    if len(raw) == 1:
        return False
    second = raw[1]
    if isinstance(second, bool):
        return False
    return second is None or isinstance(second, int | float) or (
        isinstance(second, str) and _parse_number(second) is not None
    )


def coerce_confidence(raw: Any, path: str, report: ValidationReport) -> float | None:
    if (
        isinstance(raw, str)
        and _parse_number(raw) is None
        and normalize_token(raw) not in vocab.ABSENT_TOKENS
    ):
        report.add(path, "nulled", f"confidence given as words ({raw!r}); not guessed")
        return None
    value = coerce_number(raw, Kind("float", ge=0.0, le=1.0), path, report)
    return float(value) if value is not None else None


def coerce_value(raw: Any, kind: Kind, path: str, report: ValidationReport) -> Any:
    if kind.name == "enum":
        return coerce_enum(raw, kind.choices, path, report)
    if kind.name in ("int", "float"):
        return coerce_number(raw, kind, path, report)
    if kind.name == "bool":
        return coerce_bool(raw, path, report)
    if kind.name == "str":
        return coerce_str(raw, path, report)
    if kind.name == "list":
        return coerce_list(raw, kind, path, report)
    if kind.name == "inferred":
        return coerce_inferred(raw, kind, path, report)
    assert kind.model is not None
    return coerce_model(raw, kind.model, path, report, track_missing=False)


# ---------------------------------------------------------------- cross-field rules

_RANGES = (
    ("compensation", "salary_min", "salary_max"),
    ("compensation", "hourly_rate_min", "hourly_rate_max"),
    ("contractor_rates", "daily_rate_min", "daily_rate_max"),
    ("skills_classified", "years_experience_min", "years_experience_max"),
)


def _check_ranges(extraction: dict[str, Any], report: ValidationReport) -> None:
    for group, low, high in _RANGES:
        values = extraction.get(group) or {}
        lo, hi = values.get(low), values.get(high)
        if lo is not None and hi is not None and lo > hi:
            report.add(f"extraction.{group}.{low}", "nulled", f"{low}={lo:g} > {high}={hi:g}")
            report.add(f"extraction.{group}.{high}", "nulled", f"{low}={lo:g} > {high}={hi:g}")
            values[low] = values[high] = None


def _wrap_core(pass_number: int, data: dict[str, Any], report: ValidationReport) -> dict[str, Any]:
    """Accept an answer that forgot its top-level key but holds the groups themselves."""
    core = CORE_KEYS[pass_number]
    if isinstance(data.get(core), dict):
        return data
    model = PASS_MODELS[pass_number]
    core_fields = field_kinds(model)[core].model
    assert core_fields is not None
    groups = set(core_fields.model_fields)
    if groups & set(data):
        report.add(core, "wrapped", f"top-level {core!r} key missing; groups wrapped")
        wrapped = {core: {k: data[k] for k in data if k in groups}}
        for key in set(data) - groups:
            wrapped[key] = data[key]
        return wrapped
    leaf_groups = {
        name: group
        for group, kind in field_kinds(core_fields).items()
        for name in (kind.model.model_fields if kind.model else ())
    }
    if leaf_groups.keys() & set(data):
        report.add(core, "wrapped", f"flat {core!r} fields regrouped into their groups")
        regrouped: dict[str, dict[str, Any]] = {}
        rest: dict[str, Any] = {}
        for key, value in data.items():
            if key in leaf_groups:
                regrouped.setdefault(leaf_groups[key], {})[key] = value
            else:
                rest[key] = value
        return {core: regrouped, **rest}
    raise ContractError(f"pass {pass_number} answer has no {core!r} object")


def validate_pass(pass_number: int, data: Any, *, complete: bool = True) -> Validated:
    """Turn a parsed answer into its contract object, recording every coercion.

    ``complete``: the answer was written to its end (not cut by ``max_tokens``); only then
    does a field it leaves out mean "not stated" (:func:`fill_absent`). Raises
    :class:`ContractError` when the core object is missing or empty of any group.
    """
    report = ValidationReport()
    if not isinstance(data, dict):
        raise ContractError(f"pass {pass_number} answer is a {type(data).__name__}, not an object")
    data = _wrap_core(pass_number, data, report)
    model = PASS_MODELS[pass_number]
    cleaned = coerce_model(data, model, "", report, track_missing=False) or {}
    cleaned = {k.lstrip("."): v for k, v in cleaned.items()}
    _strip_leading_dot(report)
    core = CORE_KEYS[pass_number]
    if not cleaned.get(core) or not any(v is not None for v in cleaned[core].values()):
        raise ContractError(f"pass {pass_number} answer has an empty {core!r} object")
    _track_missing_groups(pass_number, cleaned, report)
    if pass_number == 1:
        _check_ranges(cleaned["extraction"], report)
    if complete:
        nulled = {i.path for i in report.issues if i.kind == "nulled"}
        cleaned = fill_absent(cleaned, model, "", nulled)
    return Validated(pass_number, model.model_validate(cleaned), report)


def _strip_leading_dot(report: ValidationReport) -> None:
    report.issues = [FieldIssue(i.path.lstrip("."), i.kind, i.detail) for i in report.issues]


def _track_missing_groups(
    pass_number: int, cleaned: dict[str, Any], report: ValidationReport
) -> None:
    """Count absent fields group by group, so a truncated answer's gaps are visible."""
    core = CORE_KEYS[pass_number]
    core_model = field_kinds(PASS_MODELS[pass_number])[core].model
    assert core_model is not None
    sections: list[tuple[str, type[BaseModel], dict[str, Any] | None]] = []
    for group, kind in field_kinds(core_model).items():
        assert kind.model is not None
        sections.append((f"{core}.{group}", kind.model, cleaned[core].get(group)))
    if pass_number == 3:
        summary_model = field_kinds(PASS_MODELS[3])["summary"].model
        assert summary_model is not None
        sections.append(("summary", summary_model, cleaned.get("summary")))
    for path, model, values in sections:
        for name in model.model_fields:
            if values is None or name not in values:
                report.add(f"{path}.{name}", "missing", "field absent")
