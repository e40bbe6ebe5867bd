"""The ``heuristic`` backend: the adapter that serves the rules' answers to the engine.

The rules themselves are tested in ``rules/test_rules.py``; here: the backend interface,
the request context it reads, that its text is the rules' text byte for byte, and that
its cache identity is the rules' version.
"""

from __future__ import annotations

from typing import Any

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.llm.heuristic import HeuristicBackend
from enrichment_dagster.llm.parsing import ParsedAnswer, parse_answer
from enrichment_dagster.llm.registry import make_backend
from enrichment_dagster.llm.types import InvalidRequestError, LLMBackend, LLMRequest, RecordInputs
from enrichment_dagster.rules import answers

BACKEND = HeuristicBackend()

SAMPLE = (
    "We are seeking a Senior Data Engineer. Location: Austin, TX (Hybrid - 3 days in the "
    "office per week). Requirements: 5+ years of Python, SQL and Apache Airflow on AWS. "
    "We will not sponsor visas. Compensation: $150,000 - $180,000 per year + equity."
)
RECORD = SilverRecord(
    job_posting_id="900", job_title="Data Engineer", job_description_text=SAMPLE
)


def request(pass_number: int, **context: Any) -> LLMRequest:
    return LLMRequest(
        record_id="900",
        pass_number=pass_number,  # type: ignore[arg-type]
        messages=(),
        model_id="heuristic",
        max_output_tokens=0,
        inputs=RecordInputs(record=RECORD, **context),
    )


def answer(pass_number: int, **context: Any) -> ParsedAnswer:
    parsed = parse_answer(BACKEND.complete(request(pass_number, **context)).text, pass_number)
    assert parsed.status == "complete", parsed.error
    return parsed


def test_backend_interface_and_registry() -> None:
    backend = make_backend("heuristic")
    assert isinstance(backend, HeuristicBackend)
    assert isinstance(backend, LLMBackend) and backend.name == "heuristic"
    response = backend.complete(request(1))
    assert (response.stop_reason, response.input_tokens, response.output_tokens) == (
        "end_turn",
        0,
        0,
    )
    assert response.model_id == "heuristic" and response.text.startswith('{"extraction":')


def test_the_text_is_the_rules_answer_byte_for_byte() -> None:
    earlier: dict[str, Any] = {}
    for number in (1, 2, 3):
        text = BACKEND.complete(request(number, **earlier)).text
        assert text == answers.render(answers.answer(number, RECORD, **earlier))
        earlier[f"pass{number}"] = parse_answer(text, number).output
    for number in (1, 2, 3):  # without earlier answers the rules compute their own
        assert BACKEND.complete(request(number)).text == answers.render(
            answers.answer(number, RECORD)
        )


def test_the_cache_identity_is_the_rules_version() -> None:
    assert HeuristicBackend.cache_identity == f"heuristic-{answers.rules_version()}"


def test_missing_record_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError):
        BACKEND.complete(LLMRequest("1", 1, (), "heuristic", 0))


def test_unknown_pass_or_bad_earlier_answer_is_an_invalid_request() -> None:
    with pytest.raises(InvalidRequestError, match="unknown pass 4"):
        BACKEND.complete(request(4))
    with pytest.raises(InvalidRequestError, match="pass1"):
        BACKEND.complete(request(2, pass1="not an answer"))


def test_the_engines_description_changes_nothing() -> None:
    """The engine passes ``record.description`` in the inputs; the answers are the same."""
    plain = [BACKEND.complete(request(n)).text for n in (1, 2, 3)]
    with_description = [
        BACKEND.complete(request(n, description=RECORD.description)).text for n in (1, 2, 3)
    ]
    assert plain == with_description
