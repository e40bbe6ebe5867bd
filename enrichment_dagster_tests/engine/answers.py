"""Complete, contract-valid model answers generated from the contracts (tests, benchmarks).

Every field gets a value of its kind (the first real vocabulary value, a number inside its
range, a quote of the posting for text), so parsing and validation walk the full object,
as they do on a real answer. Evidence quotes the description, so grounding finds them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.passes import PASS_MODELS
from enrichment_dagster.contracts.types import Kind, field_kinds

DESCRIPTION = (
    "We are hiring a Senior Data Engineer to build streaming pipelines on AWS with Python, "
    "Apache Spark and Airflow. You have 5+ years of experience and a degree in Computer "
    "Science. The salary range is $150,000 - $180,000 per year. This role is remote in the "
    "United States and we do not sponsor visas."
)


def full_answer(pass_number: int, description: str = DESCRIPTION) -> str:
    """A complete answer for ``pass_number`` as the JSON text a model would return."""
    return json.dumps(full_answer_object(pass_number, description))


def full_answer_object(pass_number: int, description: str = DESCRIPTION) -> dict[str, Any]:
    quote = _quote(description)
    return _model_value(PASS_MODELS[pass_number], quote)


def _quote(description: str) -> str:
    words = description.split()
    return " ".join(words[:8]) if words else "the posting"


def _model_value(model: type[BaseModel], quote: str) -> dict[str, Any]:
    return {name: _value(kind, quote) for name, kind in field_kinds(model).items()}


def _value(kind: Kind, quote: str) -> Any:
    if kind.name == "inferred":
        assert kind.item is not None
        return {
            "value": _value(kind.item, quote),
            "confidence": 0.8,
            "evidence": quote,
            "source": "explicit",
        }
    if kind.name == "model":
        assert kind.model is not None
        return _model_value(kind.model, quote)
    if kind.name == "list":
        assert kind.item is not None
        return [_value(kind.item, quote)]
    if kind.name == "enum":
        return next((c for c in kind.choices if c != vocab.NOT_MENTIONED), kind.choices[0])
    if kind.name == "bool":
        return True
    if kind.name in ("int", "float"):
        low = kind.ge if kind.ge is not None else 1.0
        high = kind.le if kind.le is not None else low + 10.0
        value = low if kind.le is not None and kind.le <= 1.0 else min(high, low + 1.0)
        if kind.le is not None and kind.le <= 1.0:
            value = 0.5
        return int(value) if kind.name == "int" else float(value)
    return quote


def answer_by_pass(description: str = DESCRIPTION) -> Mapping[int, str]:
    """``default_answers`` for the fake Bedrock server: a complete answer for each pass."""
    return {n: full_answer(n, description) for n in (1, 2, 3)}
