"""The ``heuristic`` backend: answers from rules, with no model and no network.

It plays the part of a model in the engine: it receives the same :class:`LLMRequest`,
returns JSON text in the contract's shape, and that text goes through the same
``parse_answer`` as a Bedrock answer. It reads its inputs from ``request.context``
(``record``: the :class:`SilverRecord`; ``pass1`` / ``pass2``: the earlier answers as
contract objects, or None; optionally ``description``: ``record.description``, already
computed by the engine), not from the prompt, because re-parsing a prompt would only
lose information. Without earlier answers it computes its own.

Deterministic: the same record (and earlier answers) give the same text byte for byte
(keys sorted, lists in first-mention or fixed order). Thread-safe: the only shared state
is the compiled catalog and an LRU cache of per-record analyses.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.llm.heuristic import pass1, pass2, pass3
from enrichment_dagster.llm.types import InvalidRequestError, LLMRequest, LLMResponse

MODEL_ID = "heuristic"


def _record(context: dict[str, Any]) -> SilverRecord:
    raw = context.get("record")
    if isinstance(raw, SilverRecord):
        return raw
    if isinstance(raw, dict):
        return SilverRecord.model_validate(raw)
    raise InvalidRequestError(
        "the heuristic backend needs request.context['record'] (a SilverRecord)"
    )


def _earlier(context: dict[str, Any], key: str, model: type[Any]) -> Any:
    raw = context.get(key)
    if raw is None or isinstance(raw, model):
        return raw
    if isinstance(raw, dict):
        return model.model_validate(raw)
    raise InvalidRequestError(
        f"request.context[{key!r}] must be a {model.__name__}, a dict or None"
    )


def render(data: dict[str, Any]) -> str:
    """The answer text: compact JSON with sorted keys (byte-stable)."""
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def answer_for(pass_number: int, context: dict[str, Any]) -> dict[str, Any]:
    """The answer object of one pass for the record in ``context``.

    ``context["description"]``, when present, must be ``record.description`` (the engine
    passes it); it spares cleaning the raw text again.
    """
    record = _record(context)
    description = context.get("description")
    description = description if isinstance(description, str) else None
    if pass_number == 1:
        return pass1.answer(record, description)
    first = _earlier(context, "pass1", Pass1Output)
    if pass_number == 2:
        return pass2.answer(record, first, description)
    if pass_number == 3:
        return pass3.answer(record, first, _earlier(context, "pass2", Pass2Output), description)
    raise InvalidRequestError(f"unknown pass {pass_number!r}")


def rules_version() -> str:
    """A digest of the rules and the skills catalog: the heuristic's "model version"."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.*")):
        if path.suffix in (".py", ".yaml"):
            digest.update(path.name.encode() + b"\x00" + path.read_bytes())
    return digest.hexdigest()[:12]


class HeuristicBackend:
    """Rule-based stand-in for a model; see the module docstring."""

    name = "heuristic"
    #: Part of the engine's cache key: answers of older rules are not served again.
    cache_identity = f"heuristic-{rules_version()}"

    def __init__(self, model_id: str = MODEL_ID) -> None:
        self.model_id = model_id

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        text = render(answer_for(request.pass_number, request.context))
        return LLMResponse(
            text=text,
            stop_reason="end_turn",
            input_tokens=0,
            output_tokens=0,
            latency_s=time.perf_counter() - started,
            model_id=self.model_id,
        )
