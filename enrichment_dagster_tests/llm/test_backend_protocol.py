"""The backend interface is declared, not discovered: every backend the registry builds has
every member of ``LLMBackend``, and the engine reads them as attributes (a misspelt or
missing one fails loudly instead of silently changing cache keys or prices)."""

from __future__ import annotations

import importlib

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, run_pass
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.registry import BACKENDS
from enrichment_dagster.llm.types import ConfigurationError, LLMBackend, LLMRequest, LLMResponse

RECORD = SilverRecord(job_posting_id="1", job_title="Data Engineer",
                      job_description_text="Python and SQL on AWS.")


@pytest.mark.parametrize("name", sorted(BACKENDS))
def test_every_registered_backend_declares_the_protocol(name: str) -> None:
    module_name, class_name = BACKENDS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, BaseBackend)
    for member in ("name", "cache_identity", "answers_by_record", "reads_record", "cost_usd", "complete"):
        assert hasattr(cls, member), (name, member)


def test_the_defaults_are_the_name_the_prompt_and_the_price_table() -> None:
    class Plain(BaseBackend):
        name = "plain"

    backend = Plain()
    assert isinstance(backend, LLMBackend)
    assert backend.cache_identity == "plain" and backend.answers_by_record is False
    assert backend.reads_record is False
    assert backend.cost_usd("openai.gpt-oss-120b-1:0", 1_000_000, 0) == pytest.approx(0.15)
    with pytest.raises(ConfigurationError):
        backend.cost_usd("no.such-model", 1, 1)


class _MustNotBeCalled:
    """Counts calls to ``complete``; none is expected."""

    name = "must-not-be-called"
    calls = 0

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.calls += 1
        raise AssertionError("must not be called")


class _DeclaredMustNotBeCalled(_MustNotBeCalled, BaseBackend):
    pass


@pytest.mark.parametrize("backend, config, error", [
    (_MustNotBeCalled(), EngineConfig(), AttributeError),  # no cache_identity, no cost_usd
    (_DeclaredMustNotBeCalled(), EngineConfig(models={1: "no.such-model"}), ConfigurationError),
])
def test_what_the_engine_cannot_use_fails_before_any_call(
        backend: _MustNotBeCalled, config: EngineConfig, error: type[Exception]) -> None:
    with pytest.raises(error):
        run_pass([RECORD], 1, backend, config)  # type: ignore[arg-type]
    assert backend.calls == 0


class _Recording(BaseBackend):
    """Answers pass 1 with an empty object and keeps every request it got."""

    name = "recording"

    def __init__(self, reads_record: bool) -> None:
        self.reads_record = reads_record
        self.requests: list[LLMRequest] = []

    def complete(self, request: LLMRequest) -> LLMResponse:
        self.requests.append(request)
        return LLMResponse(text="{}", stop_reason="end_turn", input_tokens=1, output_tokens=1,
                           latency_s=0.0, model_id=request.model_id)


@pytest.mark.parametrize("reads_record", [False, True])
def test_only_a_backend_that_reads_the_record_is_given_it(reads_record: bool) -> None:
    backend = _Recording(reads_record)
    run_pass([RECORD], 1, backend, EngineConfig())
    assert backend.requests
    for request in backend.requests:
        if reads_record:
            assert request.inputs is not None and request.inputs.record == RECORD
            assert request.inputs.description == RECORD.description
        else:
            assert request.inputs is None
