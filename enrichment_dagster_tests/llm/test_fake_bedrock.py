"""The fake Bedrock server itself: wire shapes boto3 accepts, scripts, quotas, counters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from enrichment_dagster_tests.fakes.fake_bedrock import (
    DEFAULT_ANSWERS,
    FakeBedrock,
    pass_of,
    record_id_of,
)

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def client(fake: FakeBedrock) -> Any:
    return boto3.session.Session().client(
        "bedrock-runtime", endpoint_url=fake.endpoint_url, region_name="us-east-1", config=NO_RETRY
    )


def converse(bedrock: Any, record_id: str, model_id: str = "qwen.qwen3-vl-235b-a22b") -> Any:
    return bedrock.converse(
        modelId=model_id,
        system=[{"text": "OUTPUT_CONTRACT: pass2"}],
        messages=[{"role": "user", "content": [{"text": f"RECORD_ID: {record_id}\nposting"}]}],
        inferenceConfig={"maxTokens": 1000},
    )


def chat_body(record_id: str) -> bytes:
    return json.dumps(
        {
            "messages": [
                {"role": "developer", "content": "OUTPUT_CONTRACT: pass3"},
                {"role": "user", "content": f"RECORD_ID: {record_id}"},
            ],
            "max_completion_tokens": 500,
        }
    ).encode()


def test_invoke_openai_model_returns_a_chat_completion(fake_bedrock: FakeBedrock) -> None:
    reply = client(fake_bedrock).invoke_model(
        modelId="openai.gpt-oss-120b-1:0", body=chat_body("r9"), contentType="application/json"
    )
    payload = json.loads(reply["body"].read())

    assert reply["contentType"] == "application/json"
    assert payload["object"] == "chat.completion"
    content = payload["choices"][0]["message"]["content"]
    assert content.startswith("<reasoning>") and content.endswith(DEFAULT_ANSWERS[3])
    assert payload["choices"][0]["finish_reason"] == "stop"
    visible = content.replace("<reasoning>", "").replace("</reasoning>", "")
    assert payload["usage"]["completion_tokens"] == len(visible) // 4
    assert fake_bedrock.stats.requests[0].operation == "invoke"


def test_invoke_anthropic_model_returns_a_messages_body(fake_bedrock: FakeBedrock) -> None:
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "system": "OUTPUT_CONTRACT: pass1",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "RECORD_ID: a"}]}],
            "max_tokens": 100,
        }
    ).encode()
    reply = client(fake_bedrock).invoke_model(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=body
    )
    payload = json.loads(reply["body"].read())
    assert payload["content"][0]["text"] == DEFAULT_ANSWERS[1]
    assert payload["stop_reason"] == "end_turn"


def test_errors_are_real_typed_bedrock_exceptions(fake_bedrock: FakeBedrock) -> None:
    bedrock = client(fake_bedrock)
    fake_bedrock.fail_next("throttle", "unavailable", "model_timeout")
    for expected in ("ThrottlingException", "ServiceUnavailableException", "ModelTimeoutException"):
        with pytest.raises(getattr(bedrock.exceptions, expected)):
            converse(bedrock, "r1")
    stats = fake_bedrock.stats
    assert (stats.throttled, stats.errors, stats.ok) == (1, 2, 0)


def test_per_record_scripts(fake_bedrock: FakeBedrock) -> None:
    bedrock = client(fake_bedrock)
    fake_bedrock.configure(
        fail_records={"bad": "always_malformed", "flaky": ["throttle", "truncated"]}
    )
    assert converse(bedrock, "bad")["output"]["message"]["content"][0]["text"].startswith("I'm")
    assert converse(bedrock, "bad")["stopReason"] == "end_turn"
    with pytest.raises(bedrock.exceptions.ThrottlingException):
        converse(bedrock, "flaky")
    assert converse(bedrock, "flaky")["stopReason"] == "max_tokens"
    assert converse(bedrock, "flaky")["stopReason"] == "end_turn"
    assert fake_bedrock.stats.per_record_calls == {"bad": 2, "flaky": 3}
    assert fake_bedrock.stats.outcomes == {"malformed": 2, "throttle": 1, "truncated": 1, "ok": 1}


def test_seeded_rates_are_reproducible() -> None:
    def outcomes() -> dict[str, int]:
        with FakeBedrock(seed=7, throttle_rate=0.3, malformed_rate=0.3) as fake:
            bedrock = client(fake)
            for n in range(20):
                try:
                    converse(bedrock, f"r{n}")
                except bedrock.exceptions.ThrottlingException:
                    pass
            return fake.stats.outcomes

    first = outcomes()
    assert first == outcomes()
    assert first.get("throttle", 0) > 0 and first.get("malformed", 0) > 0


def test_known_models_and_unknown_routes(fake_bedrock: FakeBedrock) -> None:
    bedrock = client(fake_bedrock)
    fake_bedrock.configure(known_models={"google.gemma-3-27b-it"})
    with pytest.raises(bedrock.exceptions.ValidationException):
        converse(bedrock, "r1")
    with pytest.raises(bedrock.exceptions.ClientError, match="UnknownOperation"):
        bedrock.converse_stream(
            modelId="google.gemma-3-27b-it",
            messages=[{"role": "user", "content": [{"text": "hi"}]}],
        )


def test_replay_folder_answers_and_missing_files(fake_bedrock: FakeBedrock, tmp_path: Path) -> None:
    folder = tmp_path / "r1"
    folder.mkdir()
    (folder / "pass2-qwen-qwen3-vl-235b-a22b-raw.txt").write_text('{"inference": {"x": 1}}')
    fake_bedrock.configure(replay_folder=tmp_path)
    bedrock = client(fake_bedrock)

    answer = converse(bedrock, "r1")["output"]["message"]["content"][0]["text"]
    assert answer == '{"inference": {"x": 1}}'
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException, match="r2"):
        converse(bedrock, "r2")


def test_configure_rejects_unknown_settings_and_kinds(fake_bedrock: FakeBedrock) -> None:
    with pytest.raises(TypeError, match="colour"):
        fake_bedrock.configure(colour="red")
    with pytest.raises(ValueError, match="explode"):
        fake_bedrock.fail_next("explode")
    with pytest.raises(ValueError, match="always_explode"):
        fake_bedrock.configure(fail_records={"r": "always_explode"})


def test_fixed_usage_and_marker_helpers(fake_bedrock: FakeBedrock) -> None:
    fake_bedrock.configure(input_tokens=5000, output_tokens=3000)
    usage = converse(client(fake_bedrock), "r1")["usage"]
    assert (usage["inputTokens"], usage["outputTokens"]) == (5000, 3000)
    body = json.loads(chat_body("abc"))
    assert (record_id_of(body), pass_of(body)) == ("abc", 3)


def test_default_answers_fit_the_pass_contracts() -> None:
    from enrichment_dagster.contracts.passes import PASS_MODELS
    from enrichment_dagster_tests.fakes.fake_bedrock import DEFAULT_ANSWERS

    for pass_number, text in DEFAULT_ANSWERS.items():
        PASS_MODELS[pass_number].model_validate_json(text)
