"""Content-addressed answers and the attempts ledger, both in the :class:`CacheStore`.

The key of an answer is the sha256 of everything that determines it: pass, backend, model,
prompt version, schema version and the hash of the model input (the messages exactly as
sent). The record id is not part of the model input: the prompt never holds it (backends
send it beside the prompt, e.g. Bedrock ``requestMetadata``), so two postings with identical
content have identical input and share one key, and duplicates inside a batch, across
partitions and across runs are paid for once. Only a backend whose answer depends on the id
itself (replay) binds the id into the hash (:func:`record_input_hash`). A prompt or contract
change changes the key, so stale answers are never reused (fault 10 of the old system).

Only complete answers are stored. Failures are not, so a re-run retries exactly them; their
count per key is kept in a small ledger (``_cache/ab/cd/<key>.attempts.json``) so that
a record that fails every time stops being paid for after ``max_attempts_per_record`` runs.
The ledger is best effort: two runs racing on the same key may undercount by one.

Every stored answer names its own key and input hash, and :func:`read_answer` serves it
only when both are the ones looked up: an entry holding another record's answer (copied,
swapped or mis-indexed) is reported as corrupt and treated as a miss, never served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from enrichment_dagster.contracts.output import PRICING_VALUES, Pricing
from enrichment_dagster.contracts.passes import PASS_MODELS, SCHEMA_VERSION, Contract
from enrichment_dagster.llm.prices import ON_DEMAND
from enrichment_dagster.llm.types import Message
from enrichment_dagster.storage.cache_store import BlobStore, CacheStore

log = logging.getLogger(__name__)

#: Fields added since (``key``, ``pricing``) are optional with a default for older entries,
#: so the format stays 1: every answer ever stored remains readable, never paid for again.
PAYLOAD_FORMAT = 1
LEDGER_SUFFIX = ".attempts.json"


def content_hash(messages: tuple[Message, ...]) -> str:
    """sha256 of the model input: every message's role and content as sent (the record id
    is not among them, see the module docstring)."""
    digest = hashlib.sha256()
    for message in messages:
        digest.update(message.role.encode())
        digest.update(b"\x00")
        digest.update(message.content.encode())
        digest.update(b"\x01")
    return digest.hexdigest()


def record_input_hash(record_id: str, messages: tuple[Message, ...]) -> str:
    """The input hash for a backend whose answer depends on the record id, not on the prompt
    alone (``answers_by_record``, e.g. replay): the content hash bound to the id, since the
    messages do not hold it. Two ids with the same posting then never share an answer."""
    material = json.dumps(["record", record_id, content_hash(messages)])
    return hashlib.sha256(material.encode()).hexdigest()


def answer_key(
    pass_number: int, backend_name: str, model_id: str, prompt_version: str, input_hash: str
) -> str:
    """The cache key of an answer: a hex digest, as CacheStore requires.

    The backend's name is part of it: a heuristic or replayed answer must never be served
    later as if the configured Bedrock model had given it.
    """
    material = json.dumps(
        ["answer", pass_number, backend_name, model_id, prompt_version, SCHEMA_VERSION,
         input_hash]
    )
    return hashlib.sha256(material.encode()).hexdigest()


@dataclass(frozen=True)
class CachedAnswer:
    """A complete answer as stored: the contract *before* grounding adjustments (grounding
    is re-applied on every read, so a change of that policy never needs a new call).

    ``input_tokens``, ``output_tokens`` and ``cost_usd`` are what buying it took (every
    attempt of its conversation), ``pricing`` which price list that was billed at: the
    run that later serves it from the cache pays nothing, yet the tables can still say
    what the answer cost and how it was bought.
    """

    pass_number: int
    model_id: str
    prompt_version: str
    schema_version: str
    input_hash: str
    raw_text: str
    output: Contract
    input_tokens: int
    output_tokens: int
    cost_usd: float
    attempts: int
    calls: int
    latency_s: float
    stop_reason: str | None
    issue_counts: dict[str, int] = field(default_factory=dict)
    created_at: str = ""
    #: The answer key it was stored under ("" in entries written before keys were kept).
    key: str = ""
    #: ``on_demand`` or ``batch`` (entries written before it was kept were all on-demand).
    pricing: Pricing = ON_DEMAND

    def to_bytes(self) -> bytes:
        payload = {
            "format": PAYLOAD_FORMAT,
            "key": self.key,
            "pass_number": self.pass_number,
            "model_id": self.model_id,
            "prompt_version": self.prompt_version,
            "schema_version": self.schema_version,
            "input_hash": self.input_hash,
            "raw_text": self.raw_text,
            "output": self.output.model_dump(mode="json"),
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": self.cost_usd,
            "attempts": self.attempts,
            "calls": self.calls,
            "latency_s": self.latency_s,
            "stop_reason": self.stop_reason,
            "issue_counts": self.issue_counts,
            "created_at": self.created_at or _now(),
            "pricing": self.pricing,
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> CachedAnswer:
        """Decode a payload; ValueError (a pydantic ValidationError is one) when it is unusable.

        The bytes are validated in one step (:data:`_PAYLOAD`), the answer with its pass's
        contract: no ``json.loads`` into dicts walked again by the validator, which took half
        the time of a cache hit. Fields added since the format began keep their defaults.
        """
        payload = _PAYLOAD.validate_json(data)
        if payload.format != PAYLOAD_FORMAT:
            raise ValueError(f"unknown cache payload format {payload.format!r}")
        return cls(
            pass_number=payload.pass_number,
            model_id=payload.model_id,
            prompt_version=payload.prompt_version,
            schema_version=payload.schema_version,
            input_hash=payload.input_hash,
            raw_text=payload.raw_text,
            output=payload.output,
            input_tokens=payload.input_tokens,
            output_tokens=payload.output_tokens,
            cost_usd=payload.cost_usd,
            attempts=payload.attempts,
            calls=payload.calls,
            latency_s=payload.latency_s,
            stop_reason=payload.stop_reason,
            issue_counts=payload.issue_counts or {},
            created_at=payload.created_at,
            key=payload.key or "",
            pricing=_pricing(payload.pricing),
        )


class _Payload(BaseModel):
    """The stored form of a :class:`CachedAnswer` (see ``to_bytes``), for validation only."""

    model_config = ConfigDict(extra="ignore")

    format: int
    key: str | None = None
    model_id: str
    prompt_version: str
    schema_version: str
    input_hash: str
    raw_text: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    attempts: int = 1
    calls: int = 1
    latency_s: float = 0.0
    stop_reason: str | None = None
    issue_counts: dict[str, int] | None = None
    created_at: str = ""
    pricing: Any = None


#: One payload model per pass, told apart by ``pass_number``: its ``output`` is that pass's
#: contract, validated straight from the JSON bytes.
_PASS_PAYLOADS = {
    n: create_model(f"_Pass{n}Payload", __base__=_Payload, pass_number=(Literal[n], ...),
                    output=(model, ...))
    for n, model in PASS_MODELS.items()
}
_PAYLOAD: TypeAdapter[Any] = TypeAdapter(
    Annotated[_PASS_PAYLOADS[1] | _PASS_PAYLOADS[2] | _PASS_PAYLOADS[3],
              Field(discriminator="pass_number")]
)


def _pricing(value: Any) -> Pricing:
    """The stored pricing; absent (an entry written before it was kept) is on-demand, the
    only path that existed then. An unknown value makes the payload unusable (ValueError)
    rather than a cost reported under the wrong price list."""
    if value is None:
        return ON_DEMAND
    if value not in PRICING_VALUES:
        raise ValueError(f"unknown pricing {value!r} (expected one of {', '.join(PRICING_VALUES)})")
    return value  # type: ignore[no-any-return]


def read_answer(
    cache: CacheStore | BlobStore, key: str, input_hash: str | None = None,
    pass_number: int | None = None,
) -> CachedAnswer | None:
    """The stored answer of ``key``, or None on a miss, an unreadable payload or an entry
    that is not this key's answer (its stored key, input hash or pass differ).

    Raises whatever the store raises when it cannot be read at all (the caller must not
    send the record then: the answer may well be there).
    """
    data = cache.get(key)
    if data is None:
        return None
    return decode_answer(cache, key, data, input_hash, pass_number)


def decode_answer(
    cache: CacheStore | BlobStore, key: str, data: bytes, input_hash: str | None = None,
    pass_number: int | None = None,
) -> CachedAnswer | None:
    """The answer stored as ``data`` under ``key`` (read by ``get`` or ``get_many``), or
    None when it is unreadable or not this key's answer (:func:`read_answer`); either is
    reported on ``cache`` as corrupt."""
    try:
        answer = CachedAnswer.from_bytes(data)
    except Exception as exc:  # a corrupt or outdated payload is a miss, not a crash
        cache.report_corrupt(key, f"unreadable payload: {exc}")
        return None
    problems = []
    if answer.key and answer.key != key:
        problems.append(f"it names key {answer.key[:16]}…")
    if input_hash is not None and answer.input_hash != input_hash:
        problems.append(f"its input hash is {answer.input_hash[:16]}…, not {input_hash[:16]}…")
    if pass_number is not None and answer.pass_number != pass_number:
        problems.append(f"it is a pass-{answer.pass_number} answer")
    if problems:
        cache.report_corrupt(key, "holds another record's answer: " + "; ".join(problems))
        return None
    return answer


@dataclass(frozen=True)
class LedgerEntry:
    """Failed runs of one answer key, and the last failure (its raw text is kept so a
    permanently failed record still carries what the model said)."""

    failed_runs: int = 0
    last_error_class: str | None = None
    last_error: str | None = None
    last_raw_text: str | None = None
    updated_at: str = ""


class AttemptsLedger:
    """``<key>.attempts.json`` files beside the answers; every operation is best effort."""

    def __init__(self, cache: CacheStore | BlobStore) -> None:
        self.store = BlobStore(cache.root, suffix=LEDGER_SUFFIX)

    def read(self, key: str) -> LedgerEntry:
        try:
            data = self.store.get(key)
            if data is None:
                return LedgerEntry()
            payload = json.loads(data)
            return LedgerEntry(
                failed_runs=int(payload.get("failed_runs", 0)),
                last_error_class=payload.get("last_error_class"),
                last_error=payload.get("last_error"),
                last_raw_text=payload.get("last_raw_text"),
                updated_at=str(payload.get("updated_at", "")),
            )
        except Exception as exc:
            log.warning("attempts ledger for %s unreadable, counting from 0: %s", key, exc)
            return LedgerEntry()

    def record_failure(
        self, key: str, previous: LedgerEntry, error_class: str | None, error: str | None,
        raw_text: str | None,
    ) -> None:
        entry = {
            "failed_runs": previous.failed_runs + 1,
            "last_error_class": error_class,
            "last_error": error,
            "last_raw_text": raw_text if raw_text is not None else previous.last_raw_text,
            "updated_at": _now(),
        }
        try:
            self.store.put(key, json.dumps(entry, ensure_ascii=False).encode("utf-8"))
        except Exception as exc:
            log.warning("could not update the attempts ledger for %s: %s", key, exc)

    def reset(self, key: str) -> None:
        """Forget the failures of ``key`` (lets a permanently failed record be tried again)."""
        self.store.root.delete(self.store.path(key))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
