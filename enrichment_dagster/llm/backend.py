"""The usual answers to :class:`~enrichment_dagster.llm.types.LLMBackend`, in one place."""

from __future__ import annotations

from enrichment_dagster.llm.prices import get_model
from enrichment_dagster.llm.types import LLMRequest, LLMResponse


class BaseBackend:
    """Identified by its name, answers that depend on the prompt only, calls priced by the
    price table (an unknown model is a configuration error). Subclasses set ``name`` and
    implement ``complete``; they override the rest only to say something else."""

    name: str = "backend"
    answers_by_record: bool = False
    reads_record: bool = False

    @property
    def cache_identity(self) -> str:
        return self.name

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        return get_model(model_id).cost_usd(input_tokens, output_tokens)

    def complete(self, request: LLMRequest) -> LLMResponse:
        raise NotImplementedError(f"{type(self).__name__} does not implement complete()")
