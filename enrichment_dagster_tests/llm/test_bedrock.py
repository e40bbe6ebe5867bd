"""BedrockBackend through real boto3/botocore against the fake Bedrock Runtime server."""

from __future__ import annotations

import json
import socket
import threading
import types
from collections.abc import Iterator
from typing import Any

import botocore.endpoint
import botocore.session
import botocore.validate
import pytest
from botocore.exceptions import ClientError

from enrichment_dagster.llm.bedrock import (
    OUTPUT_TOOL_NAME,
    BedrockBackend,
    build_converse_kwargs,
    map_client_error,
)
from enrichment_dagster.llm.bedrock_batch import input_line
from enrichment_dagster.llm.prices import get_model
from enrichment_dagster.llm.types import (
    TAG_DIGEST_PREFIX,
    ConfigurationError,
    InvalidRequestError,
    LLMRequest,
    Message,
    ModelTimeoutError,
    ThrottledError,
    TransientError,
    record_tag,
)
from enrichment_dagster_tests.fakes.fake_bedrock import DEFAULT_ANSWERS, MALFORMED_TEXT, FakeBedrock
from enrichment_dagster_tests.faults.test_ids_as_paths import HOSTILE_IDS

GPT_OSS = "openai.gpt-oss-120b-1:0"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"
GEMMA = "google.gemma-3-27b-it"
SCHEMA = {
    "type": "object",
    "properties": {"title": {"type": "string"}},
    "required": ["title"],
}


def make_request(
    model_id: str = GPT_OSS,
    record_id: str = "rec-1",
    *,
    pass_number: int = 1,
    max_output_tokens: int = 4000,
    output_schema: dict[str, Any] | None = None,
) -> LLMRequest:
    return LLMRequest(
        record_id=record_id,
        pass_number=pass_number,  # type: ignore[arg-type]
        messages=(
            Message("system", f"You extract facts.\nOUTPUT_CONTRACT: pass{pass_number}"),
            Message("user", "<job_posting>Data engineer</job_posting>"),
        ),
        model_id=model_id,
        max_output_tokens=max_output_tokens,
        output_schema=output_schema,
    )


@pytest.fixture
def backoffs(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry sleeps, recorded instead of slept (the fake's own sleeps still work)."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    return delays


@pytest.fixture
def backend(fake_bedrock: FakeBedrock) -> Iterator[BedrockBackend]:
    yield BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=4)


def test_reasoning_block_first_is_skipped_for_the_text(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    response = backend.complete(make_request(GPT_OSS))

    assert json.loads(response.text) == json.loads(DEFAULT_ANSWERS[1])
    assert response.reasoning_text and "rec-1" in response.reasoning_text
    assert response.stop_reason == "end_turn"
    assert response.attempts == 1
    assert response.model_id == GPT_OSS
    stats = fake_bedrock.stats
    assert (response.input_tokens, response.output_tokens) == (
        stats.input_tokens,
        stats.output_tokens,
    )
    assert response.output_tokens > 0 and response.latency_s > 0
    sent = stats.requests[0]
    assert (sent.operation, sent.model_id, sent.record_id, sent.pass_number) == (
        "converse",
        GPT_OSS,
        "rec-1",
        1,
    )
    assert sent.body["additionalModelRequestFields"] == {"reasoning_effort": "low"}
    assert sent.body["inferenceConfig"] == {"maxTokens": 4000, "temperature": 0.0}
    assert sent.body["system"] == [{"text": "You extract facts.\nOUTPUT_CONTRACT: pass1"}]
    assert "toolConfig" not in sent.body


def test_tool_use_output_format_forces_the_schema_tool(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.configure(answer=lambda body, model: '{"title": "Data engineer"}')

    response = backend.complete(make_request(CLAUDE, output_schema=SCHEMA))

    assert json.loads(response.text) == {"title": "Data engineer"}
    assert response.stop_reason == "tool_use"
    assert response.reasoning_text is None
    tool_config = fake_bedrock.stats.requests[0].body["toolConfig"]
    assert tool_config["toolChoice"] == {"tool": {"name": OUTPUT_TOOL_NAME}}
    assert tool_config["tools"][0]["toolSpec"]["inputSchema"] == {"json": SCHEMA}


def test_prompted_json_models_send_no_tool(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    backend.complete(make_request(GEMMA, output_schema=SCHEMA))
    body = fake_bedrock.stats.requests[0].body
    assert "toolConfig" not in body
    assert "additionalModelRequestFields" not in body


def test_throttles_are_retried_by_botocore_and_counted(
    backend: BedrockBackend, fake_bedrock: FakeBedrock, backoffs: list[float]
) -> None:
    fake_bedrock.fail_next("throttle", "throttle")

    response = backend.complete(make_request())

    assert response.attempts == 3
    assert len(backoffs) == 2
    stats = fake_bedrock.stats
    assert (stats.calls, stats.throttled, stats.ok) == (3, 2, 1)


def test_throttles_beyond_max_attempts_raise_throttled_error(
    fake_bedrock: FakeBedrock, backoffs: list[float]
) -> None:
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=3)
    fake_bedrock.configure(fail_records={"rec-1": "always_throttle"})

    with pytest.raises(ThrottledError) as caught:
        backend.complete(make_request())

    assert caught.value.attempts == 3
    assert "ThrottlingException" in str(caught.value) and "rec-1" in str(caught.value)
    assert fake_bedrock.stats.per_record_calls == {"rec-1": 3}


def test_rpm_quota_throttles_for_real(fake_bedrock: FakeBedrock) -> None:
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=1)
    fake_bedrock.configure(rpm_limit=2)
    backend.complete(make_request())
    backend.complete(make_request())

    with pytest.raises(ThrottledError) as caught:
        backend.complete(make_request())

    assert caught.value.attempts == 1
    assert fake_bedrock.stats.throttled == 1


def test_server_errors_are_retried(
    backend: BedrockBackend, fake_bedrock: FakeBedrock, backoffs: list[float]
) -> None:
    fake_bedrock.fail_next("unavailable", "internal")

    response = backend.complete(make_request())

    assert response.attempts == 3
    assert fake_bedrock.stats.errors == 2


def test_server_errors_beyond_max_attempts_raise_transient_error(
    backend: BedrockBackend, fake_bedrock: FakeBedrock, backoffs: list[float]
) -> None:
    fake_bedrock.configure(fail_records={"rec-1": "always_unavailable"})

    with pytest.raises(TransientError) as caught:
        backend.complete(make_request())

    assert caught.value.attempts == 4
    assert fake_bedrock.stats.calls == 4


@pytest.mark.parametrize(
    ("kind", "error_type"),
    [
        ("model_timeout", ModelTimeoutError),
        ("validation", InvalidRequestError),
        ("access_denied", InvalidRequestError),
        ("not_found", InvalidRequestError),
    ],
)
def test_non_retried_errors_map_to_typed_errors(
    backend: BedrockBackend,
    fake_bedrock: FakeBedrock,
    backoffs: list[float],
    kind: str,
    error_type: type[Exception],
) -> None:
    fake_bedrock.fail_next(kind)

    with pytest.raises(error_type) as caught:
        backend.complete(make_request())

    assert caught.value.attempts == 1  # type: ignore[attr-defined]
    assert fake_bedrock.stats.calls == 1
    assert backoffs == []


def test_read_timeout_is_retried_then_transient(
    fake_bedrock: FakeBedrock, backoffs: list[float]
) -> None:
    backend = BedrockBackend(
        endpoint_url=fake_bedrock.endpoint_url, max_attempts=2, read_timeout_s=0.2
    )
    fake_bedrock.fail_next("sleep:1")
    assert backend.complete(make_request()).attempts == 2

    fake_bedrock.configure(fail_records={"rec-1": "always_sleep:1"})
    with pytest.raises(TransientError) as caught:
        backend.complete(make_request())
    assert caught.value.attempts == 2


def test_connection_refused_is_transient(backoffs: list[float]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = BedrockBackend(endpoint_url=f"http://127.0.0.1:{port}", max_attempts=2)

    with pytest.raises(TransientError) as caught:
        backend.complete(make_request())

    assert caught.value.attempts == 2


def test_truncated_answer_reports_max_tokens(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.fail_next("truncated")
    response = backend.complete(make_request(GEMMA))
    assert response.stop_reason == "max_tokens" and response.truncated
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_small_budget_is_enforced_like_a_real_model(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.configure(answer=lambda body, model: json.dumps({"text": "x" * 400}))
    response = backend.complete(make_request(GEMMA, max_output_tokens=20))
    assert response.truncated
    assert len(response.text) == 80


def test_reasoning_only_and_malformed_answers(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.fail_next("reasoning_only", "malformed")

    reasoning_only = backend.complete(make_request(GPT_OSS))
    malformed = backend.complete(make_request(GPT_OSS))

    assert (reasoning_only.text, reasoning_only.stop_reason) == ("", "max_tokens")
    assert reasoning_only.reasoning_text
    assert (malformed.text, malformed.stop_reason) == (MALFORMED_TEXT, "end_turn")


def test_unknown_model_fails_before_any_http_call(fake_bedrock: FakeBedrock) -> None:
    with pytest.raises(ConfigurationError) as caught:
        BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, models=[GPT_OSS, "acme.nope-1:0"])
    assert "acme.nope-1:0" in str(caught.value) and GPT_OSS in str(caught.value)

    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, models=[GPT_OSS])
    with pytest.raises(ConfigurationError, match="Known models: .*google.gemma-3-27b-it"):
        backend.complete(make_request("acme.nope-1:0"))
    assert fake_bedrock.stats.calls == 0


def test_one_client_is_shared_by_threads(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.configure(latency_s=0.02)
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_concurrency=8)
    failures: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for i in range(5):
                response = backend.complete(make_request(record_id=f"w{worker}-{i}"))
                assert response.attempts == 1
        except BaseException as exc:  # noqa: BLE001 - surfaced by the assert below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    stats = fake_bedrock.stats
    assert stats.calls == 40 and len(stats.per_record_calls) == 40
    assert stats.max_in_flight > 1


def test_client_settings_are_explicit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDROCK_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", "eu-central-1")

    backend = BedrockBackend(max_attempts=6, max_concurrency=32, read_timeout_s=123)

    assert backend.endpoint_url == "http://127.0.0.1:9"
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9"
    assert backend.region_name == "eu-central-1"
    assert backend.config.retries == {"mode": "standard", "total_max_attempts": 6}
    assert backend.config.max_pool_connections == 32
    assert backend.config.read_timeout == 123


def test_consecutive_same_role_messages_merge_into_one_turn() -> None:
    request = LLMRequest(
        record_id="r",
        pass_number=2,
        messages=(
            Message("system", "a"),
            Message("system", "b"),
            Message("user", "c"),
            Message("user", "d"),
        ),
        model_id=GEMMA,
        max_output_tokens=10,
    )
    kwargs = build_converse_kwargs(request, get_model(GEMMA))
    assert kwargs["system"] == [{"text": "a"}, {"text": "b"}]
    assert kwargs["messages"] == [{"role": "user", "content": [{"text": "c"}, {"text": "d"}]}]


def test_converse_kwargs_carry_the_record_and_pass_beside_the_prompt() -> None:
    request = make_request(GEMMA, "4201877691", pass_number=2)
    kwargs = build_converse_kwargs(request, get_model(GEMMA))
    assert kwargs["requestMetadata"] == {"record_id": "4201877691", "pass": "2"}
    assert "4201877691" not in json.dumps([kwargs["messages"], kwargs["system"]])
    report = botocore.validate.ParamValidator().validate(kwargs, _converse_input_shape())
    assert not report.has_errors(), report.generate_report()
    # Batch lines name their record by recordId; request metadata is a runtime field.
    line = json.loads(input_line("key-1", request, get_model(GEMMA)))
    assert line["recordId"] == "key-1" and "requestMetadata" not in line["modelInput"]


def _converse_input_shape() -> Any:
    session = botocore.session.get_session()
    return session.get_service_model("bedrock-runtime").operation_model("Converse").input_shape


@pytest.mark.parametrize("record_id", ["4201877691", "../x", "/abs/olute", "a:b@c#d$e=f+g,h.i-j",
                                       "9" * 256])
def test_ids_bedrock_accepts_go_as_they_are(record_id: str) -> None:
    assert record_tag(record_id) == record_id


@pytest.mark.parametrize("record_id", [*HOSTILE_IDS, "with space", "tab\there", "9" * 257,
                                       TAG_DIGEST_PREFIX + "0" * 64, "\ud800"])
def test_ids_bedrock_would_refuse_go_as_their_digest(record_id: str) -> None:
    tag = record_tag(record_id)
    if tag == record_id:  # "../x" and friends are valid request metadata values
        assert not record_id.startswith(TAG_DIGEST_PREFIX)
        return
    assert tag.startswith(TAG_DIGEST_PREFIX) and len(tag) == 71
    assert tag == record_tag(record_id)  # deterministic: an operator can compute it


def test_distinct_ids_keep_distinct_tags() -> None:
    ids = [*HOSTILE_IDS, "x", "4201877691", TAG_DIGEST_PREFIX + "0" * 64,
           record_tag("résumé-東京")]
    assert len({record_tag(i) for i in ids}) == len(ids)


def test_every_hostile_id_is_accepted_by_bedrock_and_names_its_call(
    backend: BedrockBackend, fake_bedrock: FakeBedrock
) -> None:
    """Real boto3 sends the metadata; the fake refuses what Bedrock refuses (length,
    pattern), so an id sent as it is would fail here with a ValidationException."""
    for record_id in HOSTILE_IDS:
        response = backend.complete(make_request(GEMMA, record_id))
        assert json.loads(response.text) == json.loads(DEFAULT_ANSWERS[1])
    sent = [r.body["requestMetadata"] for r in fake_bedrock.stats.requests]
    assert sent == [{"record_id": record_tag(i), "pass": "1"} for i in HOSTILE_IDS]
    assert set(fake_bedrock.stats.per_record_calls) == {record_tag(i) for i in HOSTILE_IDS}


def _client_error(code: str, message: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 2},
    }
    return ClientError(response, "Converse")


@pytest.mark.parametrize(
    ("code", "message", "status", "error_type"),
    [
        ("ValidationException", "EngineCore encountered an issue. See logs.", 400, TransientError),
        ("ValidationException", "maxTokens too large", 400, InvalidRequestError),
        ("ModelNotReadyException", "warming up", 429, TransientError),
        ("SomethingNew", "?", 502, TransientError),
        ("SomethingNew", "?", 429, ThrottledError),
        ("SomethingNew", "?", 409, InvalidRequestError),
    ],
)
def test_error_mapping_table(code: str, message: str, status: int, error_type: type) -> None:
    error = map_client_error(_client_error(code, message, status), make_request(), attempts=3)
    assert type(error) is error_type
    assert error.attempts == 3
