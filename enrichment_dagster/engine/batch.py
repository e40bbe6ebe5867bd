"""The batch path: answer a pass over many records with Bedrock batch inference.

Why: batch inference is billed at half the on-demand price, and backfills are the bulk of
the bill and the least urgent work. The batch path only *fills the cache*: the pass assets
then run as always and find every answer there, so ``silver_ai`` has the same shape
whichever path answered, and anything the batch did not answer goes on-demand.

Same records, same answers: every record is rendered and keyed exactly as
:func:`~enrichment_dagster.engine.runner.run_pass` does (``prepare_record`` with the
backend identity ``bedrock``), the cache key is the JSONL ``recordId``, and every output
line is parsed by the same parser and contracts.

Nothing submitted twice, nothing forgotten: a job ledger (``_batch/ledger/<job>.json``)
is written *before* the create call (state ``planned``, with the deterministic
``clientRequestToken``) and *after* it (``submitted``, with the ARN). A restart re-sends a
``planned`` entry with the same token, which Bedrock answers with the same job; records of
any open entry are never put into another job. An entry is ``collected`` once its output is
in the cache.

Per record, after a job ends (``Completed``, ``PartiallyCompleted``, ``Failed``,
``Expired`` or ``Stopped``): a complete answer is cached with its own tokens, the batch
price and ``pricing="batch"`` (so the tables say what it cost and how it was bought when the
pass serves it from the cache); an error line or an unusable answer counts one failed run
in the attempts ledger (so the attempt cap holds across both paths); a record missing from
the output counts nothing (it is not the record's fault). Either way it stays unanswered and
the next run (on-demand or another job) takes it.

Records without posting text are never planned: on-demand never sends them, so their batch
answers would be paid for and never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from enrichment_dagster.contracts.passes import SCHEMA_VERSION
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.cache import AttemptsLedger, CachedAnswer, read_answer
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.prepare import (
    PreparedRecord,
    missing_posting_text,
    missing_upstream,
    prepare_record,
)
from enrichment_dagster.engine.results import PassContext
from enrichment_dagster.llm.bedrock_batch import (
    MAX_BYTES_PER_FILE,
    MAX_RECORDS_PER_FILE,
    MIN_RECORDS_PER_JOB,
    BatchClient,
    JobState,
    input_line,
    job_id,
    parse_output_line,
)
from enrichment_dagster.llm.parsing import parse_answer
from enrichment_dagster.llm.prices import BATCH, get_model
from enrichment_dagster.llm.types import ConfigurationError, LLMRequest
from enrichment_dagster.prompts.render import PromptBudget
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot

log = logging.getLogger(__name__)

BATCH_DIR = "_batch"
BACKEND_NAME = "bedrock"  # batch answers are Bedrock answers: the on-demand keys, unchanged
MIN_RECORDS_ENV = "ENRICHMENT_BATCH_MIN_RECORDS"
ROLE_ARN_ENV = "ENRICHMENT_BATCH_ROLE_ARN"
PLANNED, SUBMITTED, COLLECTED = "planned", "submitted", "collected"
#: A planned job that was never created and never will be (its submitting run failed or
#: was cancelled and the campaign stopped): its records are free for another job.
ABANDONED = "abandoned"
#: States in which an entry holds no record and needs nothing more.
SETTLED = (COLLECTED, ABANDONED)


@dataclass(frozen=True)
class BatchOptions:
    """How records are split into jobs; the defaults are Bedrock's quotas."""

    role_arn: str
    min_records: int = MIN_RECORDS_PER_JOB
    max_records_per_job: int = MAX_RECORDS_PER_FILE
    max_bytes_per_job: int = MAX_BYTES_PER_FILE
    timeout_hours: int = 24

    def validate(self) -> None:
        if self.min_records < MIN_RECORDS_PER_JOB:
            raise ConfigurationError(
                f"min_records must be >= {MIN_RECORDS_PER_JOB} (Bedrock's minimum per job), "
                f"got {self.min_records}")
        if not self.role_arn:
            raise ConfigurationError(f"batch inference needs a service role ({ROLE_ARN_ENV})")


@dataclass
class LedgerEntry:
    """One job, as the ledger keeps it (JSON under ``_batch/ledger/``)."""

    job_name: str
    pass_number: int
    model_id: str
    token: str
    input_uri: str
    output_uri: str
    #: cache key -> {"record_id", "prompt_version", "input_hash"}
    records: dict[str, dict[str, str]]
    state: str = PLANNED
    job_arn: str | None = None
    status: str | None = None
    outcome: dict[str, Any] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__, ensure_ascii=False, sort_keys=True).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> LedgerEntry:
        return cls(**json.loads(data))


class JobLedger:
    """Every job ever planned, one small JSON object each, written atomically."""

    def __init__(self, root: StorageRoot) -> None:
        self.root = root

    def _path(self, job_name: str) -> str:
        return self.root.path(BATCH_DIR, "ledger", job_name + ".json")

    def write(self, entry: LedgerEntry) -> None:
        self.root.write_bytes_atomic(self._path(entry.job_name), entry.to_bytes())

    def entries(self) -> list[LedgerEntry]:
        try:
            files = self.root.list_files(self.root.path(BATCH_DIR, "ledger"))
        except FileNotFoundError:
            return []
        return [LedgerEntry.from_bytes(self.root.read_bytes(f.path))
                for f in sorted(files, key=lambda f: f.path) if f.path.endswith(".json")]

    def open_keys(self, pass_number: int) -> set[str]:
        """Keys in a job not collected yet: they must not go into another one."""
        return {key for e in self.entries()
                if e.pass_number == pass_number and e.state not in SETTLED for key in e.records}


@dataclass(frozen=True)
class Plan:
    """What a submission would send: prepared records (one per answer key), by job."""

    pass_number: int
    model_id: str
    chunks: list[list[tuple[PreparedRecord, bytes]]]
    already_cached: int
    in_open_jobs: int
    capped: int
    not_ready: int
    #: Records without posting text: on-demand never sends them, so batch must not either
    #: (their answers would be paid for and never read from the cache).
    no_posting_text: int = 0

    @property
    def records(self) -> int:
        return sum(len(c) for c in self.chunks)


def plan_pass(
    records: Iterable[SilverRecord],
    pass_number: int,
    config: EngineConfig,
    cache: CacheStore,
    root: StorageRoot,
    options: BatchOptions,
    previous: Mapping[str, PassContext] | None = None,
) -> Plan:
    """The records of ``pass_number`` to send by batch: with posting text, rendered, not
    cached, not in an open job, not over the attempt cap; split by the quotas. No chunk
    when there are fewer than ``options.min_records`` (they go on-demand)."""
    model_id = config.model_for(pass_number)
    spec = get_model(model_id)
    budget = PromptBudget(max_input_tokens=config.max_input_tokens)
    max_tokens = config.output_budget(pass_number, spec.default_max_output_tokens)
    open_keys = JobLedger(root).open_keys(pass_number)
    attempts = AttemptsLedger(cache)
    chosen: dict[str, tuple[PreparedRecord, bytes]] = {}
    cached = in_open = capped = not_ready = no_text = 0
    for index, record in enumerate(records):
        if missing_posting_text(record) is not None:
            no_text += 1
            continue
        if missing_upstream(pass_number, record.job_posting_id, previous) is not None:
            not_ready += 1
            continue
        item = prepare_record(index, record, pass_number, BACKEND_NAME, model_id,
                              (previous or {}).get(record.job_posting_id), budget)
        if item.key in chosen:
            continue
        if item.key in open_keys:
            in_open += 1
            continue
        if read_answer(cache, item.key, item.input_hash, pass_number) is not None:
            cached += 1
            continue
        if attempts.read(item.key).failed_runs >= config.max_attempts_per_record:
            capped += 1
            continue
        request = LLMRequest(record_id=record.job_posting_id, pass_number=pass_number,  # type: ignore[arg-type]
                             messages=item.rendered.messages, model_id=model_id,
                             max_output_tokens=max_tokens, temperature=config.temperature)
        chosen[item.key] = (item, input_line(item.key, request, spec))
    items = list(chosen.values())
    chunks = _split(items, options) if len(items) >= options.min_records else []
    return Plan(pass_number, model_id, chunks, cached, in_open, capped, not_ready, no_text)


def _split(items: list[tuple[PreparedRecord, bytes]], options: BatchOptions
           ) -> list[list[tuple[PreparedRecord, bytes]]]:
    """Even chunks within the record and byte quotas (each >= min when the total is)."""
    total_bytes = sum(len(line) for _, line in items)
    count = max(-(-len(items) // options.max_records_per_job),
                -(-total_bytes // options.max_bytes_per_job), 1)
    size = -(-len(items) // count)
    return [items[i:i + size] for i in range(0, len(items), size)]


def submit_plan(plan: Plan, root: StorageRoot, client: BatchClient, options: BatchOptions,
                *, after_write: Callable[[LedgerEntry], None] | None = None) -> list[LedgerEntry]:
    """Write each chunk's JSONL, then the ledger entry, then create the job; returns the
    entries. A job's name and token are digests of its keys, so the same records always
    make the same job."""
    ledger = JobLedger(root)
    entries = []
    for chunk in plan.chunks:
        digest = hashlib.sha256(
            json.dumps([plan.pass_number, plan.model_id, sorted(i.key for i, _ in chunk)]).encode()
        ).hexdigest()
        name = f"enrich-p{plan.pass_number}-{digest[:20]}"
        folder = (BATCH_DIR, f"pass{plan.pass_number}", name)
        root.write_bytes_atomic(root.path(*folder, "input", "records.jsonl"),
                                b"".join(line for _, line in chunk))
        entry = LedgerEntry(
            job_name=name, pass_number=plan.pass_number, model_id=plan.model_id,
            token=digest[:64], input_uri=root.uri(*folder, "input", "records.jsonl"),
            output_uri=root.uri(*folder, "output") + "/",
            records={i.key: {"record_id": i.record.job_posting_id,
                             "prompt_version": i.rendered.prompt_version,
                             "input_hash": i.input_hash} for i, _ in chunk},
        )
        ledger.write(entry)
        if after_write is not None:
            after_write(entry)
        entries.append(_create(entry, ledger, client, options))
    return entries


def _create(entry: LedgerEntry, ledger: JobLedger, client: BatchClient,
            options: BatchOptions) -> LedgerEntry:
    entry.job_arn = client.create(
        job_name=entry.job_name, role_arn=options.role_arn, model_id=entry.model_id,
        input_uri=entry.input_uri, output_uri=entry.output_uri, token=entry.token,
        timeout_hours=options.timeout_hours,
        tags={"project": "enrichment", "pass": str(entry.pass_number)},
    )
    entry.state, entry.status = SUBMITTED, "Submitted"
    ledger.write(entry)
    log.info("batch job %s submitted: %d records, %s", entry.job_name, len(entry.records),
             entry.job_arn)
    return entry


def resume(root: StorageRoot, client: BatchClient, options: BatchOptions) -> list[LedgerEntry]:
    """Re-send every ``planned`` entry (a crash between ledger and create): the same token
    gives the same job, so this never makes a second one. Returns the open entries."""
    ledger = JobLedger(root)
    open_entries = []
    for entry in ledger.entries():
        if entry.state == PLANNED:
            entry = _create(entry, ledger, client, options)
        if entry.state not in SETTLED:
            open_entries.append(entry)
    return open_entries


def poll(root: StorageRoot, client: BatchClient) -> list[tuple[LedgerEntry, JobState]]:
    """The state of every submitted, uncollected job (the ledger's status is updated)."""
    ledger = JobLedger(root)
    states = []
    for entry in ledger.entries():
        if entry.state != SUBMITTED or entry.job_arn is None:
            continue
        state = client.get(entry.job_arn)
        if state.status != entry.status:
            entry.status = state.status
            ledger.write(entry)
        states.append((entry, state))
    return states


def collect(entry: LedgerEntry, state: JobState, root: StorageRoot, cache: CacheStore,
            config: EngineConfig | None = None) -> LedgerEntry:
    """Cache every usable answer of an ended job and mark it collected (idempotent)."""
    if not state.done:
        raise ValueError(f"job {entry.job_name} is {state.status}, not ended")
    spec = get_model(entry.model_id)
    attempts = AttemptsLedger(cache)
    seen: set[str] = set()
    outcome = {"answered": 0, "errors": 0, "unusable": 0, "missing": 0, "input_tokens": 0,
               "output_tokens": 0, "cost_usd": 0.0, "on_demand_cost_usd": 0.0}
    for line in _output_lines(root, entry, state):
        try:
            out = parse_output_line(line, entry.model_id)
        except ValueError:
            log.warning("job %s: an output line is not JSON; ignored", entry.job_name)
            continue
        meta = entry.records.get(out.record_id)
        if meta is None or out.record_id in seen:
            continue
        seen.add(out.record_id)
        if out.response is None:
            outcome["errors"] += 1
            _count_failure(attempts, out.record_id, "batch_error", out.error, None)
            continue
        response = out.response
        parsed = parse_answer(response.text, entry.pass_number)
        if parsed.status != "complete" or parsed.output is None or response.truncated:
            outcome["unusable"] += 1
            _count_failure(attempts, out.record_id, parsed.error_class or "invalid_answer",
                           parsed.error or f"batch answer {parsed.status}", response.text)
            continue
        cost = spec.cost_usd(response.input_tokens, response.output_tokens, batch=True)
        answer = CachedAnswer(
            pass_number=entry.pass_number, model_id=entry.model_id,
            prompt_version=meta["prompt_version"], schema_version=SCHEMA_VERSION,
            input_hash=meta["input_hash"], raw_text=response.text, output=parsed.output,
            input_tokens=response.input_tokens, output_tokens=response.output_tokens,
            cost_usd=cost, attempts=1, calls=1, latency_s=0.0,
            stop_reason=response.stop_reason, issue_counts=parsed.report.counts,
            key=out.record_id, pricing=BATCH,
        )
        cache.put(out.record_id, answer.to_bytes())
        outcome["answered"] += 1
        outcome["input_tokens"] += response.input_tokens
        outcome["output_tokens"] += response.output_tokens
        outcome["cost_usd"] += cost
        outcome["on_demand_cost_usd"] += spec.cost_usd(response.input_tokens,
                                                       response.output_tokens)
    outcome["missing"] = len(entry.records) - len(seen)
    # The answers must be durable before the ledger says so: a collected entry is never read
    # again, and an answer lost from a write buffer would be paid for again on demand.
    cache.flush()
    entry.state, entry.status, entry.outcome = COLLECTED, state.status, outcome
    JobLedger(root).write(entry)
    log.info("batch job %s %s: %s", entry.job_name, state.status, outcome)
    return entry


def _count_failure(attempts: AttemptsLedger, key: str, error_class: str, error: str | None,
                   raw_text: str | None) -> None:
    attempts.record_failure(key, attempts.read(key), error_class, error, raw_text)


def _output_lines(root: StorageRoot, entry: LedgerEntry, state: JobState) -> list[str]:
    """Every line of ``<output>/<jobId>/*.jsonl.out`` (none for a Failed job)."""
    folder = _fs_path(root, entry.output_uri.rstrip("/") + "/" + job_id(state.job_arn))
    try:
        files = root.list_files(folder)
    except FileNotFoundError:
        return []
    lines: list[str] = []
    for f in files:
        if f.path.endswith(".jsonl.out"):
            lines.extend(x for x in root.read_bytes(f.path).decode("utf-8").splitlines()
                         if x.strip())
    return lines


def _fs_path(root: StorageRoot, uri: str) -> str:
    """The ``fs`` path of a URI that ``root.uri`` made."""
    base = root.uri()
    if not uri.startswith(base):
        raise ValueError(f"{uri} is not under the storage root {base}")
    rest = uri[len(base):].strip("/")
    return root.path(*rest.split("/")) if rest else root.path()


def abandon_planned(root: StorageRoot, job_names: Iterable[str]) -> list[str]:
    """Mark the named entries still ``planned`` (never created) as abandoned, so their
    records can go into another job; returns their names."""
    ledger, names, abandoned = JobLedger(root), set(job_names), []
    for entry in ledger.entries():
        if entry.job_name in names and entry.state == PLANNED:
            entry.state = ABANDONED
            ledger.write(entry)
            abandoned.append(entry.job_name)
    return abandoned


def stop_open_jobs(root: StorageRoot, client: BatchClient) -> list[str]:
    """Stop every submitted job still running (terminating a backfill stops its jobs)."""
    stopped = []
    for entry, state in poll(root, client):
        if not state.done and state.status != "Stopping" and entry.job_arn:
            client.stop(entry.job_arn)
            stopped.append(entry.job_arn)
    return stopped


def wait_and_collect(root: StorageRoot, cache: CacheStore, client: BatchClient,
                     config: EngineConfig, *, poll_s: float = 0.2, timeout_s: float = 600.0
                     ) -> list[LedgerEntry]:
    """Poll until every open job ended, collecting each as it ends."""
    deadline = time.monotonic() + timeout_s
    collected = []
    while True:
        states = poll(root, client)
        for entry, state in states:
            if state.done:
                collected.append(collect(entry, state, root, cache, config))
        if all(state.done for _, state in states):
            return collected
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch jobs still running after {timeout_s} s")
        time.sleep(poll_s)


def summarize(entries: Sequence[LedgerEntry]) -> dict[str, Any]:
    """Totals over collected entries (metadata for the UI and the benchmark)."""
    total: dict[str, Any] = {"batch_jobs": len(entries),
                             "batch_records": sum(len(e.records) for e in entries)}
    for entry in entries:
        for name, value in entry.outcome.items():
            total[name] = total.get(name, 0) + value
    return total


def backfill_pass(
    records: Sequence[SilverRecord],
    pass_number: int,
    config: EngineConfig,
    cache: CacheStore,
    root: StorageRoot,
    client: BatchClient,
    options: BatchOptions,
    previous: Mapping[str, PassContext] | None = None,
    *,
    max_rounds: int = 3,
    poll_s: float = 30.0,
    timeout_s: float = 7 * 24 * 3600.0,
) -> list[LedgerEntry]:
    """Answer ``pass_number`` by batch in rounds: jobs left open by an earlier process first,
    then whatever is still unanswered, as long as there are ``min_records`` of it. What is
    left after that (fewer than the minimum, or over the attempt cap) is for on-demand:
    run the pass as usual and it sends exactly those. Blocking; the sensor polls instead."""
    options.validate()
    resume(root, client, options)
    collected = wait_and_collect(root, cache, client, config, poll_s=poll_s,
                                 timeout_s=timeout_s)
    for _ in range(max_rounds):
        plan = plan_pass(records, pass_number, config, cache, root, options, previous)
        if not plan.chunks:
            break
        submit_plan(plan, root, client, options)
        collected += wait_and_collect(root, cache, client, config, poll_s=poll_s,
                                      timeout_s=timeout_s)
    return [e for e in collected if e.pass_number == pass_number]
