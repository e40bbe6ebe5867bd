"""The ``heuristic`` backend: answers from the rules, with no model and no network.

A thin adapter over :mod:`enrichment_dagster.rules`. It plays the part of a model in the
engine: it receives the same :class:`LLMRequest`, returns JSON text in the contract's
shape (:func:`~enrichment_dagster.rules.answers.render`), and that text goes through the
same ``parse_answer`` as a Bedrock answer. It declares ``reads_record``, so the engine
gives it the posting and the earlier answers as :class:`RecordInputs` (``request.inputs``)
and it never re-parses the prompt, which would only lose information. Without earlier
answers the rules compute their own.

Deterministic and thread-safe because the rules are (see :mod:`.answers`); this module
adds no state. Its cache identity is the rules' version, a digest of the rules package
alone: this adapter only unpacks the request and wraps the text, so it cannot change an
answer and is not part of the digest.
"""

from __future__ import annotations

import time
from typing import Any

from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.types import InvalidRequestError, LLMRequest, LLMResponse, RecordInputs
from enrichment_dagster.rules.answers import answer, render, rules_version

MODEL_ID = "heuristic"


def _earlier(inputs: RecordInputs, key: str, model: type[Any]) -> Any:
    value = getattr(inputs, key)
    if value is None or isinstance(value, model):
        return value
    raise InvalidRequestError(f"request.inputs.{key} must be a {model.__name__} or None")


def answer_for(pass_number: int, inputs: RecordInputs | None) -> dict[str, Any]:
    """The rules' answer object of one pass for the posting in ``inputs``.

    ``inputs.description``, when set, must be ``record.description`` (the engine passes
    it); it spares cleaning the raw text again.
    """
    if inputs is None or not isinstance(inputs.record, SilverRecord):
        raise InvalidRequestError("the heuristic backend needs request.inputs with the SilverRecord")
    record, description = inputs.record, inputs.description
    if pass_number == 1:
        return answer(1, record, description=description)
    first = _earlier(inputs, "pass1", Pass1Output)
    if pass_number == 2:
        return answer(2, record, first, description=description)
    if pass_number == 3:
        return answer(3, record, first, _earlier(inputs, "pass2", Pass2Output), description)
    raise InvalidRequestError(f"unknown pass {pass_number!r}")


class HeuristicBackend(BaseBackend):
    """Rule-based stand-in for a model; see the module docstring."""

    name = "heuristic"
    reads_record = True
    #: Part of the engine's cache key: answers of older rules are not served again.
    cache_identity = f"heuristic-{rules_version()}"

    def __init__(self, model_id: str = MODEL_ID) -> None:
        self.model_id = model_id

    def complete(self, request: LLMRequest) -> LLMResponse:
        started = time.perf_counter()
        text = render(answer_for(request.pass_number, request.inputs))
        return LLMResponse(
            text=text,
            stop_reason="end_turn",
            input_tokens=0,
            output_tokens=0,
            latency_s=time.perf_counter() - started,
            model_id=self.model_id,
        )
