"""One record's conversation with the model: calls, retries, truncation retry, re-ask.

Every call is paced (:class:`~enrichment_dagster.engine.ratelimit.Pacer`), paid for as
soon as its usage is known (:class:`~enrichment_dagster.engine.budget.BudgetGuard`) and
tallied: the tokens and cost of *every* attempt are summed into the record's telemetry,
including throttled, truncated and re-asked ones (the old system dropped them).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from enrichment_dagster.engine.budget import BudgetGuard
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.prepare import PreparedRecord
from enrichment_dagster.engine.ratelimit import ModelSlots, Pacer
from enrichment_dagster.engine.results import (
    CANCELLED,
    MODEL_UNREACHABLE,
    STORAGE_UNWRITABLE,
    TRUNCATED,
)
from enrichment_dagster.engine.stops import BatchStop, Reachability, StorageGuard, StreamClosed
from enrichment_dagster.llm.parsing import ParsedAnswer, parse_answer
from enrichment_dagster.llm.types import (
    ConfigurationError,
    LLMBackend,
    LLMError,
    LLMRequest,
    LLMResponse,
    Message,
    RecordInputs,
    ThrottledError,
    UnreachableError,
)

REASK_TEMPLATE = (
    "Your previous answer could not be used: {error}. Answer again with only the JSON object."
)

Price = Callable[[int, int], float]


class RunAbort(BatchStop):
    """Set when the backend reports a configuration error (no credentials, no access):
    every later record fails the same way, so the rest of the batch is not sent."""

    keep_first = False

    @property
    def refusal(self) -> str:
        """The error of a record not sent because of it: another record's error, said so."""
        return f"not sent: the backend reported a configuration error in this batch: {self.message}"


@dataclass
class CallEnv:
    """What every worker of one batch shares."""

    backend: LLMBackend
    pass_number: int
    model_id: str
    config: EngineConfig
    pacer: Pacer
    budget: BudgetGuard
    price: Price
    first_budget: int
    retry_budget: int
    output_schema: dict[str, Any] | None
    #: ``config.concurrency`` slots: a conversation holds one from its first request to its
    #: last response (retries and their backoff included), so never more than that many
    #: requests are open at the model. A worker reads the cache and the ledger before it
    #: takes a slot, and validates, grounds and stores the answer after it gave it back:
    #: that work no longer leaves a slot idle (see ``runner.WORKERS_PER_SLOT``).
    slots: ModelSlots
    abort: RunAbort = field(default_factory=RunAbort)
    #: Tripped by the first paid answer the cache could not store (engine.stops).
    storage: StorageGuard = field(default_factory=StorageGuard)
    reach: Reachability = field(default_factory=lambda: Reachability(8))
    closed: StreamClosed = field(default_factory=StreamClosed)


def batch_stop(env: CallEnv) -> tuple[str, str] | None:
    """The error class and message of a record that must not be sent because a batch-wide
    stop is set (engine.stops), or None. Asked when a worker picks the record up and again
    once its first request holds a slot: the stop may have been set while it waited."""
    if env.closed.tripped:
        return CANCELLED, env.closed.refusal
    if env.abort.tripped:
        return "configuration", env.abort.refusal
    if env.storage.tripped:
        return STORAGE_UNWRITABLE, env.storage.refusal
    if env.reach.tripped:
        return MODEL_UNREACHABLE, env.reach.refusal
    return None


@dataclass
class CallTally:
    calls: int = 0
    attempts: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    latency_s: float = 0.0


@dataclass
class Answer:
    """The end of one record's conversation: the last parse, or the error that ended it."""

    tally: CallTally
    parsed: ParsedAnswer | None = None
    text: str | None = None
    stop_reason: str | None = None
    truncation_retried: bool = False
    reasked: bool = False
    error_class: str | None = None
    error_message: str | None = None
    #: The model that answered, as the backend reports it (empty: not reported).
    model_id: str = ""

    @property
    def complete(self) -> bool:
        return (
            self.error_class is None
            and self.parsed is not None
            and self.parsed.status == "complete"
        )


def obtain_answer(env: CallEnv, item: PreparedRecord, answer: Answer | None = None) -> Answer:
    """Ask until the answer is complete or the one truncation retry and the one re-ask are
    spent; transport errors end the conversation with their typed error class.

    Pass ``answer`` to own the tally: every billed call is in it (tokens, cost, raw text)
    the moment the response arrives, before parsing, so even an exception escaping from
    here leaves the paid calls counted in the caller's hands.
    """
    answer = answer if answer is not None else Answer(CallTally())
    messages = item.rendered.messages
    budget = env.first_budget
    while True:
        try:
            with env.slots:
                if answer.tally.calls == 0 and (stop := batch_stop(env)) is not None:
                    answer.error_class, answer.error_message = stop
                    return answer
                response = call_with_retries(env, item, messages, budget, answer.tally)
        except LLMError as exc:
            answer.error_class, answer.error_message = exc.error_class, str(exc)
            return answer
        if answer.parsed is None:
            answer.text, answer.stop_reason = response.text, response.stop_reason
        parsed = parse_answer(response.text, env.pass_number)
        if parsed.output is not None or answer.parsed is None or answer.parsed.output is None:
            # A later unusable answer never hides fields salvaged from an earlier one.
            answer.parsed, answer.text = parsed, response.text
        answer.stop_reason, answer.model_id = response.stop_reason, response.model_id
        if parsed.status == "complete":
            return answer
        if response.truncated and not answer.truncation_retried:
            answer.truncation_retried = True
            budget = env.retry_budget
            continue
        if not response.truncated and not answer.reasked:
            answer.reasked = True
            messages = messages + (Message("user", reask_message(parsed)),)
            continue
        answer.error_class, answer.error_message = final_error(parsed, response, budget)
        return answer


def reask_message(parsed: ParsedAnswer) -> str:
    error = parsed.error or (
        "the JSON object is incomplete" if parsed.status == "partial" else parsed.error_class
    )
    return REASK_TEMPLATE.format(error=error or "it is not a valid answer")


def final_error(parsed: ParsedAnswer, response: LLMResponse, budget: int) -> tuple[str, str]:
    """Class and message of an answer that stayed unusable after the allowed retries."""
    if response.truncated:
        salvaged = "partial fields kept" if parsed.output is not None else "nothing salvaged"
        return TRUNCATED, (
            f"answer cut at max_tokens={budget} even after the larger-budget retry "
            f"({parsed.status}; {salvaged})"
        )
    if parsed.status == "partial":
        return "incomplete_json", "the answer's JSON object is incomplete (partial fields kept)"
    return parsed.error_class or "invalid_answer", parsed.error or "the answer is not usable"


def call_with_retries(
    env: CallEnv,
    item: PreparedRecord,
    messages: tuple[Message, ...],
    max_output_tokens: int,
    tally: CallTally,
) -> LLMResponse:
    """One backend call, retried on retryable errors within the configured bounds."""
    config = env.config
    throttle_retries = transient_retries = 0
    request = build_request(env, item, messages, max_output_tokens)
    estimated = item.rendered.estimated_input_tokens
    while True:
        if env.abort.tripped:
            raise ConfigurationError(env.abort.refusal)
        if env.reach.tripped:
            raise UnreachableError(env.reach.refusal)
        sent_at = env.pacer.before_call(estimated)
        started = time.perf_counter()
        try:
            response = env.backend.complete(request)
        except LLMError as exc:
            tally.calls += 1
            tally.attempts += max(int(exc.attempts), 1)
            tally.latency_s += time.perf_counter() - started
            if isinstance(exc, UnreachableError):
                env.reach.on_unreachable(str(exc))
                if env.reach.tripped:
                    env.pacer.on_other_outcome()
                    raise
            else:
                env.reach.on_reached()
            if isinstance(exc, ThrottledError):
                env.pacer.on_throttle(sent_at)
                if throttle_retries < config.max_throttle_retries:
                    throttle_retries += 1
                    env.pacer.backoff(config.throttle_backoff_s, throttle_retries)
                    continue
            else:
                env.pacer.on_other_outcome()
                if exc.retryable and transient_retries < config.max_transient_retries:
                    transient_retries += 1
                    env.pacer.backoff(config.transient_backoff_s, transient_retries)
                    continue
            if isinstance(exc, ConfigurationError):
                env.abort.trip(str(exc))
            raise
        except BaseException:
            env.pacer.on_other_outcome()  # a broken backend must not hold the probe slot
            tally.calls += 1  # the request may have been billed: it counts as an attempt
            tally.attempts += 1
            tally.latency_s += time.perf_counter() - started
            raise
        record_usage(env, response, tally)
        env.reach.on_reached()
        return response


def record_usage(env: CallEnv, response: LLMResponse, tally: CallTally) -> None:
    cost = env.price(response.input_tokens, response.output_tokens)
    env.budget.spend(cost)
    env.pacer.on_success()
    tally.calls += 1
    tally.attempts += max(int(response.attempts), 1)
    tally.input_tokens += response.input_tokens
    tally.output_tokens += response.output_tokens
    tally.cost_usd += cost
    tally.latency_s += response.latency_s


def build_request(
    env: CallEnv, item: PreparedRecord, messages: tuple[Message, ...], max_output_tokens: int
) -> LLMRequest:
    """The request; a backend that ``reads_record`` also gets the posting and the earlier
    passes (:class:`RecordInputs`), every other backend the prompt only."""
    inputs = None
    if env.backend.reads_record:
        inputs = RecordInputs(record=item.record, description=item.description,
                              pass1=item.context.pass1, pass2=item.context.pass2)
    return LLMRequest(
        record_id=item.record.job_posting_id,
        pass_number=env.pass_number,  # type: ignore[arg-type]
        messages=messages,
        model_id=env.model_id,
        max_output_tokens=max_output_tokens,
        output_schema=env.output_schema,
        temperature=env.config.temperature,
        inputs=inputs,
    )
