"""A fake Amazon Bedrock Runtime server (standard library only) for tests and benchmarks.

Why not moto: moto 5.2.5 has no Converse (it answers ``NotImplementedError``, or an HTML 500
page in server mode, which botocore then retries). This fake speaks the real wire protocol,
so the code under test goes through real boto3: signing, URL-encoded model ids, typed error
parsing from the ``x-amzn-ErrorType`` header, and botocore's retry loop.

Routes: ``POST /model/{modelId}/converse`` and ``POST /model/{modelId}/invoke`` (an OpenAI
``chat.completion`` body for every model except ``anthropic.*``, which gets an Anthropic
Messages body). Streaming routes are not served: the project does not use them.

What a request gets, decided in this order:

1. ``known_models`` set and the id is not in it, or a Converse ``requestMetadata`` that breaks
   Bedrock's constraints (entry count, key and value length and pattern, read from botocore's
   bedrock-runtime service model; botocore itself checks only minimum lengths) →
   ``ValidationException`` (as Bedrock does).
2. More than ``max_in_flight`` requests open, or the ``rpm_limit`` sliding window is full →
   a real ``ThrottlingException`` (429 + ``x-amzn-ErrorType`` + JSON message).
3. A scripted failure: first the FIFO queue (:meth:`FakeBedrock.fail_next`), then the
   per-record script (``fail_records``), then the seeded random rates.
4. Otherwise an answer from ``answer(request_body, model_id)``, else the ``replay_folder``,
   else a minimal JSON object for the pass; possibly mutated (malformed, truncated,
   reasoning-only). ``openai.*`` models get a reasoning block first, as gpt-oss does.

The pass is read from a line ``OUTPUT_CONTRACT: pass{N}`` in the system prompt. The record
id is read from where the real APIs carry it beside the prompt, never from the prompt text:
``requestMetadata.record_id`` of a Converse body, ``user`` of an OpenAI chat body
(``metadata.user_id`` of an Anthropic Messages body) on InvokeModel, and the ``recordId`` of
a batch input line (:mod:`~enrichment_dagster_tests.fakes.fake_bedrock_batch`). It is the
tag the backends send (:func:`~enrichment_dagster.llm.types.record_tag`): the posting id
itself, or ``sha256:<hex>`` for an id Bedrock would refuse.

Run alone (for benchmarks whose model calls come from other processes, e.g. the run
workers of ``dagster dev``)::

    python -m enrichment_dagster_tests.fakes.fake_bedrock --port 0 --latency 0.2

prints one JSON line ``{"endpoint_url": ..., "pid": ...}`` once it listens, serves until
SIGTERM/SIGINT, and answers ``GET /stats`` with the counters as JSON (``?per_record=1`` adds
the calls per record id); ``POST /stats/reset`` zeroes them. Both routes are also served
by an in-process :class:`FakeBedrock`.

Failure kinds (for ``fail_next`` and ``fail_records``): ``throttle``, ``model_not_ready``,
``unavailable`` (503), ``internal`` (500), ``model_timeout`` (408), ``model_error`` (424),
``validation`` (400), ``access_denied`` (403), ``not_found`` (404); answer mutations
``malformed``, ``truncated``, ``reasoning_only``; and ``sleep:<seconds>`` (answer late, to
trigger client read timeouts). In ``fail_records`` a value ``"always_<kind>"`` applies to every
call for that record, a plain ``"<kind>"`` to the next call only, and a list to successive
calls.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import botocore.session
import pytest

from enrichment_dagster.llm.replay import model_slug
from enrichment_dagster_tests.fakes.fake_bedrock_batch import FakeBatchPlane

AnswerFn = Callable[[Mapping[str, Any], str], str]

_ROUTE = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|invoke)$")
_PASS = re.compile(r"OUTPUT_CONTRACT:\s*pass([123])\b")
_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"

#: kind → (HTTP status, error code, message). Messages follow real Bedrock wording.
ERROR_KINDS: dict[str, tuple[int, str, str]] = {
    "throttle": (429, "ThrottlingException", "Too many requests, please wait before trying again."),
    "model_not_ready": (429, "ModelNotReadyException", "Model is not ready to serve requests."),
    "unavailable": (503, "ServiceUnavailableException", "Service is temporarily unavailable."),
    "internal": (500, "InternalServerException", "The server encountered an internal error."),
    "model_timeout": (408, "ModelTimeoutException", "Model has timed out in processing request."),
    "model_error": (424, "ModelErrorException", "The model failed to process the request."),
    "validation": (400, "ValidationException", "Malformed input request."),
    "access_denied": (403, "AccessDeniedException", "You don't have access to the model."),
    "not_found": (404, "ResourceNotFoundException", "The requested resource was not found."),
}
MUTATION_KINDS = frozenset({"malformed", "truncated", "reasoning_only"})
THROTTLE_KINDS = frozenset({"throttle", "model_not_ready"})

#: Small but contract-valid answers per pass (the contracts refuse an empty core object);
#: replace them per test via ``default_answers`` or ``answer``.
DEFAULT_ANSWERS: dict[int, str] = {
    1: json.dumps({"extraction": {
        "work_model": {"work_model_stated": "remote", "employment_type_stated": "full_time"},
        "skills_classified": {"must_have_hard_skills": ["Python", "SQL"], "years_experience_min": 3},
    }}),
    2: json.dumps({"inference": {"seniority_and_role": {
        "seniority_level": {"value": "mid", "confidence": 0.8, "evidence": None, "source": "inferred"},
        "job_family": {"value": "data_engineer", "confidence": 0.9, "evidence": None, "source": "inferred"},
    }}}),
    3: json.dumps({
        "analysis": {"red_flags_and_role_quality": {
            "role_clarity": {"value": "clear", "confidence": 0.7, "evidence": None, "source": "inferred"},
        }},
        "summary": {"strength_categories": ["clear_requirements"], "recommendation_score": 0.6},
    }),
}
MALFORMED_TEXT = "I'm sorry, I can't produce the requested output for this posting."


@dataclass
class FakeBedrockConfig:
    """Every knob of the fake; change them at run time with :meth:`FakeBedrock.configure`."""

    latency_s: float = 0.0
    latency_per_output_token_s: float = 0.0
    latency_jitter: float = 0.0
    rpm_limit: int | None = None
    rpm_window_s: float = 60.0
    max_in_flight: int | None = None
    throttle_rate: float = 0.0
    server_error_rate: float = 0.0
    malformed_rate: float = 0.0
    truncated_rate: float = 0.0
    reasoning_only_rate: float = 0.0
    seed: int = 0
    fail_records: dict[str, str | Sequence[str]] = field(default_factory=dict)
    reasoning_for_openai: bool = True
    answer: AnswerFn | None = None
    replay_folder: str | Path | None = None
    default_answers: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_ANSWERS))
    input_tokens: int | None = None
    output_tokens: int | None = None
    enforce_max_tokens: bool = True
    known_models: frozenset[str] | None = None
    request_log_size: int = 200


@dataclass(frozen=True)
class RecordedRequest:
    operation: str
    model_id: str
    record_id: str | None
    pass_number: int | None
    body: Mapping[str, Any]


@dataclass(frozen=True)
class FakeBedrockStats:
    """A consistent snapshot of the counters (take a new one to see later calls)."""

    calls: int
    per_record_calls: dict[str, int]
    ok: int
    throttled: int
    errors: int
    input_tokens: int
    output_tokens: int
    in_flight: int
    max_in_flight: int
    outcomes: dict[str, int]
    requests: list[RecordedRequest]
    #: Throttles from the quota itself (``rpm_limit`` window full or ``max_in_flight``
    #: exceeded), as opposed to injected ones: a client that paces well keeps this near 0.
    quota_throttled: int = 0
    #: Answers served (billed) per record id: a throttled or 5xx request is not billed.
    per_record_billed: dict[str, int] = field(default_factory=dict)
    #: Input + output tokens billed per record id.
    per_record_billed_tokens: dict[str, int] = field(default_factory=dict)


@dataclass
class _Counters:
    calls: int = 0
    ok: int = 0
    throttled: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    quota_throttled: int = 0
    per_record: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    per_record_billed: Counter[str] = field(default_factory=Counter)
    per_record_billed_tokens: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Parsed:
    """What the fake reads out of one request body."""

    operation: str
    model_id: str
    body: Mapping[str, Any]
    system_text: str
    user_text: str
    record_id: str | None
    pass_number: int | None
    max_tokens: int | None
    tool_name: str | None
    #: Why Bedrock would refuse the body before any model sees it, or None.
    invalid: str | None = None


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    headers: Mapping[str, str]
    delay_s: float = 0.0


class FakeBedrock:
    """The server plus its configuration, failure scripts and counters (all thread-safe)."""

    def __init__(self, **config: Any) -> None:
        self._lock = threading.Lock()
        self._config = FakeBedrockConfig()
        self._rng = random.Random(0)
        self._queue: deque[str] = deque()
        self._record_scripts: dict[str, deque[str]] = {}
        self._window: deque[float] = deque()
        self._counters = _Counters()
        self._requests: deque[RecordedRequest] = deque(maxlen=self._config.request_log_size)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: The batch-inference control plane (model-invocation jobs) on the same server.
        self.batch = FakeBatchPlane(self)
        self.configure(**config)

    # ----------------------------------------------------------------- lifecycle
    def start(self, port: int = 0, host: str = "127.0.0.1") -> FakeBedrock:
        """Bind ``host:port`` (default: an ephemeral port on 127.0.0.1) and serve in a daemon
        thread."""
        self._server = _Server((host, port), _make_handler(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake Bedrock server is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ------------------------------------------------------------- configuration
    def configure(self, **changes: Any) -> None:
        """Change any :class:`FakeBedrockConfig` field; ``seed`` re-seeds the RNG."""
        names = {f.name for f in fields(FakeBedrockConfig)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown fake Bedrock settings {sorted(unknown)}; known: {names}")
        if "known_models" in changes and changes["known_models"] is not None:
            changes["known_models"] = frozenset(changes["known_models"])
        for kind in _script_kinds(changes.get("fail_records", {})):
            _check_kind(kind)
        with self._lock:
            self._config = replace(self._config, **changes)
            if "seed" in changes:
                self._rng = random.Random(self._config.seed)
            if "fail_records" in changes:
                self._record_scripts = _compile_scripts(self._config.fail_records)
            if "request_log_size" in changes:
                self._requests = deque(self._requests, maxlen=self._config.request_log_size)

    @property
    def config(self) -> FakeBedrockConfig:
        with self._lock:
            return self._config

    def fail_next(self, *kinds: str) -> None:
        """Queue failures for the next requests, whatever their record (FIFO)."""
        for kind in kinds:
            _check_kind(kind)
        with self._lock:
            self._queue.extend(kinds)

    def reset_stats(self) -> None:
        """Zero the counters and the request log; the rpm window is kept (it is the quota)."""
        with self._lock:
            in_flight = self._counters.in_flight
            self._counters = _Counters(in_flight=in_flight, max_in_flight=in_flight)
            self._requests.clear()

    @property
    def stats(self) -> FakeBedrockStats:
        with self._lock:
            c = self._counters
            return FakeBedrockStats(
                calls=c.calls,
                per_record_calls=dict(c.per_record),
                ok=c.ok,
                throttled=c.throttled,
                errors=c.errors,
                input_tokens=c.input_tokens,
                output_tokens=c.output_tokens,
                in_flight=c.in_flight,
                max_in_flight=c.max_in_flight,
                outcomes=dict(c.outcomes),
                requests=list(self._requests),
                quota_throttled=c.quota_throttled,
                per_record_billed=dict(c.per_record_billed),
                per_record_billed_tokens=dict(c.per_record_billed_tokens),
            )

    def stats_dict(self, per_record: bool = False) -> dict[str, Any]:
        """The counters as JSON-ready data (``GET /stats``), without the request log, whose
        bodies are large; ``per_record`` adds the calls per record id."""
        stats = self.stats
        data: dict[str, Any] = {
            name: getattr(stats, name)
            for name in ("calls", "ok", "throttled", "quota_throttled", "errors",
                         "input_tokens", "output_tokens", "in_flight", "max_in_flight",
                         "outcomes")
        }
        data["records"] = len(stats.per_record_calls)
        data["max_calls_per_record"] = max(stats.per_record_calls.values(), default=0)
        if per_record:
            data["per_record_calls"] = stats.per_record_calls
        return data

    # ------------------------------------------------------------------ serving
    def serve(
        self, operation: str, model_id: str, raw_body: bytes, record_id: str | None = None
    ) -> _Reply:
        """The reply to one request; the handler sleeps ``delay_s`` before sending it.

        ``record_id`` is given by callers that carry it outside the body (the batch plane
        passes each line's ``recordId``); otherwise it is read from the body's metadata.
        """
        try:
            body = json.loads(raw_body or b"{}")
        except json.JSONDecodeError:
            return _error_reply("validation", "Request body is not valid JSON.")
        if not isinstance(body, dict):
            return _error_reply("validation", "Request body must be a JSON object.")
        parsed = _parse_request(operation, model_id, body)
        if record_id is not None:
            parsed = replace(parsed, record_id=record_id)
        with self._lock:
            config = self._config
            self._count_call(parsed)
            kind = self._decide(parsed, config)
        if kind in ERROR_KINDS:
            return self._error(kind, parsed, parsed.invalid if kind == "validation" else None)
        try:
            answer = self._answer_text(parsed, config)
        except FileNotFoundError as exc:
            return self._error("not_found", parsed, f"No replay answer: {exc.filename}")
        return self._success(parsed, config, answer, kind)

    def enter_request(self) -> None:
        with self._lock:
            self._counters.in_flight += 1
            self._counters.max_in_flight = max(
                self._counters.max_in_flight, self._counters.in_flight
            )

    def leave_request(self) -> None:
        with self._lock:
            self._counters.in_flight -= 1

    def _count_call(self, parsed: _Parsed) -> None:
        self._counters.calls += 1
        self._counters.per_record[parsed.record_id or ""] += 1
        self._requests.append(
            RecordedRequest(
                parsed.operation, parsed.model_id, parsed.record_id, parsed.pass_number, parsed.body
            )
        )

    def _decide(self, parsed: _Parsed, config: FakeBedrockConfig) -> str | None:
        """Failure kind, mutation kind, ``sleep:<s>`` or None (plain answer). Under the lock."""
        if parsed.invalid is not None:
            return "validation"
        if config.known_models is not None and parsed.model_id not in config.known_models:
            return "validation"
        if (
            config.max_in_flight is not None and self._counters.in_flight > config.max_in_flight
        ) or not self._admit_rpm(config):
            self._counters.quota_throttled += 1
            return "throttle"
        scripted = self._scripted_kind(parsed.record_id)
        if scripted is not None:
            return scripted
        return self._random_kind(config)

    def _admit_rpm(self, config: FakeBedrockConfig) -> bool:
        """Sliding-window quota: admit and remember now, or refuse when the window is full."""
        if config.rpm_limit is None:
            return True
        now = time.monotonic()
        while self._window and now - self._window[0] >= config.rpm_window_s:
            self._window.popleft()
        if len(self._window) >= config.rpm_limit:
            return False
        self._window.append(now)
        return True

    def _scripted_kind(self, record_id: str | None) -> str | None:
        if self._queue:
            return self._queue.popleft()
        script = self._record_scripts.get(record_id or "")
        if script is None:
            return None
        kind = script[0]
        if kind.startswith("always_"):
            return kind.removeprefix("always_")
        script.popleft()
        if not script:
            del self._record_scripts[record_id or ""]
        return kind

    def _random_kind(self, config: FakeBedrockConfig) -> str | None:
        rng = self._rng
        if rng.random() < config.throttle_rate:
            return "throttle"
        if rng.random() < config.server_error_rate:
            return rng.choice(("unavailable", "internal"))
        for kind, rate in (
            ("malformed", config.malformed_rate),
            ("truncated", config.truncated_rate),
            ("reasoning_only", config.reasoning_only_rate),
        ):
            if rng.random() < rate:
                return kind
        return None

    def _error(self, kind: str, parsed: _Parsed, message: str | None = None) -> _Reply:
        with self._lock:
            if kind in THROTTLE_KINDS:
                self._counters.throttled += 1
            else:
                self._counters.errors += 1
            self._counters.outcomes[kind] += 1
        return _error_reply(kind, message)

    # ------------------------------------------------------------------ answers
    def _answer_text(self, parsed: _Parsed, config: FakeBedrockConfig) -> str:
        if config.answer is not None:
            return config.answer(parsed.body, parsed.model_id)
        if config.replay_folder is not None:
            return _replay_answer(Path(config.replay_folder), parsed)
        return config.default_answers.get(parsed.pass_number or 0, "{}")

    def _success(
        self, parsed: _Parsed, config: FakeBedrockConfig, answer: str, kind: str | None
    ) -> _Reply:
        reasoning = _reasoning_for(parsed, config, kind)
        text, stop = _mutate(answer, kind)
        text, stop = _enforce_budget(text, stop, reasoning, parsed.max_tokens, config)
        input_tokens = _count(config.input_tokens, parsed.system_text + parsed.user_text)
        output_tokens = _count(config.output_tokens, reasoning + text)
        delay = self._delay(config, kind, output_tokens)
        with self._lock:
            self._counters.ok += 1
            self._counters.input_tokens += input_tokens
            self._counters.output_tokens += output_tokens
            self._counters.outcomes[_outcome_name(kind)] += 1
            self._bill(parsed.record_id, input_tokens + output_tokens)
        answer_body = _Answer(text, reasoning, stop, input_tokens, output_tokens, delay)
        return _Reply(200, _encode_answer(parsed, answer_body), _json_headers(), delay)

    def _bill(self, record_id: str | None, tokens: int) -> None:
        """Count one billed answer for ``record_id`` (under the lock)."""
        self._counters.per_record_billed[record_id or ""] += 1
        self._counters.per_record_billed_tokens[record_id or ""] += tokens

    def _delay(self, config: FakeBedrockConfig, kind: str | None, output_tokens: int) -> float:
        delay = config.latency_s + config.latency_per_output_token_s * output_tokens
        if config.latency_jitter:
            with self._lock:
                delay *= 1 + config.latency_jitter * self._rng.uniform(-1.0, 1.0)
        if kind is not None and kind.startswith("sleep:"):
            delay += float(kind.removeprefix("sleep:"))
        return max(delay, 0.0)


# ---------------------------------------------------------------------- parsing
def _parse_request(operation: str, model_id: str, body: Mapping[str, Any]) -> _Parsed:
    if operation == "converse":
        system_text, user_text = _converse_texts(body)
        max_tokens = (body.get("inferenceConfig") or {}).get("maxTokens")
        tool_name = _forced_tool(body)
        record_id = _converse_record_id(body)
        invalid = _request_metadata_problem(body.get("requestMetadata"))
    else:
        system_text, user_text = _invoke_texts(body)
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        tool_name = None
        record_id = _invoke_record_id(body)
        invalid = None
    return _Parsed(
        operation=operation,
        model_id=model_id,
        body=body,
        system_text=system_text,
        user_text=user_text,
        record_id=record_id,
        pass_number=_pass_of(system_text, user_text),
        max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        tool_name=tool_name,
        invalid=invalid,
    )


def _converse_record_id(body: Mapping[str, Any]) -> str | None:
    """``requestMetadata.record_id``: where BedrockBackend puts the record's tag."""
    metadata = body.get("requestMetadata")
    value = metadata.get("record_id") if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) else None


def _invoke_record_id(body: Mapping[str, Any]) -> str | None:
    """``user`` of an OpenAI chat body, else ``metadata.user_id`` of an Anthropic one: the
    standard caller-identifier fields of those request formats."""
    user = body.get("user")
    if isinstance(user, str):
        return user
    metadata = body.get("metadata")
    value = metadata.get("user_id") if isinstance(metadata, Mapping) else None
    return value if isinstance(value, str) else None


@cache
def _request_metadata_shape() -> Any:
    """The ``requestMetadata`` shape of Converse in botocore's bedrock-runtime model: the
    constraints Bedrock enforces, from the same source the client is generated from."""
    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    return model.operation_model("Converse").input_shape.members["requestMetadata"]


def _request_metadata_problem(metadata: Any) -> str | None:
    """Why Bedrock would refuse this ``requestMetadata`` (ValidationException), or None.

    botocore validates only minimum lengths before sending; the entry count, the maximum
    lengths and the patterns are enforced by the service, so the fake enforces them here.
    """
    if metadata is None:
        return None
    shape = _request_metadata_shape()
    if not isinstance(metadata, Mapping):
        return "Value at 'requestMetadata' must be a map of strings to strings."
    low, high = shape.metadata.get("min", 0), shape.metadata.get("max", len(metadata))
    if not low <= len(metadata) <= high:
        return (f"Value at 'requestMetadata' failed to satisfy constraint: Member must have "
                f"between {low} and {high} entries.")
    for part, member, values in (("key", shape.key, list(metadata)),
                                 ("value", shape.value, list(metadata.values()))):
        for value in values:
            if not _satisfies(value, member.metadata):
                return (f"Value at 'requestMetadata' failed to satisfy constraint: Map {part} "
                        f"must satisfy constraint: [Member must have length between "
                        f"{member.metadata.get('min', 0)} and {member.metadata.get('max')}, "
                        f"Member must satisfy regular expression pattern: "
                        f"{member.metadata.get('pattern')}]")
    return None


def _satisfies(value: Any, constraints: Mapping[str, Any]) -> bool:
    """A string within the shape's length bounds whose whole text matches its pattern (Java
    semantics, where ``\\s`` is ASCII whitespace: hence ``re.ASCII``)."""
    if not isinstance(value, str):
        return False
    if not constraints.get("min", 0) <= len(value) <= constraints.get("max", len(value)):
        return False
    pattern = constraints.get("pattern")
    return pattern is None or re.fullmatch(pattern, value, re.ASCII) is not None


def _converse_texts(body: Mapping[str, Any]) -> tuple[str, str]:
    system = "\n".join(b.get("text", "") for b in body.get("system") or [])
    user = "\n".join(
        block.get("text", "")
        for message in body.get("messages") or []
        for block in message.get("content") or []
    )
    return system, user


def _invoke_texts(body: Mapping[str, Any]) -> tuple[str, str]:
    system_parts = [_content_text(body["system"])] if "system" in body else []
    user_parts: list[str] = []
    for message in body.get("messages") or []:
        text = _content_text(message.get("content"))
        target = system_parts if message.get("role") in ("system", "developer") else user_parts
        target.append(text)
    return "\n".join(system_parts), "\n".join(user_parts)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _forced_tool(body: Mapping[str, Any]) -> str | None:
    config = body.get("toolConfig") or {}
    tools = [t.get("toolSpec", {}).get("name") for t in config.get("tools") or []]
    choice = config.get("toolChoice") or {}
    if "tool" in choice:
        return choice["tool"].get("name")
    if "any" in choice and tools:
        return tools[0]
    return None


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def record_id_of(body: Mapping[str, Any]) -> str | None:
    """The record a Converse or InvokeModel body is for (for custom ``answer`` callables):
    its ``requestMetadata.record_id``, or on InvokeModel its ``user`` (``metadata.user_id``);
    the prompt text is never read. It is the backends' tag
    (:func:`~enrichment_dagster.llm.types.record_tag`), i.e. the posting id for every id
    Bedrock accepts."""
    return _parse_request(_operation_of(body), "", body).record_id


def pass_of(body: Mapping[str, Any]) -> int | None:
    """The ``OUTPUT_CONTRACT: pass{N}`` of a request body (for custom ``answer`` callables)."""
    return _parse_request(_operation_of(body), "", body).pass_number


def _operation_of(body: Mapping[str, Any]) -> str:
    """The operation a bare body was sent with: only Converse has these two fields."""
    return "converse" if "inferenceConfig" in body or "requestMetadata" in body else "invoke"


def _pass_of(system_text: str, user_text: str) -> int | None:
    found = _first(_PASS, system_text) or _first(_PASS, user_text)
    return int(found) if found else None


def _replay_answer(folder: Path, parsed: _Parsed) -> str:
    if parsed.record_id is None or parsed.pass_number is None:
        raise FileNotFoundError(
            2, "request names no record (requestMetadata.record_id, user, recordId) or has no "
            "OUTPUT_CONTRACT", str(folder))
    name = f"pass{parsed.pass_number}-{model_slug(parsed.model_id)}-raw.txt"
    return (folder / parsed.record_id / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------- answers
@dataclass(frozen=True)
class _Answer:
    text: str
    reasoning: str
    stop_reason: str
    input_tokens: int
    output_tokens: int
    delay_s: float


def _reasoning_for(parsed: _Parsed, config: FakeBedrockConfig, kind: str | None) -> str:
    if kind == "reasoning_only" or (
        config.reasoning_for_openai and parsed.model_id.startswith("openai.")
    ):
        return (
            f"The user wants the pass {parsed.pass_number} output for record "
            f"{parsed.record_id}. I will read the posting and answer with JSON only."
        )
    return ""


def _mutate(answer: str, kind: str | None) -> tuple[str, str]:
    """(text, stopReason) after an injected mutation."""
    if kind == "malformed":
        return MALFORMED_TEXT, "end_turn"
    if kind == "truncated":
        return answer[: max(1, len(answer) // 2)], "max_tokens"
    if kind == "reasoning_only":
        return "", "max_tokens"
    return answer, "end_turn"


def _enforce_budget(
    text: str, stop: str, reasoning: str, max_tokens: int | None, config: FakeBedrockConfig
) -> tuple[str, str]:
    """Cut the text where a real model would hit ``maxTokens`` (4 chars per token)."""
    if not config.enforce_max_tokens or max_tokens is None or config.output_tokens is not None:
        return text, stop
    budget_chars = max(max_tokens * 4 - len(reasoning), 0)
    if len(text) <= budget_chars:
        return text, stop
    return text[:budget_chars], "max_tokens"


def _count(fixed: int | None, text: str) -> int:
    return fixed if fixed is not None else len(text) // 4


def _outcome_name(kind: str | None) -> str:
    if kind is None or kind.startswith("sleep:"):
        return "ok"
    return kind


def _encode_answer(parsed: _Parsed, answer: _Answer) -> bytes:
    if parsed.operation == "converse":
        payload = _converse_body(parsed, answer)
    elif parsed.model_id.startswith("anthropic."):
        payload = _anthropic_body(parsed, answer)
    else:
        payload = _chat_completion_body(parsed, answer)
    return json.dumps(payload).encode("utf-8")


def _converse_body(parsed: _Parsed, answer: _Answer) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if answer.reasoning:
        content.append({"reasoningContent": {"reasoningText": {"text": answer.reasoning}}})
    stop = answer.stop_reason
    tool_input = _tool_input(answer.text) if parsed.tool_name and stop == "end_turn" else None
    if tool_input is not None:
        content.append(
            {
                "toolUse": {
                    "toolUseId": f"tooluse_{uuid.uuid4().hex[:16]}",
                    "name": parsed.tool_name,
                    "input": tool_input,
                }
            }
        )
        stop = "tool_use"
    elif answer.text:
        content.append({"text": answer.text})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": _usage(answer, "inputTokens", "outputTokens", "totalTokens"),
        "metrics": {"latencyMs": int(answer.delay_s * 1000)},
    }


def _tool_input(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _chat_completion_body(parsed: _Parsed, answer: _Answer) -> dict[str, Any]:
    content = answer.text
    if answer.reasoning:
        content = f"<reasoning>{answer.reasoning}</reasoning>{content}"
    finish = "length" if answer.stop_reason == "max_tokens" else "stop"
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": parsed.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": _usage(answer, "prompt_tokens", "completion_tokens", "total_tokens"),
    }


def _anthropic_body(parsed: _Parsed, answer: _Answer) -> dict[str, Any]:
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": parsed.model_id,
        "content": [{"type": "text", "text": answer.text}],
        "stop_reason": answer.stop_reason,
        "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
    }


def _usage(answer: _Answer, in_key: str, out_key: str, total_key: str) -> dict[str, int]:
    return {
        in_key: answer.input_tokens,
        out_key: answer.output_tokens,
        total_key: answer.input_tokens + answer.output_tokens,
    }


# ---------------------------------------------------------------------- errors
def _check_kind(kind: str) -> None:
    base = kind.removeprefix("always_")
    if base in ERROR_KINDS or base in MUTATION_KINDS:
        return
    if base.startswith("sleep:"):
        float(base.removeprefix("sleep:"))
        return
    raise ValueError(
        f"unknown failure kind {kind!r}; known: {sorted(ERROR_KINDS)} + "
        f"{sorted(MUTATION_KINDS)} + 'sleep:<seconds>', optionally prefixed 'always_'"
    )


def _script_kinds(fail_records: Mapping[str, str | Sequence[str]]) -> list[str]:
    kinds: list[str] = []
    for value in fail_records.values():
        kinds.extend([value] if isinstance(value, str) else value)
    return kinds


def _compile_scripts(fail_records: Mapping[str, str | Sequence[str]]) -> dict[str, deque[str]]:
    return {
        record: deque([value] if isinstance(value, str) else value)
        for record, value in fail_records.items()
    }


def _error_reply(kind: str, message: str | None = None) -> _Reply:
    status, code, default_message = ERROR_KINDS[kind]
    headers = _json_headers()
    headers["x-amzn-ErrorType"] = code + _ERROR_TYPE_SUFFIX
    body = json.dumps({"message": message or default_message}).encode("utf-8")
    return _Reply(status, body, headers)


def _json_headers() -> dict[str, str]:
    return {"Content-Type": "application/json", "x-amzn-RequestId": str(uuid.uuid4())}


# ---------------------------------------------------------------------- HTTP
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out close their socket; that is expected here, not an error."""
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError | TimeoutError):
            return
        super().handle_error(request, client_address)


def _make_handler(fake: FakeBedrock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True
        timeout = 60

        def parse_request(self) -> bool:
            """Stamp the request's arrival (its line is read, its headers not yet parsed)."""
            self.received = time.perf_counter()
            return super().parse_request()

        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            match = _ROUTE.match(self.path.split("?", 1)[0])
            if match is None and self._batch("POST", raw):
                return
            if match is None:
                if not self._control(self.path.split("?", 1)[0]):
                    self._send(_unknown_operation(self.path))
                return
            fake.enter_request()
            try:
                reply = fake.serve(match["op"], unquote(match["model"]), raw)
                # The latency is the model's time to answer, counted from the request's
                # arrival: the fake's own work (reading, parsing, composing the answer)
                # happens within it, not on top of it.
                if (wait := reply.delay_s - (time.perf_counter() - self.received)) > 0:
                    time.sleep(wait)
                self._send(reply)
            finally:
                fake.leave_request()

        def do_GET(self) -> None:  # noqa: N802 (http.server naming)
            url = urlsplit(self.path)
            if self._batch("GET", b""):
                return
            if url.path != "/stats":
                self._send(_unknown_operation(self.path))
                return
            per_record = parse_qs(url.query).get("per_record", ["0"])[0] not in ("", "0")
            self._send(_json_reply(fake.stats_dict(per_record)))

        def _batch(self, method: str, raw: bytes) -> bool:
            """Serve a batch control-plane route (fakes.fake_bedrock_batch); False if none."""
            route = fake.batch.handle(method, self.path)
            if route is None:
                return False
            status, payload = fake.batch.call(route[0], route[1], raw)
            if status == 200:
                self._send(_json_reply(payload))
            else:
                reply = _error_reply("validation", payload[1])
                headers = dict(reply.headers)
                headers["x-amzn-ErrorType"] = payload[0] + _ERROR_TYPE_SUFFIX
                self._send(_Reply(status, reply.body, headers))
            return True

        def _control(self, path: str) -> bool:
            """Serve a control route (not a Bedrock one); False when ``path`` is none."""
            if path == "/stats/reset":
                fake.reset_stats()
                self._send(_json_reply(fake.stats_dict()))
                return True
            return False

        def _send(self, reply: _Reply) -> None:
            try:
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silent: thousands of benchmark requests must not flood the test output."""

    return Handler


def _unknown_operation(path: str) -> _Reply:
    headers = _json_headers()
    headers["x-amzn-ErrorType"] = "UnknownOperationException"
    body = json.dumps({"message": f"fake Bedrock does not serve {path}"}).encode("utf-8")
    return _Reply(404, body, headers)


def _json_reply(data: Mapping[str, Any]) -> _Reply:
    return _Reply(200, json.dumps(data).encode("utf-8"), _json_headers())


# ---------------------------------------------------------------------- pytest
_AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}
_AWS_UNSET = (
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_RETRY_MODE",
    "AWS_MAX_ATTEMPTS",
)


@pytest.fixture(autouse=True)
def aws_test_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy credentials and no user AWS config: tests must never reach a real account, and a
    developer's ``AWS_RETRY_MODE``, profile or bearer token must not change what botocore
    sends or how it retries."""
    for name, value in _AWS_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    for name in _AWS_UNSET:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")


@pytest.fixture
def fake_bedrock() -> Iterator[FakeBedrock]:
    """A started fake Bedrock Runtime server, stopped after the test."""
    with FakeBedrock() as server:
        yield server


# ---------------------------------------------------------------------- standalone
class FakeBedrockProcess:
    """The standalone server (:func:`main`) in a child process, for callers in other
    processes: ``with FakeBedrockProcess("--latency", "0.2") as fake: fake.endpoint_url``.

    ``stats()``/``reset_stats()`` go through the HTTP control routes, so they see the calls
    of every client process.
    """

    def __init__(self, *args: str, start_timeout_s: float = 30.0) -> None:
        self.args = list(args)
        self.start_timeout_s = start_timeout_s
        self.endpoint_url = ""
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> FakeBedrockProcess:
        command = [sys.executable, "-m", "enrichment_dagster_tests.fakes.fake_bedrock", *self.args]
        repo = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (repo, os.environ.get("PYTHONPATH", "")) if p)}
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
        assert self._process.stdout is not None
        ready = _readline_within(self._process.stdout, self.start_timeout_s)
        if not ready:
            self.stop()
            raise RuntimeError(f"the fake Bedrock process did not start: {command}")
        self.endpoint_url = json.loads(ready)["endpoint_url"]
        return self

    def stats(self, per_record: bool = False) -> dict[str, Any]:
        query = "?per_record=1" if per_record else ""
        with urllib.request.urlopen(f"{self.endpoint_url}/stats{query}", timeout=30) as reply:
            return json.loads(reply.read())

    def reset_stats(self) -> dict[str, Any]:
        request = urllib.request.Request(f"{self.endpoint_url}/stats/reset", b"", method="POST")
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())

    def stop(self) -> None:
        """SIGTERM (the server prints its final stats and exits), SIGKILL after 10 s."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> FakeBedrockProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _readline_within(stream: Any, timeout_s: float) -> str:
    """The first line of ``stream``, or "" after ``timeout_s`` (a reader thread: a pipe
    read cannot time out by itself)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0].strip() if lines else ""


def main(argv: Sequence[str] | None = None) -> int:
    """Serve a fake in the foreground until SIGTERM/SIGINT (see the module docstring).

    A separate process, because model calls made by other processes (``dagster dev`` run
    workers) cannot reach a server living inside a pytest process that is blocked waiting
    for them, and because a benchmark's client should not share its GIL with the server.
    """
    parser = argparse.ArgumentParser(
        prog="python -m enrichment_dagster_tests.fakes.fake_bedrock",
        description="Serve a fake Bedrock Runtime on 127.0.0.1 until SIGTERM/SIGINT.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per answer")
    parser.add_argument("--latency-jitter", type=float, default=0.0, help="fraction, e.g. 0.1")
    parser.add_argument("--max-in-flight", type=int, default=None,
                        help="throttle requests beyond this many open at once")
    parser.add_argument("--rpm", type=int, default=None, help="requests-per-minute quota")
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--full-answers", metavar="QUOTE", default=None,
                        help="answer every field of each pass, quoting QUOTE as evidence "
                             "(default: the small DEFAULT_ANSWERS)")
    args = parser.parse_args(argv)
    config: dict[str, Any] = {
        "latency_s": args.latency,
        "latency_jitter": args.latency_jitter,
        "max_in_flight": args.max_in_flight,
        "rpm_limit": args.rpm,
        "throttle_rate": args.throttle_rate,
        "seed": args.seed,
        "request_log_size": 0,  # nobody reads the log of a standalone server: keep no bodies
    }
    if args.full_answers is not None:
        from enrichment_dagster_tests.engine.answers import answer_by_pass

        config["default_answers"] = dict(answer_by_pass(args.full_answers))
    fake = FakeBedrock(**config).start(port=args.port, host=args.host)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    print(json.dumps({"endpoint_url": fake.endpoint_url, "pid": os.getpid()}), flush=True)
    try:
        while not stop.wait(0.5):  # a short wait: signals are handled between waits
            pass
    finally:
        fake.stop()
    print(json.dumps(fake.stats_dict()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
