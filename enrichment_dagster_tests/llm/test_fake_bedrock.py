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


def converse(
    bedrock: Any, record_id: str, model_id: str = "qwen.qwen3-vl-235b-a22b", text: str = "posting"
) -> Any:
    return bedrock.converse(
        modelId=model_id,
        system=[{"text": "OUTPUT_CONTRACT: pass2"}],
        messages=[{"role": "user", "content": [{"text": text}]}],
        inferenceConfig={"maxTokens": 1000},
        requestMetadata={"record_id": record_id, "pass": "2"},
    )


def chat_body(record_id: str) -> bytes:
    return json.dumps(
        {
            "messages": [
                {"role": "developer", "content": "OUTPUT_CONTRACT: pass3"},
                {"role": "user", "content": "posting"},
            ],
            "max_completion_tokens": 500,
            "user": record_id,
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
            "messages": [{"role": "user", "content": [{"type": "text", "text": "posting"}]}],
            "max_tokens": 100,
            "metadata": {"user_id": "a"},
        }
    ).encode()
    reply = client(fake_bedrock).invoke_model(
        modelId="anthropic.claude-3-haiku-20240307-v1:0", body=body
    )
    payload = json.loads(reply["body"].read())
    assert payload["content"][0]["text"] == DEFAULT_ANSWERS[1]
    assert payload["stop_reason"] == "end_turn"
    assert fake_bedrock.stats.per_record_calls == {"a": 1}


def test_records_are_routed_by_metadata_never_by_the_prompt(fake_bedrock: FakeBedrock) -> None:
    """A prompt that names another record (even in the old ``RECORD_ID:`` form) changes
    nothing: scripts, replay and counters follow ``requestMetadata.record_id``."""
    bedrock = client(fake_bedrock)
    fake_bedrock.configure(fail_records={"decoy": "always_validation"})
    reply = converse(bedrock, "real", text="RECORD_ID: decoy\nposting about decoy")
    assert reply["stopReason"] == "end_turn"
    assert fake_bedrock.stats.per_record_calls == {"real": 1}
    with pytest.raises(bedrock.exceptions.ValidationException):
        converse(bedrock, "decoy", text="RECORD_ID: real\nposting about real")
    # A body with no metadata names no record, whatever its text says.
    assert record_id_of({"inferenceConfig": {}, "messages": [
        {"role": "user", "content": [{"text": "RECORD_ID: decoy"}]}]}) is None


@pytest.mark.parametrize(
    ("metadata", "why"),
    [
        ({"record_id": "résumé"}, "pattern"),
        ({"record_id": "line\u2028break"}, "pattern"),
        ({"record_id": "9" * 257}, "length"),
        ({"k" * 257: "v"}, "length"),
        ({f"k{i}": "v" for i in range(17)}, "entries"),
    ],
)
def test_request_metadata_bedrock_refuses_is_refused(
    fake_bedrock: FakeBedrock, metadata: dict[str, str], why: str
) -> None:
    """botocore checks only minimum lengths, so these reach the server; Bedrock answers a
    ValidationException, and so does the fake (constraints from botocore's service model)."""
    bedrock = client(fake_bedrock)
    with pytest.raises(bedrock.exceptions.ValidationException, match="requestMetadata"):
        bedrock.converse(
            modelId="qwen.qwen3-vl-235b-a22b",
            messages=[{"role": "user", "content": [{"text": "posting"}]}],
            requestMetadata=metadata,
        )
    assert fake_bedrock.stats.ok == 0 and fake_bedrock.stats.outcomes == {"validation": 1}


def test_request_metadata_within_the_constraints_is_accepted(fake_bedrock: FakeBedrock) -> None:
    edge = {"record_id": "a:b_c@d$e#f=g/h+i,j-k.l m", "pass": "", **{f"k{i}": "v" for i in range(14)}}
    assert len(edge) == 16
    reply = client(fake_bedrock).converse(
        modelId="qwen.qwen3-vl-235b-a22b",
        system=[{"text": "OUTPUT_CONTRACT: pass2"}],
        messages=[{"role": "user", "content": [{"text": "posting"}]}],
        requestMetadata=edge,
    )
    assert reply["stopReason"] == "end_turn"
    assert fake_bedrock.stats.per_record_calls == {edge["record_id"]: 1}


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
    converse_body = {"inferenceConfig": {"maxTokens": 1}, "requestMetadata": {"record_id": "x"},
                     "system": [{"text": "OUTPUT_CONTRACT: pass1"}], "messages": []}
    assert (record_id_of(converse_body), pass_of(converse_body)) == ("x", 1)


def test_default_answers_fit_the_pass_contracts() -> None:
    from enrichment_dagster.contracts.passes import PASS_MODELS
    from enrichment_dagster_tests.fakes.fake_bedrock import DEFAULT_ANSWERS

    for pass_number, text in DEFAULT_ANSWERS.items():
        PASS_MODELS[pass_number].model_validate_json(text)
