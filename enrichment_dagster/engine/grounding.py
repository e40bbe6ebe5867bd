"""Check the quotes of an answer against the posting, and discount unsupported confidence.

The prompts ask for verbatim quotes (``evidence`` in passes 2 and 3, ``*_text``/``*_raw``
in pass 1). A quote that is not in the posting is a paraphrase or an invention, and the
model's self-reported confidence for that field is then worth less than it says. Policy:

* pass 1: quotes are counted (checked/grounded), nothing is changed: pass-1 fields have no
  confidence and the quote itself is the extracted value.
* passes 2 and 3: for every field whose ``evidence`` is not found in the cleaned posting,
  ``confidence`` is multiplied by ``factor`` (default 0.5) and the field is counted in
  ``downgraded``. The evidence text is kept as the model wrote it, so users can see why.

Grounding runs on every read of an answer, cached or fresh, against the record's own
cleaned description; the cache stores the answer before this adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from enrichment_dagster.contracts.grounding import is_grounded, normalize_for_match
from enrichment_dagster.contracts.passes import Contract, Inferred

_QUOTE_SUFFIXES = ("_text", "_raw")


@dataclass(frozen=True)
class GroundingCounts:
    checked: int = 0
    grounded: int = 0
    downgraded: int = 0


def apply_grounding(
    pass_number: int, output: Contract | None, description: str, factor: float = 0.5
) -> GroundingCounts:
    """Count grounded quotes in ``output`` (mutated in place for passes 2 and 3)."""
    if output is None:
        return GroundingCounts()
    posting = normalize_for_match(description)
    tally = _Tally()
    if pass_number == 1:
        _walk_quotes(output, posting, tally)
    else:
        _walk_inferred(output, posting, factor, tally)
    return GroundingCounts(tally.checked, tally.grounded, tally.downgraded)


class _Tally:
    __slots__ = ("checked", "grounded", "downgraded")

    def __init__(self) -> None:
        self.checked = self.grounded = self.downgraded = 0


def _children(model: BaseModel) -> list[tuple[str, object]]:
    return [(name, getattr(model, name)) for name in type(model).model_fields]


def _walk_quotes(model: BaseModel, posting: str, tally: _Tally) -> None:
    for name, value in _children(model):
        if isinstance(value, BaseModel):
            _walk_quotes(value, posting, tally)
        elif isinstance(value, str) and name.endswith(_QUOTE_SUFFIXES):
            found = is_grounded(value, posting)
            if found is not None:
                tally.checked += 1
                tally.grounded += found


def _walk_inferred(model: BaseModel, posting: str, factor: float, tally: _Tally) -> None:
    for _, value in _children(model):
        if isinstance(value, Inferred):
            _check_inferred(value, posting, factor, tally)
        elif isinstance(value, BaseModel):
            _walk_inferred(value, posting, factor, tally)


def _check_inferred(item: Inferred, posting: str, factor: float, tally: _Tally) -> None:
    found = is_grounded(item.evidence, posting)
    if found is None:
        return
    tally.checked += 1
    if found:
        tally.grounded += 1
    elif item.confidence is not None:
        item.confidence = round(item.confidence * factor, 4)
        tally.downgraded += 1
