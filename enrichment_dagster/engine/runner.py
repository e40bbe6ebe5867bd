"""``run_pass``: one pass over a batch of records, one result per record, in input order.

Per group of identical model inputs (usually one record), in this order:

1. cache hit           -> the stored answer, 0 calls, cost 0 for this run (its own bill,
                          whichever run or path paid it, is carried as ``answer_*``);
2. attempts ledger     -> ``permanently_failed`` after ``max_attempts_per_record`` failed
                          runs (the last raw text is re-parsed for free, partial fields kept);
3. dry run             -> estimates only (``dry_run``);
4. budget              -> ``budget_exceeded`` once the batch's cap is reached;
5. the conversation    -> calls with retries, truncation retry and re-ask (engine.calls);
6. bookkeeping         -> complete answers are cached; other outcomes in which the model
                          was asked count one failed run in the ledger (throttles,
                          configuration errors and calls that never reached the model
                          excepted: they say nothing about the record).

Batch-wide stops (engine.stops): after the first paid answer the cache cannot store,
no record is sent (``storage_unwritable``); after ``unreachable_stop_after`` connection
failures in a row, the rest is not sent (``model_unreachable``); once a failed caller
closes the pass, nothing more is sent (``cancelled``). A worker asks again once its
request holds a model slot (``CallEnv.slots``): a stop set while it waited still holds it.

Whatever goes wrong inside a worker becomes that record's ``internal`` error: a batch never
fails because of one record. Only settings that would fail every record (an invalid
config, a model without a price) raise, and they do so before any call.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from enrichment_dagster.contracts.columns import flatten_pass
from enrichment_dagster.contracts.passes import SCHEMA_VERSION
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.budget import BudgetGuard
from enrichment_dagster.engine.cache import (
    AttemptsLedger,
    CachedAnswer,
    LedgerEntry,
    decode_answer,
    read_answer,
)
from enrichment_dagster.engine.calls import (
    Answer,
    CallEnv,
    CallTally,
    Price,
    batch_stop,
    obtain_answer,
)
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.grounding import (
    WRONG_POSTING,
    GroundingCounts,
    apply_grounding,
    wrong_posting,
)
from enrichment_dagster.engine.prepare import (
    Group,
    PreparedRecord,
    missing_posting_text,
    missing_upstream,
    prepare_record,
)
from enrichment_dagster.engine.ratelimit import ModelSlots, Pacer
from enrichment_dagster.engine.results import (
    BUDGET_EXCEEDED,
    CACHE_ERROR,
    CANCELLED,
    DRY_RUN,
    INTERNAL,
    MODEL_UNREACHABLE,
    NO_POSTING_TEXT,
    PERMANENTLY_FAILED,
    STORAGE_UNWRITABLE,
    UPSTREAM_FAILED,
    BatchSummary,
    PassContext,
    RecordResult,
)
from enrichment_dagster.engine.stops import Reachability
from enrichment_dagster.llm.parsing import UNPARSEABLE, ParsedAnswer, parse_answer
from enrichment_dagster.llm.prices import ON_DEMAND, get_model, is_known_model
from enrichment_dagster.llm.types import ConfigurationError, LLMBackend, valid_text
from enrichment_dagster.prompts.render import PromptBudget, output_schema
from enrichment_dagster.storage.cache_store import CacheStore

log = logging.getLogger(__name__)

#: Failures that do not count against a record in the attempts ledger.
NOT_THE_RECORDS_FAULT = frozenset(
    {"throttled", "configuration", "unreachable", MODEL_UNREACHABLE, STORAGE_UNWRITABLE, CANCELLED}
)
FALLBACK_OUTPUT_TOKENS = 8192
#: Workers per model slot (:attr:`CallEnv.slots`). A worker holds a slot only while its
#: requests are open; reading the cache and the ledger before, and validating, grounding
#: and storing the answer after, take it a few ms of CPU and a storage round trip each. With
#: one worker per slot those slots sat idle meanwhile (a pass of 2,500 records at 0.2 s per
#: call ran 6-8 % above ``calls x L / concurrency``); a second worker per slot has the next
#: record ready when a slot frees.
WORKERS_PER_SLOT = 2


def backend_identity(backend: LLMBackend) -> str:
    """What the cache key says answered (:attr:`LLMBackend.cache_identity`)."""
    return backend.cache_identity


def run_pass(
    records: Sequence[SilverRecord],
    pass_number: int,
    backend: LLMBackend,
    config: EngineConfig | None = None,
    cache: CacheStore | None = None,
    previous: Mapping[str, PassContext] | None = None,
    *,
    pacer: Pacer | None = None,
) -> list[RecordResult]:
    """Run pass ``pass_number`` over ``records``; exactly one result per record, in order.

    ``previous`` maps record id -> earlier passes' outputs (needed by passes 2 and 3).
    ``pacer`` may be shared between calls that draw on one account quota; by default each
    batch gets its own, built from ``config``.
    Raises ConfigurationError (before any call) for an invalid config or an unknown model.
    """
    with PassStream(pass_number, backend, config, cache, pacer=pacer) as stream:
        return stream.run(records, previous)


class PassStream:
    """One pass over records that arrive a chunk at a time (a partition too large to hold).

    Everything that is the pass's and not the chunk's spans the chunks: the pacer, the
    budget, the batch-wide stops (an unwritable cache, an unreachable model), the cache's
    writer session, sealed once by :meth:`close`, and the worker pool. So a partition
    streamed in chunks is paced, capped and stopped as if it had been one batch, and its
    answers go to one segment. ``run_pass`` is a stream of one chunk.

    :meth:`submit` sends a chunk and returns at once: the caller reads and submits the next
    chunk while this one's calls are in flight, and its calls queue behind them, so the
    pool stays full from the first chunk to the last instead of draining at each one.
    """

    def __init__(self, pass_number: int, backend: LLMBackend, config: EngineConfig | None = None,
                 cache: CacheStore | None = None, *, pacer: Pacer | None = None) -> None:
        self.config = config or EngineConfig()
        if pass_number not in (1, 2, 3):
            raise ConfigurationError(f"pass_number must be 1, 2 or 3, got {pass_number!r}")
        self.config.validate()
        self.pass_number, self.backend, self.cache = pass_number, backend, cache
        self.model_id = model_id = self.config.model_for(pass_number)
        self.env = _make_env(backend, pass_number, model_id, self.config, resolve_price(backend, model_id), pacer)
        self._runner = _GroupRunner(self.env, cache)
        self._pool: ThreadPoolExecutor | None = None
        #: Leaders sent and not yet collected, by answer key (see ``_send``).
        self._in_flight: dict[str, Future[RecordResult]] = {}

    def submit(self, records: Sequence[SilverRecord],
               previous: Mapping[str, PassContext] | None = None) -> PendingChunk:
        """Render ``records``, serve their cached answers and send the rest to the workers;
        :meth:`PendingChunk.results` waits for them (``previous`` as in ``run_pass``)."""
        preparer = _Preparer(
            self.pass_number, backend_identity(self.backend), self.model_id, self.config, previous or {},
            by_record=self.backend.answers_by_record,
        )
        pending = PendingChunk(self, records)
        with _collector_paused():
            for start in range(0, len(records), CACHE_READ_BATCH):
                self._dispatch(pending, _groups(pending, start, preparer))
        return pending

    def run(self, records: Sequence[SilverRecord],
            previous: Mapping[str, PassContext] | None = None) -> list[RecordResult]:
        """One chunk: exactly one result per record, in order (``previous`` as in ``run_pass``)."""
        return self.submit(records, previous).results()

    def _dispatch(self, pending: PendingChunk, groups: list[Group]) -> None:
        """Serve the groups whose answer the cache holds (read in one batch, on this
        thread); send one leader per other group.

        A cache hit is CPU work only (read, validate, ground): here it needs no hand-off
        to a worker and no fight for the GIL (a fully cached pass ran a fifth slower on 8
        workers than on one thread). Everything else, a key in no segment included (the
        former layout is read one request per key), goes to the workers.
        """
        found = self._runner.read_cached([group.leader for group in groups])
        for group in groups:
            if group.key not in found:
                pending.sent.append((group, self._send(group.leader)))
            elif (cached := found[group.key]) is None:  # a miss, not read again
                pending.sent.append((group, self._send(group.leader, entry_refused=True)))
            else:
                pending.served.append((group, self._runner.serve_cached_safely(group.leader, cached)))

    def _send(self, leader: PreparedRecord, entry_refused: bool = False) -> Future[RecordResult]:
        """The leader's future. A leader whose answer key is still in flight in an earlier
        chunk (a posting repeated in another hour) starts only when that one is done, and
        reads the cache then: it is served the answer just paid for, not sent again."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=WORKERS_PER_SLOT * self.config.concurrency,
                                            thread_name_prefix="enrich")
        earlier = self._in_flight.get(leader.key)
        if earlier is None or earlier.done():
            future = self._pool.submit(self._runner.run_leader_safely, leader, entry_refused)
        else:  # queued after ``earlier`` (FIFO), so waiting for it never starves it of a worker
            future = self._pool.submit(self._after, earlier, leader)
        self._in_flight[leader.key] = future
        return future

    def _after(self, earlier: Future[RecordResult], leader: PreparedRecord) -> RecordResult:
        wait([earlier])
        return self._runner.run_leader_safely(leader)

    def _collected(self, sent: Sequence[tuple[Group, Future[RecordResult]]]) -> None:
        for group, future in sent:
            if self._in_flight.get(group.key) is future:
                del self._in_flight[group.key]

    def close(self) -> None:
        """Stop the workers (calls not yet started are not sent: an uncollected chunk
        means the caller failed), then end the cache's writer session (see ``_close_cache``)."""
        if self._pool is not None:
            self.env.closed.trip("closed")
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        _close_cache(self.cache, self.env)

    def __enter__(self) -> PassStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PendingChunk:
    """A submitted chunk: its cache hits served, its other leaders with the workers."""

    def __init__(self, stream: PassStream, records: Sequence[SilverRecord]) -> None:
        self.stream, self.records = stream, records
        self.slots: list[RecordResult | None] = [None] * len(records)
        self.groups: dict[str, Group] = {}
        self.sent: list[tuple[Group, Future[RecordResult]]] = []
        self.served: list[tuple[Group, RecordResult]] = []

    def results(self) -> list[RecordResult]:
        """Wait for the workers; exactly one result per record, in order. A group's copies
        are made here, when every record of the chunk has joined its group."""
        for group, leader in self.served:
            _place(self.slots, group, leader)
        for group, future in self.sent:
            _place(self.slots, group, future.result())
        self.stream._collected(self.sent)
        pass_number = self.stream.pass_number
        final = [
            result if result is not None else _internal(self.records[i], i, pass_number, "no result")
            for i, result in enumerate(self.slots)
        ]
        log.info("pass %d batch done: %s", pass_number, BatchSummary.from_results(final).to_dict())
        return final


def _close_cache(cache: CacheStore | None, env: CallEnv) -> None:
    """End the cache's writer session (seal its segment); a failure is logged, the
    answers stay in the results (and so in the pass table)."""
    if cache is None:
        return
    try:
        cache.close()
    except Exception as exc:
        env.storage.trip(repr(exc))
        log.error("pass %d: the answer cache could not be sealed: %r", env.pass_number, exc)
    if env.storage.tripped:
        log.error("pass %d: answers could not be cached; records not yet sent were not "
                  "sent (%s): %s", env.pass_number, STORAGE_UNWRITABLE, env.storage.message)
    if env.reach.tripped:
        log.error("pass %d: the model could not be reached; records not yet sent were not "
                  "sent (%s): %s", env.pass_number, MODEL_UNREACHABLE, env.reach.last_error)


#: Records rendered, and their cached answers read, per batch: each segment is opened once
#: per batch, the frames held at once stay a few MB, and the first calls leave after a
#: batch is rendered, not the whole chunk.
CACHE_READ_BATCH = 256


def _groups(pending: PendingChunk, start: int, preparer: _Preparer) -> list[Group]:
    """The new groups (one per answer key not yet seen in the chunk) among the next
    ``CACHE_READ_BATCH`` records, in input order. A record whose key is already a group's
    joins it, even one already sent (its copy is made when the chunk is collected);
    records that cannot run get their result."""
    records, groups = pending.records, pending.groups
    new: list[Group] = []
    for index in range(start, min(start + CACHE_READ_BATCH, len(records))):
        item = preparer.prepare(index, records[index])
        if isinstance(item, RecordResult):
            pending.slots[index] = item
        elif item.key in groups:
            groups[item.key].members.append(item)
        else:
            groups[item.key] = group = Group(item.key, [item])
            new.append(group)
    return new


def _place(results: list[RecordResult | None], group: Group, leader: RecordResult) -> None:
    for member, result in zip(group.members, _GroupRunner.fan_out(group, leader), strict=True):
        results[member.index] = result


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a pass renders and serves cache hits.

    Why: those steps allocate only long-lived, acyclic objects (prompts, answers' contract
    trees, results) at a high rate, and each full collection walks every object still
    alive: in a cached rerun of 2,000 records the collector took a third of the time and
    freed nothing. Reference counting still frees all that is not cyclic.

    At the end the objects made meanwhile are moved to the oldest generation at once
    (``gc.freeze`` then ``gc.unfreeze``: two list splices) instead of being left in the
    youngest, where the first collection would walk them all only to keep them (a tenth
    of a cached rerun); the next full collection still sees them, and frees any cycle
    among them. That is skipped when the application keeps objects frozen (say, before
    forking): they stay frozen. Process-wide, so this only pauses a collector that is
    running, and only restarts the one it paused.
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            if gc.get_freeze_count() == 0:
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def resolve_price(backend: LLMBackend, model_id: str) -> Price:
    """The per-call price of ``model_id`` by the backend (:attr:`LLMBackend.cost_usd`),
    asked once here so that a model it cannot price (unknown or misspelt) fails before any
    call with a ConfigurationError."""
    backend.cost_usd(model_id, 0, 0)
    return lambda tokens_in, tokens_out: float(backend.cost_usd(model_id, tokens_in, tokens_out))


def _make_env(
    backend: LLMBackend,
    pass_number: int,
    model_id: str,
    config: EngineConfig,
    price: Price,
    pacer: Pacer | None,
) -> CallEnv:
    model_default = (
        get_model(model_id).default_max_output_tokens
        if is_known_model(model_id)
        else FALLBACK_OUTPUT_TOKENS
    )
    first_budget = config.output_budget(pass_number, model_default)
    return CallEnv(
        backend=backend,
        pass_number=pass_number,
        model_id=model_id,
        config=config,
        pacer=pacer or Pacer(config.requests_per_minute, config.tokens_per_minute),
        budget=BudgetGuard(config.budget_usd),
        price=price,
        first_budget=first_budget,
        retry_budget=max(config.retry_output_budget(pass_number, first_budget), first_budget),
        output_schema=output_schema(pass_number),
        reach=Reachability(config.unreachable_stop_after),
        slots=ModelSlots(config.concurrency),
    )


@dataclass(frozen=True)
class _Preparer:
    """Renders one record at a time; a record that cannot run gets its result instead."""

    pass_number: int
    backend_name: str
    model_id: str
    config: EngineConfig
    previous: Mapping[str, PassContext]
    by_record: bool = False

    def prepare(self, index: int, record: SilverRecord) -> PreparedRecord | RecordResult:
        try:
            record_id = record.job_posting_id
            no_text = missing_posting_text(record)
            if no_text is not None:
                return RecordResult(record_id, self.pass_number, False, error_class=NO_POSTING_TEXT,
                                    error_message=no_text, model_id=self.model_id)
            if self.config.require_previous_passes:
                reason = missing_upstream(self.pass_number, record_id, self.previous)
                if reason is not None:
                    return RecordResult(
                        record_id, self.pass_number, False, error_class=UPSTREAM_FAILED,
                        error_message=reason, model_id=self.model_id,
                    )
            return prepare_record(
                index, record, self.pass_number, self.backend_name, self.model_id,
                self.previous.get(record_id),
                PromptBudget(max_input_tokens=self.config.max_input_tokens),
                self.by_record,
            )
        except Exception as exc:  # one unrenderable record must not stop the batch
            log.exception("pass %d: record #%d could not be prepared", self.pass_number, index)
            return _internal(record, index, self.pass_number, f"prepare: {exc!r}")


@dataclass(frozen=True)
class _Estimate:
    input_tokens: int
    output_tokens: int
    cost_usd: float


class _GroupRunner:
    """Runs one group of identical inputs on a worker thread."""

    def __init__(self, env: CallEnv, cache: CacheStore | None) -> None:
        self.env = env
        self.cache = cache
        self.ledger = AttemptsLedger(cache) if cache is not None else None

    def run_leader_safely(
        self, item: PreparedRecord, entry_refused: bool = False
    ) -> RecordResult:
        """The leader's result; any exception becomes its ``internal`` error.
        ``entry_refused``: its cache entry was read (:meth:`read_cached`) and refused, so
        it is a miss without being read (and reported) again."""
        try:
            return self._run_leader(item, entry_refused)
        except Exception as exc:  # never a crashed batch: the group's records carry it
            return self._internal_error(item, exc)

    def serve_cached_safely(self, item: PreparedRecord, cached: CachedAnswer) -> RecordResult:
        """The leader's result from its cached answer (:meth:`read_cached`); any exception
        becomes its ``internal`` error."""
        try:
            return self._from_cache(item, self._base(item, self._estimate(item)), cached)
        except Exception as exc:
            return self._internal_error(item, exc)

    def _internal_error(self, item: PreparedRecord, exc: Exception) -> RecordResult:
        """The leader's ``internal`` error (called in the ``except`` block that caught it)."""
        log.exception("pass %d: internal error on record %s", self.env.pass_number,
                      item.record.job_posting_id)
        return _internal(item.record, item.index, self.env.pass_number, repr(exc))

    def read_cached(self, leaders: Sequence[PreparedRecord]) -> dict[str, CachedAnswer | None]:
        """By key, the cached answer of each leader whose key a cache segment holds, read in
        one batch; None where the entry was refused (unreadable, or another record's).

        Leaders left out are read by their worker: no cache, a key in no segment (maybe in
        the former layout), or a batch that could not be read (the worker reads its key
        again and, if the cache is still unreadable, does not send it: ``cache_error``).
        """
        if self.cache is None or not leaders:
            return {}
        try:
            found = self.cache.get_many([item.key for item in leaders])
        except Exception as exc:
            log.warning("pass %d: %d cached answer(s) could not be read in one batch, each is "
                        "read on its own: %r", self.env.pass_number, len(leaders), exc)
            return {}
        answers: dict[str, CachedAnswer | None] = {}
        for item in leaders:
            if item.key not in found:
                continue
            data = found[item.key]
            try:
                answers[item.key] = None if data is None else decode_answer(
                    self.cache, item.key, data, item.input_hash, self.env.pass_number)
            except Exception:  # left to its worker, whose errors become the record's
                log.exception("pass %d: cached answer of record %s could not be checked",
                              self.env.pass_number, item.record.job_posting_id)
        return answers

    # ------------------------------------------------------------------ leader
    def _run_leader(self, item: PreparedRecord, entry_refused: bool = False) -> RecordResult:
        estimate = self._estimate(item)
        base = self._base(item, estimate)
        try:
            cached = (
                read_answer(self.cache, item.key, item.input_hash, self.env.pass_number)
                if self.cache is not None and not entry_refused else None
            )
        except Exception as exc:  # sending now could pay for an answer we already own
            return self._not_sent(base, CACHE_ERROR, f"cache unreadable, not sent: {exc!r}")
        if cached is not None:
            return self._from_cache(item, base, cached)
        entry = self.ledger.read(item.key) if self.ledger is not None else LedgerEntry()
        base = replace(base, prior_failed_runs=entry.failed_runs)
        refusal = self._refusal(item, base, entry)
        if refusal is not None:
            return refusal
        return self._ask(item, base, entry, estimate)

    def _refusal(
        self, item: PreparedRecord, base: RecordResult, entry: LedgerEntry
    ) -> RecordResult | None:
        """The result of a record that must not be sent, or None when it may be."""
        config = self.env.config
        if entry.failed_runs >= config.max_attempts_per_record and not config.ignore_attempts_ledger:
            return self._permanently_failed(item, base, entry)
        if config.dry_run:
            return self._not_sent(base, DRY_RUN, "dry run: estimated only, not sent")
        stop = batch_stop(self.env)
        return self._not_sent(base, *stop) if stop is not None else None

    def _ask(
        self, item: PreparedRecord, base: RecordResult, entry: LedgerEntry, estimate: _Estimate
    ) -> RecordResult:
        budget = self.env.budget
        if not budget.admit(estimate.cost_usd):
            return self._not_sent(
                base, BUDGET_EXCEEDED,
                f"batch budget of ${budget.cap_usd} reached (${budget.spent_usd:.6f} spent); "
                "not sent",
            )
        answer = Answer(CallTally())  # owned here: paid calls stay counted whatever fails
        try:
            obtain_answer(self.env, item, answer)
        except Exception as exc:
            log.exception("pass %d: conversation of record %s failed", self.env.pass_number,
                          item.record.job_posting_id)
            answer.error_class, answer.error_message = INTERNAL, repr(exc)
        finally:
            budget.release(estimate.cost_usd)
        return self._from_answer(item, base, answer, entry)

    def _estimate(self, item: PreparedRecord) -> _Estimate:
        tokens_in = item.rendered.estimated_input_tokens
        tokens_out = self.env.config.estimated_output(self.env.pass_number)
        return _Estimate(tokens_in, tokens_out, self.env.price(tokens_in, tokens_out))

    def _base(self, item: PreparedRecord, estimate: _Estimate) -> RecordResult:
        return RecordResult(
            record_id=item.record.job_posting_id,
            pass_number=self.env.pass_number,
            success=False,
            model_id=self.env.model_id,
            prompt_version=item.rendered.prompt_version,
            schema_version=SCHEMA_VERSION,
            cache_key=item.key,
            input_hash=item.input_hash,
            description_shortened=item.rendered.description_shortened,
            estimated_input_tokens=estimate.input_tokens,
            estimated_output_tokens=estimate.output_tokens,
            estimated_cost_usd=estimate.cost_usd,
        )

    @staticmethod
    def _not_sent(base: RecordResult, error_class: str, message: str) -> RecordResult:
        return replace(base, error_class=error_class, error_message=message)

    def _from_cache(
        self, item: PreparedRecord, base: RecordResult, cached: CachedAnswer
    ) -> RecordResult:
        free = {"estimated_input_tokens": 0, "estimated_output_tokens": 0,
                "estimated_cost_usd": 0.0}
        if self.env.config.dry_run:
            return replace(base, cache_hit=True, error_class=DRY_RUN,
                           error_message="dry run: answer cached, would cost nothing", **free)
        return replace(
            base,
            success=True,
            output=cached.output,
            model_id=cached.model_id or base.model_id,
            cache_hit=True,
            original_cost_usd=cached.cost_usd,
            answer_input_tokens=cached.input_tokens,
            answer_output_tokens=cached.output_tokens,
            answer_pricing=cached.pricing,
            stop_reason=cached.stop_reason,
            **free,
            **_issue_fields(cached.issue_counts),
            **_grounding_fields(self._ground(item, cached.output)),
        )

    def _permanently_failed(
        self, item: PreparedRecord, base: RecordResult, entry: LedgerEntry
    ) -> RecordResult:
        salvaged = (
            parse_answer(entry.last_raw_text, self.env.pass_number)
            if entry.last_raw_text
            else None
        )
        try:
            output, _ = self._checked_output(item, salvaged)
        except Exception:  # the free re-parse is a bonus; the refusal stands without it
            output = None
        message = (
            f"failed {entry.failed_runs} earlier run(s) (last: {entry.last_error_class}: "
            f"{entry.last_error}); not sent again. To try it again, raise "
            f"ENRICHMENT_MAX_ATTEMPTS (the llm resource's max_attempts_per_record) above "
            f"{entry.failed_runs}."
        )
        return replace(
            base,
            partial=output is not None,
            output=output,
            error_class=PERMANENTLY_FAILED,
            error_message=message,
            raw_text_of_failure=entry.last_raw_text,
            estimated_input_tokens=0,
            estimated_output_tokens=0,
            estimated_cost_usd=0.0,
            **_parsed_issue_fields(salvaged),
            **_grounding_fields(self._ground(item, output)),
        )

    def _from_answer(
        self, item: PreparedRecord, base: RecordResult, answer: Answer, entry: LedgerEntry
    ) -> RecordResult:
        tally, parsed = answer.tally, answer.parsed
        try:
            output, mismatch = self._checked_output(item, parsed)
        except Exception as exc:  # the calls are paid: this answer's error, not the batch's
            log.exception("pass %d: answer of record %s unusable", self.env.pass_number,
                          item.record.job_posting_id)
            output, mismatch = None, (UNPARSEABLE, f"the answer could not be used: {exc!r}")
        if mismatch is not None:
            answer.error_class, answer.error_message = mismatch
        success = answer.complete and output is not None
        stored = self._store(item, answer) if success else False
        if not success and tally.calls > 0 and answer.error_class not in NOT_THE_RECORDS_FAULT:
            if self.ledger is not None:
                self.ledger.record_failure(
                    item.key, entry, answer.error_class,
                    valid_text(answer.error_message or ""), answer.text,
                )
        return replace(
            base,
            success=success,
            partial=not success and output is not None,
            output=output,
            model_id=answer.model_id or base.model_id,
            error_class=None if success else answer.error_class,
            error_message=None if success else answer.error_message,
            attempts=tally.attempts,
            calls=tally.calls,
            input_tokens=tally.input_tokens,
            output_tokens=tally.output_tokens,
            cost_usd=tally.cost_usd,
            original_cost_usd=tally.cost_usd,
            answer_input_tokens=tally.input_tokens if success else 0,
            answer_output_tokens=tally.output_tokens if success else 0,
            answer_pricing=ON_DEMAND if success else None,
            latency_s=tally.latency_s,
            stop_reason=answer.stop_reason,
            truncation_retried=answer.truncation_retried,
            reasked=answer.reasked,
            raw_text_of_failure=None if success else answer.text,
            cache_stored=stored,
            **_parsed_issue_fields(parsed),
            **_grounding_fields(self._ground(item, output)),
        )

    def _checked_output(
        self, item: PreparedRecord, parsed: ParsedAnswer | None
    ) -> tuple[Any, tuple[str, str] | None]:
        """The answer's output if it may be stored as this record's, else None and why.

        Refused: an answer about another posting (:func:`wrong_posting`). Raises when the
        output cannot be flattened or serialised; the caller turns that into the answer's
        error, so a writer never meets a value it cannot write.
        """
        output = parsed.output if parsed is not None else None
        if parsed is None or output is None:
            return None, None
        reason = wrong_posting(self.env.pass_number, item.record, parsed.parse.data, output)
        if reason is not None:
            return None, (WRONG_POSTING, reason)
        flatten_pass(self.env.pass_number, output)
        output.model_dump_json()
        return output, None

    def _store(self, item: PreparedRecord, answer: Answer) -> bool:
        """Cache a complete answer (before grounding changes it); False if not stored."""
        if self.cache is None or answer.parsed is None or answer.parsed.output is None:
            return False
        cached = CachedAnswer(
            pass_number=self.env.pass_number,
            model_id=answer.model_id or self.env.model_id,
            prompt_version=item.rendered.prompt_version,
            schema_version=SCHEMA_VERSION,
            input_hash=item.input_hash,
            raw_text=answer.text or "",
            output=answer.parsed.output,
            input_tokens=answer.tally.input_tokens,
            output_tokens=answer.tally.output_tokens,
            cost_usd=answer.tally.cost_usd,
            attempts=answer.tally.attempts,
            calls=answer.tally.calls,
            latency_s=answer.tally.latency_s,
            stop_reason=answer.stop_reason,
            issue_counts=answer.parsed.report.counts,
            key=item.key,
            pricing=ON_DEMAND,
        )
        try:
            self.cache.put(item.key, cached.to_bytes())
        except Exception as exc:  # the answer is still returned; no more are bought
            self.env.storage.trip(repr(exc))
            log.error("could not cache the answer of record %s, sending no more records: %r",
                      item.record.job_posting_id, exc)
            return False
        return True

    def _ground(self, item: PreparedRecord, output: Any) -> GroundingCounts:
        try:
            return apply_grounding(
                self.env.pass_number, output, item.description,
                self.env.config.ungrounded_confidence_factor,
            )
        except Exception:  # counts are telemetry: never worth a paid answer
            log.exception("pass %d: grounding of record %s failed", self.env.pass_number,
                          item.record.job_posting_id)
            return GroundingCounts()

    # ------------------------------------------------------------------ copies
    @staticmethod
    def fan_out(group: Group, leader: RecordResult) -> list[RecordResult]:
        """The leader's result, plus a free copy for every duplicate of it."""
        copies = [leader]
        for member in group.members[1:]:
            copies.append(
                replace(
                    leader,
                    record_id=member.record.job_posting_id,
                    deduplicated=True,
                    attempts=0,
                    calls=0,
                    input_tokens=0,
                    output_tokens=0,
                    cost_usd=0.0,
                    latency_s=0.0,
                    estimated_input_tokens=0,
                    estimated_output_tokens=0,
                    estimated_cost_usd=0.0,
                    cache_stored=False,
                )
            )
        return copies


def _issue_fields(counts: Mapping[str, int]) -> dict[str, Any]:
    return {
        "issue_counts": dict(counts),
        "coerced_fields": int(counts.get("coerced", 0)),
        "nulled_fields": int(counts.get("nulled", 0)),
    }


def _parsed_issue_fields(parsed: ParsedAnswer | None) -> dict[str, Any]:
    return _issue_fields(parsed.report.counts if parsed is not None else {})


def _grounding_fields(counts: GroundingCounts) -> dict[str, int]:
    return {
        "evidence_checked": counts.checked,
        "evidence_grounded": counts.grounded,
        "confidence_downgraded": counts.downgraded,
    }


def _internal(record: Any, index: int, pass_number: int, message: str) -> RecordResult:
    record_id = getattr(record, "job_posting_id", None) or f"#{index}"
    return RecordResult(
        str(record_id), pass_number, False, error_class=INTERNAL, error_message=message
    )

