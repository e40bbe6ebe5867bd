"""Backend for any OpenAI-compatible chat-completions server (vLLM, Ollama, llama.cpp, ...).

Why it exists: it lets the pipeline run against a self-hosted model, with no AWS account, for
development and for cheap bulk runs. Why only the standard library: it must not drag an SDK
into the runtime for a POST of one JSON body.

Settings: base URL from the ``base_url`` argument or ``OPENAI_BASE_URL`` (e.g.
``http://127.0.0.1:8000/v1``; ``/chat/completions`` is appended); optional bearer key from
``api_key`` or ``OPENAI_API_KEY``.

Retries: none here. Each call is one HTTP request; its outcome is reported as a typed
:class:`~enrichment_dagster.llm.types.LLMError` (429 -> ``ThrottledError``, 5xx and connection
failures -> ``TransientError``, 408 -> ``ModelTimeoutError``, other 4xx ->
``InvalidRequestError``) and the engine (:mod:`enrichment_dagster.engine.calls`) is the only
place that retries, paced by the shared throttle governor. A retry loop here stacked under the
engine's multiplied the requests (one 5xx cost 9 requests, one 429 cost 27) and slept per
thread, outside the governor. A ``Retry-After`` header is kept on the error as
``retry_after_s`` for whoever wants to read it; the governor decides the pause.

Record id: sent in the standard ``user`` field (as
:func:`~enrichment_dagster.llm.types.record_tag`), never in the prompt. ``user`` is a plain
string in every version of the Chat Completions schema, so any OpenAI-compatible server
takes it without extra flags (vLLM documents that it accepts and ignores it; llama.cpp and
Ollama ignore it), and gateways and proxies in front of a server can log it. Not
``metadata``: it came later, with OpenAI's stored completions, and is not part of every
compatible server's request schema.

Prices: any model id is accepted. A model that is in the price table is costed at its table
price; a model that is not is treated as **self-hosted and costs 0** (see :meth:`cost_usd`).
This is a deliberate, documented exception to the "no default price" rule, which only holds
for hosted models billed per token.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message as EmailMessage
from typing import Any

from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.prices import get_model, is_known_model
from enrichment_dagster.llm.types import (
    ConfigurationError,
    InvalidRequestError,
    LLMError,
    LLMRequest,
    LLMResponse,
    ModelTimeoutError,
    StopReason,
    ThrottledError,
    TransientError,
    UnreachableError,
    record_tag,
)

BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"

_FINISH_REASONS: dict[str, StopReason] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "content_filtered",
}


class _HttpFailure(Exception):
    """The failed request: the typed error to raise and the server's ``Retry-After``."""

    def __init__(self, error_type: type[LLMError], message: str, retry_after: float | None):
        super().__init__(message)
        self.error_type = error_type
        self.retry_after = retry_after


class OpenAICompatibleBackend(BaseBackend):
    """POSTs ``/chat/completions`` once per call; thread-safe (no shared mutable state)."""

    name = "openai"

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        json_mode: bool | None = None,
        timeout_s: float = 300.0,
    ) -> None:
        """``json_mode``: True/False forces ``response_format`` on/off; None (default) sends
        ``{"type": "json_object"}`` only when the request carries an output schema."""
        url = base_url or os.environ.get(BASE_URL_ENV)
        if not url:
            raise ConfigurationError(
                f"the openai backend needs a base URL: pass base_url or set {BASE_URL_ENV}"
            )
        self.base_url = url.rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
        self.json_mode = json_mode
        self.timeout_s = timeout_s

    def complete(self, request: LLMRequest) -> LLMResponse:
        """One chat completion: one HTTP request, its failure raised as a typed error."""
        body = json.dumps(self.build_body(request)).encode("utf-8")
        started = time.perf_counter()
        try:
            payload = self._post(body)
        except _HttpFailure as failure:
            raise self._typed_error(failure, request) from failure
        return parse_chat_completion(payload, request, time.perf_counter() - started, 1)

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        """Table price for hosted models; 0 for self-hosted ones (not in the table)."""
        if not is_known_model(model_id):
            return 0.0
        return get_model(model_id).cost_usd(input_tokens, output_tokens)

    def build_body(self, request: LLMRequest) -> dict[str, Any]:
        """The chat-completions request body for ``request``; the record travels in
        ``user`` (see the module docstring), not in the messages."""
        body: dict[str, Any] = {
            "model": request.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "max_tokens": request.max_output_tokens,
            "temperature": request.temperature,
            "stream": False,
            "user": record_tag(request.record_id),
        }
        wants_json = request.output_schema is not None if self.json_mode is None else self.json_mode
        if wants_json:
            body["response_format"] = {"type": "json_object"}
        return body

    def _post(self, body: bytes) -> Mapping[str, Any]:
        http_request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=body,
            headers=self._headers(),
            method="POST",
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as reply:
                raw = reply.read()
        except urllib.error.HTTPError as exc:
            raise _http_failure(exc) from exc
        except (http.client.HTTPException, OSError) as exc:  # URLError, timeouts, resets
            kind = UnreachableError if _never_connected(exc) else TransientError
            raise _HttpFailure(kind, f"connection failed: {exc}", None) from exc
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            message = f"response is not JSON: {raw[:200]!r}"
            raise _HttpFailure(TransientError, message, None) from exc

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _typed_error(self, failure: _HttpFailure, request: LLMRequest) -> LLMError:
        text = (
            f"openai-compatible call to {self.base_url} for model {request.model_id} "
            f"(record {request.record_id}, pass {request.pass_number}) failed: {failure}"
        )
        error = failure.error_type(text, attempts=1)
        error.retry_after_s = failure.retry_after  # type: ignore[attr-defined]
        return error


def _never_connected(exc: BaseException) -> bool:
    """True when the request cannot have reached the server: refused, DNS, no route."""
    reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def _http_failure(exc: urllib.error.HTTPError) -> _HttpFailure:
    """Classify an HTTP error status into a typed failure (retryable or not: the engine
    reads ``retryable`` on the error class)."""
    detail = _error_detail(exc)
    message = f"HTTP {exc.code}: {detail}"
    retry_after = _retry_after(exc.headers)
    if exc.code == 429:
        return _HttpFailure(ThrottledError, message, retry_after)
    if exc.code == 408:
        return _HttpFailure(ModelTimeoutError, message, retry_after)
    if exc.code >= 500:
        return _HttpFailure(TransientError, message, retry_after)
    if 400 <= exc.code < 500:
        return _HttpFailure(InvalidRequestError, message, None)
    return _HttpFailure(LLMError, message, None)


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        raw = exc.read()
    except OSError:
        return exc.reason if isinstance(exc.reason, str) else str(exc)
    try:
        parsed = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return raw[:300].decode("utf-8", "replace")
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict) and "message" in error:
        return str(error["message"])
    return json.dumps(parsed)[:300]


def _retry_after(headers: EmailMessage | None) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def parse_chat_completion(
    payload: Mapping[str, Any], request: LLMRequest, latency_s: float, attempts: int
) -> LLMResponse:
    """Text, reasoning (``reasoning_content`` or ``reasoning``), finish reason and usage."""
    choices = payload.get("choices") or []
    if not choices:
        raise TransientError(
            f"openai-compatible response for record {request.record_id} has no choices",
            attempts=attempts,
        )
    choice = choices[0]
    message = choice.get("message") or {}
    usage = payload.get("usage") or {}
    reasoning = message.get("reasoning_content") or message.get("reasoning") or None
    return LLMResponse(
        text=message.get("content") or "",
        stop_reason=_FINISH_REASONS.get(choice.get("finish_reason") or "", "other"),
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        latency_s=latency_s,
        attempts=attempts,
        reasoning_text=reasoning,
        model_id=request.model_id,
    )
