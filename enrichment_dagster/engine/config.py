"""What one run of the engine may do: concurrency, pacing, retries, budget, models.

Every knob has a default that is safe for a production Bedrock account (a few requests in
flight, bounded retries, no client-side quota). The values are plain data so that Dagster
resources, the CLI and tests can build them from strings; :meth:`EngineConfig.validate`
rejects impossible settings before any record is touched.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from enrichment_dagster.llm.types import ConfigurationError

DEFAULT_MODEL = "openai.gpt-oss-120b-1:0"

#: Output tokens a dry run assumes per pass when estimating cost: the medians measured on
#: the old system's gpt-oss answers (hidden reasoning included), see original-system §9.5.
DEFAULT_ESTIMATED_OUTPUT_TOKENS: Mapping[int, int] = {1: 3500, 2: 3050, 3: 4100}

#: The truncation retry asks for this multiple of the first output budget, unless
#: ``retry_max_output_tokens`` names a budget for the pass.
TRUNCATION_BUDGET_FACTOR = 2


@dataclass(frozen=True)
class EngineConfig:
    """Settings of :func:`enrichment_dagster.engine.run_pass`.

    Retries come in three kinds, each bounded and each counted in the record's telemetry:

    * transport: a ``retryable`` :class:`~enrichment_dagster.llm.types.LLMError` raised by
      the backend. Backends make one attempt per call (Bedrock as the resource builds it,
      botocore ``max_attempts=1``; the openai backend always), so the engine is the only
      retry loop: stacked loops multiply the requests and the wait (fault 1 of the old
      system). Throttles get ``max_throttle_retries`` more tries, paced by the shared
      throttle governor; other retryable errors (5xx, timeouts) get
      ``max_transient_retries`` (the resource raises it to 2: three tries in all).
    * truncation: an answer cut by ``max_tokens`` is asked once more with the larger
      ``retry_max_output_tokens`` budget.
    * re-ask: an answer that cannot be parsed or validated is asked once more with the
      error appended as an extra user message.
    """

    #: Worker threads, i.e. model calls in flight at once.
    concurrency: int = 8
    #: Client-side quota (token buckets); None means no client-side limit.
    requests_per_minute: float | None = None
    #: Client-side token quota on the *estimated input tokens* of each request.
    tokens_per_minute: float | None = None
    #: Output budget per pass; a pass not listed uses the model's default from models.yaml.
    max_output_tokens: Mapping[int, int] = field(default_factory=dict)
    #: Output budget of the one truncation retry; default: 2 x the first budget.
    retry_max_output_tokens: Mapping[int, int] = field(default_factory=dict)
    #: Extra tries after a throttle that the backend could not absorb.
    max_throttle_retries: int = 8
    #: Extra tries after another retryable error (5xx, model timeout, connection reset).
    max_transient_retries: int = 1
    #: Upper bound of the random pause before a transient retry: base x 2^(n-1) seconds.
    transient_backoff_s: float = 1.0
    #: Upper bound of the random pause before a throttle retry: base x 2^(n-1) seconds
    #: (on top of the shared governor's pause).
    throttle_backoff_s: float = 0.05
    #: Optional USD cap for one batch (one call of ``run_pass``).
    budget_usd: float | None = None
    #: Runs in which a record may be sent and fail before it is ``permanently_failed``.
    max_attempts_per_record: int = 3
    #: Send records even when the ledger says they are permanently failed (a "force").
    ignore_attempts_ledger: bool = False
    #: Render and estimate only; nothing is sent.
    dry_run: bool = False
    #: Model id per pass; a pass not listed uses ``default_model``.
    models: Mapping[int, str] = field(default_factory=dict)
    default_model: str = DEFAULT_MODEL
    #: Output tokens assumed by estimates (dry run and budget reservations).
    estimated_output_tokens: Mapping[int, int] = field(
        default_factory=lambda: dict(DEFAULT_ESTIMATED_OUTPUT_TOKENS)
    )
    temperature: float = 0.0
    #: Pass 2 needs pass 1's output, pass 3 needs both. When True (default) a record whose
    #: earlier pass has no output is not sent (``upstream_failed``): an answer made without
    #: its context would be paid for and then replaced once the earlier pass succeeds.
    require_previous_passes: bool = True
    #: Factor applied to the confidence of a pass-2/3 field whose evidence is not found in
    #: the posting (see :mod:`enrichment_dagster.engine.grounding`).
    ungrounded_confidence_factor: float = 0.5
    #: Prompt input budget (tokens) handed to the renderer.
    max_input_tokens: int = 12000
    #: Connection failures in a row (nothing reaching the model in between) after which
    #: the rest of the batch is not sent: ``model_unreachable`` (engine.stops).
    unreachable_stop_after: int = 8

    def model_for(self, pass_number: int) -> str:
        return self.models.get(pass_number) or self.default_model

    def output_budget(self, pass_number: int, model_default: int) -> int:
        return int(self.max_output_tokens.get(pass_number) or model_default)

    def retry_output_budget(self, pass_number: int, first_budget: int) -> int:
        explicit = self.retry_max_output_tokens.get(pass_number)
        return int(explicit) if explicit else first_budget * TRUNCATION_BUDGET_FACTOR

    def estimated_output(self, pass_number: int) -> int:
        return int(self.estimated_output_tokens.get(pass_number, 0))

    def validate(self) -> None:
        """Raise ConfigurationError for settings that cannot work."""
        problems = []
        if self.concurrency < 1:
            problems.append(f"concurrency must be >= 1, got {self.concurrency}")
        for name in ("requests_per_minute", "tokens_per_minute", "budget_usd"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                problems.append(f"{name} must be > 0 or None, got {value}")
        for name in ("max_throttle_retries", "max_transient_retries"):
            if getattr(self, name) < 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_attempts_per_record < 1:
            problems.append(
                f"max_attempts_per_record must be >= 1, got {self.max_attempts_per_record}"
            )
        if not 0.0 <= self.ungrounded_confidence_factor <= 1.0:
            problems.append("ungrounded_confidence_factor must be within 0..1")
        for name in ("max_output_tokens", "retry_max_output_tokens"):
            for pass_number, value in getattr(self, name).items():
                if int(value) < 1:
                    problems.append(f"{name}[{pass_number}] must be >= 1, got {value}")
        if problems:
            raise ConfigurationError("invalid engine configuration: " + "; ".join(problems))
