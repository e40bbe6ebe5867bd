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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from enrichment_dagster.contracts.grounding import is_grounded, normalized_posting
from enrichment_dagster.contracts.passes import Contract, Inferred
from enrichment_dagster.contracts.silver import SilverRecord

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
    posting = normalized_posting(description)
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


def _children(model: BaseModel) -> Iterable[tuple[str, object]]:
    """(field name, value) of every field: a contract keeps exactly its fields in its
    ``__dict__`` (extra keys are ignored), read directly because this walk visits every
    object of every answer read, and ``type(model).model_fields`` is a descriptor call."""
    return model.__dict__.items()


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


# ------------------------------------------------------------------ wrong posting

WRONG_POSTING = "wrong_posting"
#: Keys under which an answer may state which posting it is about (compared after
#: lowercasing and dropping everything but letters and digits).
_ID_KEYS = frozenset({"jobpostingid", "postingid", "recordid", "jobid", "id"})
_NO_ID = frozenset({"", "null", "none", "na", "n/a", "unknown", "notmentioned", "-"})
#: Pass 1: with at least this many quotes checked against the posting ...
WRONG_POSTING_MIN_CHECKED = 2
#: ... a grounded share below this says the answer quotes another posting.
WRONG_POSTING_MAX_SHARE = 0.25


def stated_ids(data: Any) -> list[str]:
    """The posting ids an answer states: id-like keys at its top level and one level
    down (the core object, or a ``metadata``/``posting`` wrapper)."""
    found: list[str] = []
    levels = [data] if isinstance(data, dict) else []
    if levels:
        levels += [v for v in data.values() if isinstance(v, dict)]
    for level in levels:
        for key, value in level.items():
            token = re.sub(r"[^a-z0-9]", "", str(key).lower())
            if token in _ID_KEYS and isinstance(value, str | int | float) and not isinstance(value, bool):
                text = _canonical_id(value)
                if text.lower().replace(" ", "") not in _NO_ID:
                    found.append(text)
    return found


def _canonical_id(value: str | int | float) -> str:
    """``4348380694``, ``"4348380694.0"`` and ``4348380694.0`` are the same id."""
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0+", text):
        text = text.split(".", 1)[0]
    return text


def posting_text(record: SilverRecord) -> str:
    """What the model was shown of the posting: its job-board facts and its description."""
    facts = (record.job_title, record.company_name, record.job_location,
             record.silver_salary_text)
    return "\n".join([*(f for f in facts if f), record.description])


def wrong_posting(
    pass_number: int, record: SilverRecord, data: Any, output: Contract | None
) -> str | None:
    """Why this answer is about another posting, or None when nothing says so.

    The rule (docs/faults.md, "an answer about another posting"):

    * any pass: the answer states a posting id (``job_posting_id``, ``id``, ...) that is
      not this record's id;
    * pass 1, whose quotes are the extracted values themselves: the record has a
      description, at least ``WRONG_POSTING_MIN_CHECKED`` quotes (``*_text``/``*_raw``)
      could be checked against what the model was shown (job-board facts + description),
      and fewer than ``WRONG_POSTING_MAX_SHARE`` of them are found there.

    Passes 2 and 3 are judged by evidence only field by field (confidence halved): their
    evidence is often a paraphrase, and an inference about the right posting is still
    worth keeping. Such an answer is the record's error (``wrong_posting``): counted as
    an attempt, its raw text kept, never cached, its values never stored as this record's.
    """
    own = _canonical_id(record.job_posting_id)
    for stated in stated_ids(data):
        if stated != own:
            return (f"the answer is about posting {stated[:80]!r}, not {own!r}; "
                    "its values were not kept")
    if pass_number != 1 or output is None or not record.description.strip():
        return None
    tally = _Tally()
    _walk_quotes(output, normalized_posting(posting_text(record)), tally)
    if tally.checked >= WRONG_POSTING_MIN_CHECKED and (
        tally.grounded / tally.checked < WRONG_POSTING_MAX_SHARE
    ):
        return (f"{tally.checked - tally.grounded} of {tally.checked} quotes of the answer are "
                "not in this posting: it is about another posting; its values were not kept")
    return None
