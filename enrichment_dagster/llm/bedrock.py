"""Amazon Bedrock backend on the Converse API.

Why Converse and not InvokeModel (which the old client used): one request/response shape for
every model family, so no per-family body builders and no per-family response parsers; token
usage and ``stopReason`` are always reported; tool use gives schema-forced JSON on models that
support it.

Why these botocore settings are explicit: botocore 1.43 defaults to ``legacy`` retries (5
attempts) and 1.44 to ``standard`` (3), and the default 60 s read timeout is too short for
long LLM answers. The pipeline builds this backend with ``max_attempts=1``
(``LLMResource.botocore_max_attempts``): botocore then makes one request per call, its
outcome surfaces as a typed :class:`~enrichment_dagster.llm.types.LLMError` carrying the
attempts made, and the engine (:mod:`enrichment_dagster.engine.calls`) is the only layer that
retries, paced by the shared throttle governor (one retry loop, not two stacked ones as in
the old client). ``max_attempts > 1`` lets botocore retry underneath, for standalone use.

``latency_s`` is wall time for the whole call, retries and backoff included.

Every call carries ``requestMetadata`` (see :func:`request_metadata`): the record and the
pass, beside the prompt and not in it, so Bedrock's model-invocation logs say which
posting each call was for.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.prices import ModelSpec, get_model
from enrichment_dagster.llm.types import (
    ConfigurationError,
    InvalidRequestError,
    LLMError,
    LLMRequest,
    LLMResponse,
    Message,
    ModelTimeoutError,
    StopReason,
    ThrottledError,
    TransientError,
    UnreachableError,
    record_tag,
)

ENDPOINT_ENV = "BEDROCK_ENDPOINT_URL"
DEFAULT_REGION = "us-east-1"
OUTPUT_TOOL_NAME = "record_output"

_STOP_REASONS: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "tool_use": "tool_use",
    "content_filtered": "content_filtered",
    "guardrail_intervened": "content_filtered",
}
_THROTTLE_CODES = frozenset({"ThrottlingException", "TooManyRequestsException"})
_TRANSIENT_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
        "ModelErrorException",
    }
)
_INVALID_CODES = frozenset(
    {
        "ValidationException",
        "AccessDeniedException",
        "ResourceNotFoundException",
        "ServiceQuotaExceededException",
        "UnrecognizedClientException",
    }
)
#: gpt-oss on Bedrock sometimes answers a ValidationException whose message shows a crashed
#: inference engine; the old system learned to retry it, so it is transient, not invalid.
_TRANSIENT_VALIDATION_MESSAGES = ("EngineCore encountered an issue",)


class BedrockBackend(BaseBackend):
    """Calls Bedrock Runtime Converse; one boto3 client per backend, shared by all threads."""

    name = "bedrock"

    def __init__(
        self,
        *,
        region_name: str | None = None,
        endpoint_url: str | None = None,
        models: Iterable[str] = (),
        max_attempts: int = 4,
        read_timeout_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        max_concurrency: int = 16,
    ) -> None:
        """Validate ``models`` (fail before any call) and build the shared client.

        ``max_attempts`` is the total number of requests botocore may send per call (first
        try included); ``max_concurrency`` sizes the HTTP connection pool so worker threads
        never queue for a connection.
        """
        for model_id in models:
            get_model(model_id)
        if max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be >= 1, got {max_attempts}")
        self.region_name = region_name or os.environ.get("AWS_REGION") or _default_region()
        self.endpoint_url = endpoint_url or os.environ.get(ENDPOINT_ENV) or None
        self.config = Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            read_timeout=read_timeout_s,
            connect_timeout=connect_timeout_s,
            max_pool_connections=max(max_concurrency, 10),
        )
        self._attempts = threading.local()
        self.client = self._make_client()

    def complete(self, request: LLMRequest) -> LLMResponse:
        """One Converse call; raises a typed LLMError when Bedrock or the network fails."""
        spec = get_model(request.model_id)
        kwargs = build_converse_kwargs(request, spec)
        self._attempts.count = 0
        started = time.perf_counter()
        try:
            response = self.client.converse(**kwargs)
        except ClientError as exc:
            raise map_client_error(exc, request, self._attempts_made(exc)) from exc
        except BotoCoreError as exc:
            raise map_botocore_error(exc, request, self._attempts_made(None)) from exc
        latency = time.perf_counter() - started
        return parse_converse_response(response, request, latency)

    def _make_client(self) -> Any:
        """A client from a private Session: the default session is not thread-safe."""
        session = boto3.session.Session()
        try:
            client = session.client(
                "bedrock-runtime",
                region_name=self.region_name,
                endpoint_url=self.endpoint_url,
                config=self.config,
            )
        except (NoRegionError, ValueError) as exc:
            raise ConfigurationError(f"cannot create the bedrock-runtime client: {exc}") from exc
        client.meta.events.register("before-send.bedrock-runtime.Converse", self._count_attempt)
        return client

    def _count_attempt(self, **_: Any) -> None:
        """Counts HTTP attempts per thread: errors without a response carry no retry count."""
        self._attempts.count = getattr(self._attempts, "count", 0) + 1

    def _attempts_made(self, exc: ClientError | None) -> int:
        if exc is not None:
            retries = exc.response.get("ResponseMetadata", {}).get("RetryAttempts")
            if isinstance(retries, int):
                return retries + 1
        return max(getattr(self._attempts, "count", 0), 1)


def _default_region() -> str:
    return os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def build_converse_kwargs(request: LLMRequest, spec: ModelSpec) -> dict[str, Any]:
    """The Converse keyword arguments for ``request``, following the model's settings."""
    kwargs: dict[str, Any] = {
        "modelId": request.model_id,
        "messages": _converse_messages(request.messages),
        "inferenceConfig": {
            "maxTokens": request.max_output_tokens,
            "temperature": request.temperature,
        },
        "requestMetadata": request_metadata(request),
    }
    system = [{"text": m.content} for m in request.messages if m.role == "system"]
    if system:
        kwargs["system"] = system
    if spec.additional_model_request_fields:
        kwargs["additionalModelRequestFields"] = dict(spec.additional_model_request_fields)
    if spec.output_format == "tool_use" and request.output_schema is not None:
        kwargs["toolConfig"] = _output_tool(request.output_schema)
    return kwargs


def request_metadata(request: LLMRequest) -> dict[str, str]:
    """Converse ``requestMetadata`` of ``request``: ``record_id`` and ``pass``.

    Why: Bedrock records this string-to-string map with the call in its model-invocation
    logs (when invocation logging is on in the Region) and lets the logs be filtered by it,
    so an operator finds every call made for one posting, and for which pass, without the
    id being in the prompt, where the model would be billed for it on every call.

    Bedrock's constraints (bedrock-runtime service model): 1 to 16 entries; keys 1 to 256
    and values 0 to 256 characters of ``[a-zA-Z0-9\\s:_@$#=/+,-.]``. botocore checks only
    the minimum lengths before sending; Bedrock refuses anything else with a
    ValidationException, which would fail the record. So ``record_id`` is
    :func:`~enrichment_dagster.llm.types.record_tag`: the id itself when it satisfies them
    (every real posting id), else ``sha256:<hex of its UTF-8 bytes>``, never omitted.
    """
    return {"record_id": record_tag(request.record_id), "pass": str(request.pass_number)}


def _converse_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """User/assistant turns; consecutive same-role messages merge (Converse wants turns)."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            continue
        block = {"text": message.content}
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"].append(block)
        else:
            turns.append({"role": message.role, "content": [block]})
    if not turns:
        raise InvalidRequestError("a Converse request needs at least one user message")
    return turns


def _output_tool(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A single tool whose input is the output object, and a toolChoice that forces it."""
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": OUTPUT_TOOL_NAME,
                    "description": "Record the structured output for this job posting.",
                    "inputSchema": {"json": dict(schema)},
                }
            }
        ],
        "toolChoice": {"tool": {"name": OUTPUT_TOOL_NAME}},
    }


def parse_converse_response(
    response: Mapping[str, Any], request: LLMRequest, latency_s: float
) -> LLMResponse:
    """Text (or forced-tool input as JSON), reasoning, stop reason, usage and attempts."""
    content = response.get("output", {}).get("message", {}).get("content", [])
    usage = response.get("usage", {})
    retries = response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
    return LLMResponse(
        text=_answer_text(content),
        stop_reason=map_stop_reason(response.get("stopReason")),
        input_tokens=int(usage.get("inputTokens", 0)),
        output_tokens=int(usage.get("outputTokens", 0)),
        latency_s=latency_s,
        attempts=int(retries) + 1,
        reasoning_text=_reasoning_text(content),
        model_id=request.model_id,
    )


def _answer_text(content: Sequence[Mapping[str, Any]]) -> str:
    """The forced tool's input as JSON if present, else every text block joined.

    Never ``content[0]["text"]``: reasoning models put a reasoningContent block first.
    """
    for block in content:
        tool_use = block.get("toolUse")
        if tool_use is not None and tool_use.get("name") == OUTPUT_TOOL_NAME:
            return json.dumps(tool_use.get("input"), ensure_ascii=False)
    return "".join(block["text"] for block in content if "text" in block)


def _reasoning_text(content: Sequence[Mapping[str, Any]]) -> str | None:
    parts = [
        block["reasoningContent"].get("reasoningText", {}).get("text", "")
        for block in content
        if "reasoningContent" in block
    ]
    joined = "".join(parts)
    return joined or None


def map_stop_reason(stop_reason: str | None) -> StopReason:
    """Converse stopReason → LLMResponse.stop_reason; unmodelled values become "other"."""
    return _STOP_REASONS.get(stop_reason or "", "other")


def map_client_error(exc: ClientError, request: LLMRequest, attempts: int) -> LLMError:
    """The typed error for a Bedrock error response, after botocore's retries."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", "")) or str(exc)
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    text = (
        f"bedrock {code or status} for model {request.model_id} "
        f"(record {request.record_id}, pass {request.pass_number}) "
        f"after {attempts} attempt(s): {message}"
    )
    return _error_class(code, message, status)(text, attempts=attempts)


def _error_class(code: str, message: str, status: int) -> type[LLMError]:
    if code in _THROTTLE_CODES:
        return ThrottledError
    if code == "ModelTimeoutException":
        return ModelTimeoutError
    if code in _TRANSIENT_CODES:
        return TransientError
    if code == "ValidationException" and any(
        hint in message for hint in _TRANSIENT_VALIDATION_MESSAGES
    ):
        return TransientError
    if code in _INVALID_CODES:
        return InvalidRequestError
    return _error_class_for_status(status)


def _error_class_for_status(status: int) -> type[LLMError]:
    if status == 429:
        return ThrottledError
    if status == 408:
        return ModelTimeoutError
    if status >= 500:
        return TransientError
    if 400 <= status < 500:
        return InvalidRequestError
    return LLMError


def map_botocore_error(exc: BotoCoreError, request: LLMRequest, attempts: int) -> LLMError:
    """Connection errors, read timeouts and dropped connections are transient (botocore
    already retried them); missing credentials or region are configuration errors."""
    text = (
        f"bedrock call for model {request.model_id} (record {request.record_id}, "
        f"pass {request.pass_number}) failed after {attempts} attempt(s): {exc}"
    )
    if isinstance(exc, NoCredentialsError | PartialCredentialsError | NoRegionError):
        return ConfigurationError(text, attempts=attempts)
    if isinstance(exc, BotoConnectionError):  # refused, DNS, connect timeout, proxy, TLS
        return UnreachableError(text, attempts=attempts)
    if isinstance(exc, HTTPClientError):  # sent, then reset or timed out: may have reached
        return TransientError(text, attempts=attempts)
    return LLMError(text, attempts=attempts)
