"""The small interface every backend implements.

A backend turns one :class:`LLMRequest` into one :class:`LLMResponse` and raises an
:class:`LLMError` subclass when it cannot. It never parses or validates: the engine does
that the same way for every backend, so a heuristic answer and a Bedrock answer walk the
same path. Backends must be thread-safe: the engine calls ``complete`` from a worker pool.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

if TYPE_CHECKING:
    from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
    from enrichment_dagster.contracts.silver import SilverRecord

PassNumber = Literal[1, 2, 3]


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: surrogate pairs joined, lone surrogates made U+FFFD.

    A model can answer a lone surrogate (``\\ud800`` as a JSON escape, or in raw text);
    Python keeps it in a ``str``, but UTF-8 cannot encode it, so Arrow, the cache and the
    ledger would refuse the whole partition's table for one character. Every string that
    comes from a model goes through here once, where it enters the program (backend
    responses, decoded JSON values, error messages, rows written to tables).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


#: What :func:`record_tag` sends verbatim: Bedrock's ``requestMetadata`` value alphabet
#: (``[a-zA-Z0-9\s:_@$#=/+,-.]{0,256}`` in the bedrock-runtime service model), ASCII only,
#: at least one character and without whitespace (a tag with a space or a line break is
#: hard to read and to filter on in a log), so it passes every field that carries it.
_TAG_VERBATIM = re.compile(r"[A-Za-z0-9:_@$#=/+,.-]{1,256}", re.ASCII)
#: Marks a tag that is a digest, not an id; a verbatim tag never starts with it.
TAG_DIGEST_PREFIX = "sha256:"


def record_tag(record_id: str) -> str:
    """The record id as it travels beside the prompt (Bedrock ``requestMetadata``, the
    OpenAI ``user`` field), never in it.

    Why a tag and not the id: an id is arbitrary text from Silver (``../x``, ``résumé-東京``,
    5,000 digits), but Bedrock refuses the whole call with a ValidationException when a
    ``requestMetadata`` value is longer than 256 characters or holds a character outside
    its pattern, and that would fail a record for its id alone. So an id made only of those
    characters (whitespace left out) and at most 256 long goes as it is, as every real
    posting id (digits) does; any other id goes as ``sha256:`` + the hex sha256
    of its UTF-8 bytes (71 characters). The digest is deterministic, so an operator
    finds such a posting's calls by computing it (``record_tag(id)``); an id that itself
    starts with ``sha256:`` is digested too, so two ids never share a tag.
    """
    if _TAG_VERBATIM.fullmatch(record_id) and not record_id.startswith(TAG_DIGEST_PREFIX):
        return record_id
    digest = hashlib.sha256(record_id.encode("utf-8", "surrogatepass")).hexdigest()
    return TAG_DIGEST_PREFIX + digest


Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class RecordInputs:
    """The posting itself, for a backend that answers from it instead of from the prompt.

    Only the rules backend does (``LLMBackend.reads_record``): re-parsing its own prompt
    would lose information. The engine builds this only for such a backend, so a model
    backend never holds Silver objects. ``description`` is ``record.description``, already
    cleaned by the engine; ``pass1``/``pass2`` the earlier answers, None when absent or
    unusable (the rules then compute their own).
    """

    record: SilverRecord
    description: str | None = None
    pass1: Pass1Output | None = None
    pass2: Pass2Output | None = None


@dataclass(frozen=True)
class LLMRequest:
    """One call to a model: everything a backend needs and nothing it must look up.

    ``record_id`` is not in ``messages``: the model is not billed for it and identical
    postings share one cached answer. Backends send it beside the prompt, as
    :func:`record_tag` (Bedrock ``requestMetadata``, the OpenAI ``user`` field).
    """

    record_id: str
    pass_number: PassNumber
    messages: tuple[Message, ...]
    model_id: str
    max_output_tokens: int
    output_schema: dict[str, Any] | None = None
    temperature: float = 0.0
    #: Set only for a backend that ``reads_record`` (see :class:`RecordInputs`).
    inputs: RecordInputs | None = field(default=None, compare=False)

    @property
    def system(self) -> str:
        return "\n\n".join(m.content for m in self.messages if m.role == "system")


StopReason = Literal[
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "content_filtered", "other"
]


@dataclass(frozen=True)
class LLMResponse:
    text: str
    stop_reason: StopReason
    input_tokens: int
    output_tokens: int
    latency_s: float
    attempts: int = 1
    reasoning_text: str | None = None
    model_id: str = ""

    def __post_init__(self) -> None:
        # The one place every backend's answer becomes ours: make its text valid here.
        object.__setattr__(self, "text", valid_text(self.text or ""))
        if self.reasoning_text is not None:
            object.__setattr__(self, "reasoning_text", valid_text(self.reasoning_text))

    @property
    def truncated(self) -> bool:
        return self.stop_reason == "max_tokens"


class LLMError(Exception):
    """Base of every backend failure; ``error_class`` is what lands in the output columns."""

    error_class = "llm_error"
    retryable = False

    def __init__(self, message: str, *, attempts: int = 1) -> None:
        super().__init__(valid_text(str(message)))
        self.attempts = attempts


class ThrottledError(LLMError):
    error_class = "throttled"
    retryable = True


class TransientError(LLMError):
    """5xx, timeouts, connection resets: worth another try after a pause."""

    error_class = "transient"
    retryable = True


class UnreachableError(TransientError):
    """The request never reached the model: connection refused, DNS failure, connect
    timeout. Nothing was billed and it says nothing about the record, so it never counts
    against the record's attempts (the engine stops a batch that cannot reach the model)."""

    error_class = "unreachable"


class ModelTimeoutError(LLMError):
    error_class = "model_timeout"
    retryable = True


class InvalidRequestError(LLMError):
    """The request itself is wrong (validation, access, unknown model): never retried."""

    error_class = "invalid_request"


class ConfigurationError(LLMError):
    """Raised before any call is made: unknown model, missing price, bad backend name."""

    error_class = "configuration"


class MissingAnswerError(LLMError):
    """The replay folder has no recorded answer for this record and pass."""

    error_class = "missing_answer"


@runtime_checkable
class LLMBackend(Protocol):
    """Everything the engine asks of a backend, declared here and nowhere else.

    Why each member: ``name`` labels results; ``cache_identity`` goes into every cache key
    (a backend whose answers come from rules adds their version, so changed rules never serve
    stale answers); ``answers_by_record`` says an answer depends on the record's id, not on
    the prompt alone (replay), so identical prompts of two records are never shared;
    ``reads_record`` says it answers from the posting itself (the rules), so the engine
    gives it :class:`RecordInputs`; every other backend gets the prompt only.
    ``cost_usd`` prices one call and raises ``ConfigurationError`` for a model it cannot
    price (the engine asks it once before any call); ``complete`` makes exactly one
    attempt and reports what happened (the engine alone retries and paces).
    :class:`~enrichment_dagster.llm.backend.BaseBackend` holds the usual answers.
    """

    name: str
    cache_identity: str
    answers_by_record: bool
    reads_record: bool

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float: ...

    def complete(self, request: LLMRequest) -> LLMResponse: ...

