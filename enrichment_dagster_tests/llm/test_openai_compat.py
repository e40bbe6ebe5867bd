"""OpenAICompatibleBackend against a tiny scripted chat-completions server: one HTTP request
per call, and through the engine (as ``LLMResource`` builds it) the engine's retries only,
counted at the server."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, Pacer, ThrottleGovernor, run_pass
from enrichment_dagster.llm.openai_compat import OpenAICompatibleBackend
from enrichment_dagster.llm.types import (
    TAG_DIGEST_PREFIX,
    ConfigurationError,
    InvalidRequestError,
    LLMError,
    LLMRequest,
    Message,
    ModelTimeoutError,
    ThrottledError,
    TransientError,
    record_tag,
)
from enrichment_dagster.resources import LLMResource
from enrichment_dagster_tests.engine.answers import DESCRIPTION, full_answer

MODEL = "qwen2.5:7b-instruct"  # a self-hosted model: not in the price table


def completion(content: str = '{"ok": true}', finish: str = "stop", **message: Any) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, **message},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
    }


@dataclass
class ChatServer:
    """Answers queued (status, body, headers) replies in order, then 200 + a completion."""

    url: str
    replies: deque[tuple[int, Any, dict[str, str]]] = field(default_factory=deque)
    requests: list[tuple[str, dict[str, str], dict[str, Any]]] = field(default_factory=list)

    def script(self, *replies: tuple[int, Any, dict[str, str]]) -> None:
        self.replies.extend(replies)


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    state = ChatServer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self) -> None:  # noqa: N802
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers), json.loads(raw)))
            status, body, headers = (
                state.replies.popleft() if state.replies else (200, completion(), {})
            )
            data = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def make_request(
    output_schema: dict[str, Any] | None = None, record_id: str = "r1"
) -> LLMRequest:
    return LLMRequest(
        record_id=record_id,
        pass_number=1,
        messages=(Message("system", "Answer in JSON."), Message("user", "posting")),
        model_id=MODEL,
        max_output_tokens=256,
        output_schema=output_schema,
    )


def make_backend(url: str, **settings: Any) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(url, **settings)


def test_happy_path(chat_server: ChatServer) -> None:
    chat_server.script((200, completion(reasoning_content="thinking..."), {}))
    backend = make_backend(chat_server.url, api_key="sk-local")

    response = backend.complete(make_request(output_schema={"type": "object"}))

    assert response.text == '{"ok": true}'
    assert response.reasoning_text == "thinking..."
    assert (response.stop_reason, response.attempts) == ("end_turn", 1)
    assert (response.input_tokens, response.output_tokens) == (11, 5)
    path, headers, body = chat_server.requests[0]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sk-local"
    assert body["model"] == MODEL and body["max_tokens"] == 256
    assert body["messages"][0] == {"role": "system", "content": "Answer in JSON."}
    assert body["response_format"] == {"type": "json_object"}
    assert body["user"] == "r1"  # the record travels beside the prompt
    assert all("r1" not in m["content"] for m in body["messages"])


def test_the_record_goes_in_user_as_its_tag(chat_server: ChatServer) -> None:
    backend = make_backend(chat_server.url)
    for record_id in ("4201877691", "résumé-東京", "x" * 5000):
        backend.complete(make_request(record_id=record_id))
    sent = [body["user"] for _, _, body in chat_server.requests]
    assert sent == ["4201877691", record_tag("résumé-東京"), record_tag("x" * 5000)]
    assert sent[1].startswith(TAG_DIGEST_PREFIX) and len(sent[2]) == 71


def test_json_mode_follows_the_request_unless_forced(chat_server: ChatServer) -> None:
    make_backend(chat_server.url).complete(make_request())
    make_backend(chat_server.url, json_mode=True).complete(make_request())
    assert "response_format" not in chat_server.requests[0][2]
    assert chat_server.requests[1][2]["response_format"] == {"type": "json_object"}
    assert "Authorization" not in chat_server.requests[0][1]


def test_length_maps_to_max_tokens(chat_server: ChatServer) -> None:
    chat_server.script((200, completion('{"a": ', finish="length"), {}))
    response = make_backend(chat_server.url).complete(make_request())
    assert response.stop_reason == "max_tokens" and response.truncated


@pytest.mark.parametrize(
    ("status", "error_type", "headers"),
    [
        (429, ThrottledError, {"Retry-After": "2"}),
        (503, TransientError, {}),
        (408, ModelTimeoutError, {}),
    ],
)
def test_a_retryable_failure_is_one_request_and_a_typed_error(
    chat_server: ChatServer, status: int, error_type: type[LLMError], headers: dict[str, str]
) -> None:
    """The backend never retries: the engine does, paced by the shared governor."""
    chat_server.script((status, {"error": {"message": "try later"}}, headers))
    with pytest.raises(error_type, match="try later") as caught:
        make_backend(chat_server.url).complete(make_request())
    assert caught.value.retryable and caught.value.attempts == 1
    assert len(chat_server.requests) == 1
    expected_retry_after = 2.0 if headers else None
    assert caught.value.retry_after_s == expected_retry_after  # type: ignore[attr-defined]


def test_4xx_is_not_retried(chat_server: ChatServer) -> None:
    chat_server.script((400, {"error": {"message": "model not found"}}, {}))
    with pytest.raises(InvalidRequestError, match="model not found") as caught:
        make_backend(chat_server.url).complete(make_request())
    assert caught.value.attempts == 1 and not caught.value.retryable
    assert len(chat_server.requests) == 1


def test_connection_refused_is_one_retryable_attempt() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make_backend(f"http://127.0.0.1:{port}/v1")
    with pytest.raises(LLMError) as caught:
        backend.complete(make_request())
    assert caught.value.retryable and caught.value.attempts == 1


def engine_setup(url: str) -> tuple[OpenAICompatibleBackend, EngineConfig, Pacer]:
    """The backend and engine settings ``LLMResource`` gives a step for ``backend="openai"``
    (retry counts included), with the backoffs and the governor's pauses made short."""
    llm = LLMResource(backend="openai", openai_base_url=url, concurrency=1)
    config = replace(
        llm.engine_config(),
        default_model=MODEL,
        models={},
        throttle_backoff_s=0.001,
        transient_backoff_s=0.001,
    )
    backend = llm.make_backend()
    assert isinstance(backend, OpenAICompatibleBackend)
    return backend, config, Pacer(governor=ThrottleGovernor(base_pause_s=0.001))


def one_record() -> list[SilverRecord]:
    return [
        SilverRecord(
            job_posting_id="r1", job_title="Data Engineer", job_description_text=DESCRIPTION
        )
    ]


def test_one_5xx_record_costs_at_most_three_requests_through_the_engine(
    chat_server: ChatServer,
) -> None:
    """Regression: the backend's own 3-attempt loop under the engine's retries made one
    failing record cost 9 requests; the server now sees the engine's tries only."""
    chat_server.script(*[(500, {"error": {"message": "boom"}}, {})] * 20)
    backend, config, pacer = engine_setup(chat_server.url)

    (result,) = run_pass(one_record(), 1, backend, config, pacer=pacer)

    assert not result.success and result.error_class == "transient"
    assert len(chat_server.requests) == 1 + config.max_transient_retries == 3
    assert result.attempts == len(chat_server.requests)


def test_a_5xx_blip_is_absorbed_by_the_engine_retries(chat_server: ChatServer) -> None:
    chat_server.script(
        (500, {"error": {"message": "boom"}}, {}),
        (502, {"error": {"message": "bad gateway"}}, {}),
        (200, completion(full_answer(1)), {}),
    )
    backend, config, pacer = engine_setup(chat_server.url)

    (result,) = run_pass(one_record(), 1, backend, config, pacer=pacer)

    assert result.success, result.error_message
    assert result.attempts == len(chat_server.requests) == 3


def test_one_429_record_is_bounded_by_the_engine_and_paced_by_the_shared_governor(
    chat_server: ChatServer,
) -> None:
    """Regression: one throttled record cost 27 requests (3 per engine try), with the
    backend sleeping per thread outside the governor. Now every request is one engine try,
    each throttle reaches the shared governor, and the total is the engine's bound."""
    chat_server.script(*[(429, {"error": {"message": "slow down"}}, {})] * 50)
    backend, config, pacer = engine_setup(chat_server.url)

    (result,) = run_pass(one_record(), 1, backend, config, pacer=pacer)

    assert not result.success and result.error_class == "throttled"
    assert len(chat_server.requests) == 1 + config.max_throttle_retries
    assert result.attempts == len(chat_server.requests)
    assert pacer.governor.stats.throttles == len(chat_server.requests)
    assert pacer.governor.stats.pauses > 0  # the shared pause, not a per-thread sleep


def test_base_url_and_key_from_environment(
    chat_server: ChatServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", chat_server.url + "/")
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    OpenAICompatibleBackend().complete(make_request())
    assert chat_server.requests[0][1]["Authorization"] == "Bearer from-env"


def test_missing_base_url_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="OPENAI_BASE_URL"):
        OpenAICompatibleBackend()


def test_self_hosted_models_cost_nothing_listed_models_their_price() -> None:
    backend = OpenAICompatibleBackend("http://127.0.0.1:9/v1")
    assert backend.cost_usd(MODEL, 1_000_000, 1_000_000) == 0.0
    assert backend.cost_usd("openai.gpt-oss-120b-1:0", 1_000_000, 1_000_000) == pytest.approx(0.75)
