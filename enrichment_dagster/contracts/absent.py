"""What "absent" means in an answer, both ways: reading it and writing it.

Why one module: prompts let the model leave out whatever the posting does not say (output
tokens are most of the bill for reasoning models, and every null or ``not_mentioned`` the
model writes is paid for), so the rule that restores a left-out field when an answer is
read (:func:`fill_absent`) and the rule that says what may be left out
(:func:`compact_answer`, used to measure the saving and by the offline backend) must be
the same rule, owned here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.passes import INFERRED_POSITIONS, Contract
from enrichment_dagster.contracts.types import Kind, field_kinds

#: The rule as users read it (the data dictionary prints it).
ABSENT_RULE = (
    "What an absent answer looks like, per kind of column: an enum whose vocabulary has "
    "`not_mentioned` holds `not_mentioned` when the posting does not say (also when the model "
    "left the field out or wrote null); a list is empty; a number, boolean or text is null. "
    "Null in such an enum column means no usable answer: the pass failed, its answer was cut "
    "before that field, or the value written was invalid (counted in the pass table's "
    "`nulled_values`)."
)


def fill_absent(
    values: dict[str, Any], model: type[BaseModel], path: str, nulled: set[str]
) -> dict[str, Any]:
    """The contracts' one rule for "absent" in a complete answer.

    Why: prompts let the model leave out what the posting does not say (output tokens are
    most of the bill), so a field left out, or written as null, must read exactly as if the
    model had written the vocabulary's ``not_mentioned``. Per kind: an enum whose
    vocabulary has ``not_mentioned`` (plain, or as a pass-2/3 value) becomes
    ``not_mentioned``; a list becomes empty; numbers, booleans and strings stay null, which
    already says "not stated" for them. Null is left only where the model gave no usable value: a value
    nulled for being invalid (listed in ``nulled``) keeps its null, and a cut (partial)
    answer is never filled.
    """
    out = dict(values)
    for name, kind in field_kinds(model).items():
        field_path = f"{path}.{name}".lstrip(".")
        current = out.get(name)
        if kind.name == "model" and kind.model is not None:
            if current is None and field_path not in nulled:
                current = {}
            if isinstance(current, dict):
                out[name] = fill_absent(current, kind.model, field_path, nulled)
        elif _absent_is_not_mentioned(kind) and current is None and field_path not in nulled:
            out[name] = vocab.NOT_MENTIONED
        elif (
            kind.name == "inferred"
            and kind.item is not None
            and (absent := _absent_value(kind.item)) is not None
            and f"{field_path}.value" not in nulled
            and field_path not in nulled
        ):
            if current is None:
                out[name] = {"value": absent}
            elif isinstance(current, dict) and current.get("value") is None:
                out[name] = {**current, "value": absent}
    return out


def _absent_is_not_mentioned(kind: Kind) -> bool:
    return kind.name == "enum" and vocab.NOT_MENTIONED in kind.choices


def _absent_value(kind: Kind) -> str | list[Any] | None:
    """What a left-out pass-2/3 value reads as: ``not_mentioned``, an empty list, or null."""
    if _absent_is_not_mentioned(kind):
        return vocab.NOT_MENTIONED
    return [] if kind.name == "list" else None


def is_absent(value: Any) -> bool:
    """A value that says only "not stated": null, ``not_mentioned``, an empty list or object."""
    return value is None or value == vocab.NOT_MENTIONED or value == [] or value == {}


def compact_answer(answer: Contract) -> dict[str, Any]:
    """The answer as the prompts ask the model to write it: what :func:`fill_absent`
    restores is left out (absent values, and a pass-2/3 field whose value is absent, with
    its confidence and evidence), so reading it back gives the same values."""
    return _compact(answer.model_dump(mode="json"), type(answer))


def _compact(values: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in field_kinds(model).items():
        value = values.get(name)
        if kind.name == "model" and kind.model is not None and isinstance(value, dict):
            value = _compact(value, kind.model)
        elif kind.name == "inferred" and isinstance(value, dict):
            if is_absent(value.get("value")):
                continue
            value = [value.get(key) for key in INFERRED_POSITIONS]
            while value[-1] is None:
                value.pop()
        if not is_absent(value):
            out[name] = value
    return out
