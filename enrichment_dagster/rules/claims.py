"""The ``{value, confidence, evidence, source}`` objects of passes 2 and 3.

Confidence is the strength of the rule that produced the value, on the scale the old
prompts defined: 0.9+ the text states it, 0.7-0.9 several signals or a strong rule,
0.5-0.7 one moderate signal. Below 0.5 the rules do not answer. "Nothing found" is
``not_mentioned`` (or null for numbers, booleans and objects) with a null confidence and
source ``not_mentioned``: the rules make no claim, rather than claiming certainty
about an absence.
"""

from __future__ import annotations

from typing import Any

from enrichment_dagster.rules.text import Doc


def claim(value: Any, confidence: float, evidence: str | None, source: str) -> dict[str, Any]:
    """A rule's answer; ``evidence`` must be a slice of the description (or None)."""
    return {
        "value": value,
        "confidence": round(confidence, 2),
        "evidence": evidence,
        "source": source,
    }


def absent(value: Any = "not_mentioned") -> dict[str, Any]:
    """No rule fired: no claim."""
    return {"value": value, "confidence": None, "evidence": None, "source": "not_mentioned"}


def quote_or_none(
    doc: Doc, span: tuple[int, int] | None, before: int = 100, after: int = 160
) -> str | None:
    """Verbatim clause around ``span``, or None when there is no span."""
    if span is None or span[0] < 0:
        return None
    return doc.quote(span[0], span[1], before, after)


def find_phrase(doc: Doc, phrase: str | None) -> tuple[int, int] | None:
    """Where ``phrase`` occurs in the description (case-insensitive), if it does."""
    if not phrase:
        return None
    index = doc.lower.find(phrase.lower())
    return (index, index + len(phrase)) if index >= 0 else None
