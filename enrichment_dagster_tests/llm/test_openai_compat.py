"""OpenAICompatibleBackend against a tiny scripted chat-completions server."""

from __future__ import annotations

import json
import socket
import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from enrichment_dagster.llm.openai_compat import OpenAICompatibleBackend
from enrichment_dagster.llm.types import (
    ConfigurationError,
    InvalidRequestError,
    LLMRequest,
    Message,
    ThrottledError,
    TransientError,
)

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


def make_request(output_schema: dict[str, Any] | None = None) -> LLMRequest:
    return LLMRequest(
        record_id="r1",
        pass_number=1,
        messages=(Message("system", "Answer in JSON."), Message("user", "RECORD_ID: r1")),
        model_id=MODEL,
        max_output_tokens=256,
        output_schema=output_schema,
    )


def make_backend(url: str, sleeps: list[float], **settings: Any) -> OpenAICompatibleBackend:
    return OpenAICompatibleBackend(url, sleep=sleeps.append, **settings)


def test_happy_path(chat_server: ChatServer) -> None:
    chat_server.script((200, completion(reasoning_content="thinking..."), {}))
    backend = make_backend(chat_server.url, [], api_key="sk-local")

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


def test_json_mode_follows_the_request_unless_forced(chat_server: ChatServer) -> None:
    make_backend(chat_server.url, []).complete(make_request())
    make_backend(chat_server.url, [], json_mode=True).complete(make_request())
    assert "response_format" not in chat_server.requests[0][2]
    assert chat_server.requests[1][2]["response_format"] == {"type": "json_object"}
    assert "Authorization" not in chat_server.requests[0][1]


def test_length_maps_to_max_tokens(chat_server: ChatServer) -> None:
    chat_server.script((200, completion('{"a": ', finish="length"), {}))
    response = make_backend(chat_server.url, []).complete(make_request())
    assert response.stop_reason == "max_tokens" and response.truncated


def test_429_and_5xx_are_retried_with_backoff(chat_server: ChatServer) -> None:
    sleeps: list[float] = []
    chat_server.script(
        (429, {"error": {"message": "slow down"}}, {"Retry-After": "2"}),
        (503, {"error": {"message": "overloaded"}}, {}),
    )

    response = make_backend(chat_server.url, sleeps).complete(make_request())

    assert response.attempts == 3
    assert sleeps[0] == 2.0 and 0 < sleeps[1] <= 2.0
    assert len(chat_server.requests) == 3


def test_persistent_throttling_raises_after_max_attempts(chat_server: ChatServer) -> None:
    chat_server.script(*[(429, {"error": {"message": "slow down"}}, {})] * 3)
    with pytest.raises(ThrottledError, match="slow down") as caught:
        make_backend(chat_server.url, [], max_attempts=3).complete(make_request())
    assert caught.value.attempts == 3


def test_persistent_5xx_is_transient(chat_server: ChatServer) -> None:
    chat_server.script(*[(500, {"error": {"message": "boom"}}, {})] * 2)
    with pytest.raises(TransientError) as caught:
        make_backend(chat_server.url, [], max_attempts=2).complete(make_request())
    assert caught.value.attempts == 2


def test_4xx_is_not_retried(chat_server: ChatServer) -> None:
    sleeps: list[float] = []
    chat_server.script((400, {"error": {"message": "model not found"}}, {}))
    with pytest.raises(InvalidRequestError, match="model not found") as caught:
        make_backend(chat_server.url, sleeps).complete(make_request())
    assert caught.value.attempts == 1 and sleeps == []


def test_connection_refused_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = make_backend(f"http://127.0.0.1:{port}/v1", [], max_attempts=2)
    with pytest.raises(TransientError) as caught:
        backend.complete(make_request())
    assert caught.value.attempts == 2


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
