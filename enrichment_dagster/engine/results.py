"""What the engine returns: one :class:`RecordResult` per input record, and a summary.

``success`` means a *complete* answer: every pass column can be trusted. A truncated answer
that is still cut after the larger-budget retry keeps its salvaged fields in ``output`` with
``partial=True`` and ``success=False``: it is written (nothing is lost), it is not cached as
an answer, and it counts as a failed attempt, so a later run asks again (up to
``max_attempts_per_record``). Treating partial answers as successes would freeze a
half-answer forever, because a cached answer is never paid for again.

Error classes (``error_class``) are the backend's (``throttled``, ``transient``,
``model_timeout``, ``invalid_request``, ``configuration``, ...), the parser's (``no_json``,
``invalid_json``, ``missing_core``, ``empty``, ``truncated``, ...) or the engine's:

* ``budget_exceeded``: not sent, the batch's USD cap was reached;
* ``permanently_failed``: not sent, failed ``max_attempts_per_record`` earlier runs;
* ``upstream_failed``: not sent, an earlier pass has no output for this record;
* ``dry_run``: not sent, a dry run (estimates are in ``estimated_*``);
* ``cache_error``: not sent, the cache could not be read (sending could pay twice);
* ``storage_unwritable``: not sent, a paid answer of the batch could not be cached (every
  further answer would be paid and lost);
* ``model_unreachable``: not sent, the model could not be reached (consecutive connection
  failures); never counted against the record's attempts;
* ``no_posting_text``: not sent, the record has no posting text (no description text and
  no HTML with any words): an answer about nothing would be paid for and invented. Not an
  attempt, never cached; status ``failed`` because it is the record's own fault;
* ``internal``: an unexpected exception in the engine for this record (a bug).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from enrichment_dagster.contracts.output import Pricing
from enrichment_dagster.contracts.passes import (
    SCHEMA_VERSION,
    Contract,
    Pass1Output,
    Pass2Output,
)

BUDGET_EXCEEDED = "budget_exceeded"
PERMANENTLY_FAILED = "permanently_failed"
UPSTREAM_FAILED = "upstream_failed"
DRY_RUN = "dry_run"
CACHE_ERROR = "cache_error"
INTERNAL = "internal"
TRUNCATED = "truncated"
NO_POSTING_TEXT = "no_posting_text"
STORAGE_UNWRITABLE = "storage_unwritable"
MODEL_UNREACHABLE = "model_unreachable"
CANCELLED = "cancelled"

#: Outcomes that never reached the model: they say nothing about the record itself.
NOT_SENT = frozenset({BUDGET_EXCEEDED, PERMANENTLY_FAILED, UPSTREAM_FAILED, DRY_RUN, CACHE_ERROR,
                      STORAGE_UNWRITABLE, MODEL_UNREACHABLE, CANCELLED})


@dataclass(frozen=True)
class PassContext:
    """Earlier passes' outputs for one record, given to pass 2 and pass 3 prompts.

    The caller decides what counts as usable: passing a partial pass-1 output here lets
    pass 2 run on it, passing None makes the record ``upstream_failed``.
    """

    pass1: Pass1Output | None = None
    pass2: Pass2Output | None = None


@dataclass(frozen=True)
class RecordResult:
    """The outcome of one pass for one record, with everything needed for telemetry."""

    record_id: str
    pass_number: int
    success: bool
    partial: bool = False
    output: Contract | None = None
    error_class: str | None = None
    error_message: str | None = None
    #: Requests sent for this record in this run (HTTP attempts, backend retries included).
    attempts: int = 0
    #: Backend calls made by the engine (first call, retries, truncation retry, re-ask).
    calls: int = 0
    #: Tokens and USD of every attempt in this run (0 for cache hits and duplicates).
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    #: What the answer cost when it was bought (equals ``cost_usd`` on a fresh answer).
    original_cost_usd: float = 0.0
    #: The complete answer's own bill, whichever run paid it: its tokens (with
    #: ``original_cost_usd``) and the price list it was billed at (``on_demand`` or
    #: ``batch``). ``answer_pricing`` is None when there is no complete answer, and then
    #: the answer's figures mean nothing. A cache hit shows the buying run's figures (a
    #: batch answer its batch price), so a record costs the same in every table whichever
    #: path answered it and however often it was re-run.
    answer_input_tokens: int = 0
    answer_output_tokens: int = 0
    answer_pricing: Pricing | None = None
    #: Seconds spent inside backend calls for this record.
    latency_s: float = 0.0
    cache_hit: bool = False
    #: Answered by another record of this batch with identical model input.
    deduplicated: bool = False
    model_id: str = ""
    prompt_version: str = ""
    schema_version: str = SCHEMA_VERSION
    cache_key: str = ""
    input_hash: str = ""
    stop_reason: str | None = None
    truncation_retried: bool = False
    reasked: bool = False
    description_shortened: bool = False
    #: The model's raw text when the answer was not complete: re-parse it later for free.
    raw_text_of_failure: str | None = None
    coerced_fields: int = 0
    nulled_fields: int = 0
    issue_counts: Mapping[str, int] = field(default_factory=dict)
    evidence_checked: int = 0
    evidence_grounded: int = 0
    #: Pass-2/3 fields whose confidence was lowered because their evidence is not a quote.
    confidence_downgraded: int = 0
    estimated_input_tokens: int = 0
    estimated_output_tokens: int = 0
    estimated_cost_usd: float = 0.0
    #: Failed earlier runs recorded in the attempts ledger before this one.
    prior_failed_runs: int = 0
    #: A fresh complete answer was written to the cache.
    cache_stored: bool = False

    @property
    def sent(self) -> bool:
        return self.calls > 0

    def telemetry(self) -> dict[str, Any]:
        """Every field except the output object, JSON-ready (for logs and metadata)."""
        data = asdict(self)
        data.pop("output")
        data["issue_counts"] = dict(self.issue_counts)
        return data


@dataclass(frozen=True)
class BatchSummary:
    """Totals of one batch, for logs, Dagster metadata and asset checks."""

    records: int
    successes: int
    partial: int
    failures: int
    failures_by_class: Mapping[str, int]
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cache_hits: int
    deduplicated: int
    calls: int
    attempts: int
    estimated_input_tokens: int
    estimated_output_tokens: int
    estimated_cost_usd: float
    evidence_checked: int
    evidence_grounded: int

    @classmethod
    def from_results(cls, results: Iterable[RecordResult]) -> BatchSummary:
        rows = list(results)
        failures = Counter(r.error_class or "unknown" for r in rows if not r.success)
        return cls(
            records=len(rows),
            successes=sum(r.success for r in rows),
            partial=sum(r.partial for r in rows),
            failures=sum(not r.success for r in rows),
            failures_by_class=dict(sorted(failures.items())),
            input_tokens=sum(r.input_tokens for r in rows),
            output_tokens=sum(r.output_tokens for r in rows),
            cost_usd=round(sum(r.cost_usd for r in rows), 9),
            cache_hits=sum(r.cache_hit for r in rows),
            deduplicated=sum(r.deduplicated for r in rows),
            calls=sum(r.calls for r in rows),
            attempts=sum(r.attempts for r in rows),
            estimated_input_tokens=sum(r.estimated_input_tokens for r in rows),
            estimated_output_tokens=sum(r.estimated_output_tokens for r in rows),
            estimated_cost_usd=round(sum(r.estimated_cost_usd for r in rows), 9),
            evidence_checked=sum(r.evidence_checked for r in rows),
            evidence_grounded=sum(r.evidence_grounded for r in rows),
        )

    @property
    def success_rate(self) -> float:
        return self.successes / self.records if self.records else 1.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["failures_by_class"] = dict(self.failures_by_class)
        data["success_rate"] = self.success_rate
        return data
