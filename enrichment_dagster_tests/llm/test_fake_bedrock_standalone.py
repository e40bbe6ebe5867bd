"""The fake Bedrock server's control routes and its standalone process (benchmarks that
call it from other processes, e.g. dagster dev's run workers, depend on both)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config

from enrichment_dagster_tests.fakes.fake_bedrock import (
    DEFAULT_ANSWERS,
    FakeBedrock,
    FakeBedrockProcess,
)

NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


def _converse(endpoint_url: str, record_id: str, pass_number: int = 2) -> Any:
    client = boto3.session.Session().client(
        "bedrock-runtime", endpoint_url=endpoint_url, region_name="us-east-1", config=NO_RETRY
    )
    return client.converse(
        modelId="qwen.qwen3-vl-235b-a22b",
        system=[{"text": f"OUTPUT_CONTRACT: pass{pass_number}"}],
        messages=[{"role": "user", "content": [{"text": "posting"}]}],
        inferenceConfig={"maxTokens": 1000},
        requestMetadata={"record_id": record_id, "pass": str(pass_number)},
    )


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.loads(reply.read())


def test_stats_route_reports_the_counters_and_reset_zeroes_them(fake_bedrock: FakeBedrock) -> None:
    _converse(fake_bedrock.endpoint_url, "r1")
    _converse(fake_bedrock.endpoint_url, "r1")
    stats = _get(f"{fake_bedrock.endpoint_url}/stats")
    assert stats["calls"] == stats["ok"] == 2
    assert stats["max_in_flight"] == 1 and stats["in_flight"] == 0
    assert stats["records"] == 1 and stats["max_calls_per_record"] == 2
    assert "per_record_calls" not in stats
    assert _get(f"{fake_bedrock.endpoint_url}/stats?per_record=1")["per_record_calls"] == {"r1": 2}
    request = urllib.request.Request(f"{fake_bedrock.endpoint_url}/stats/reset", b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert json.loads(reply.read())["calls"] == 0
    assert fake_bedrock.stats.calls == 0


def test_other_paths_stay_unknown_operations(fake_bedrock: FakeBedrock) -> None:
    for method, path in (("GET", "/nope"), ("POST", "/stats"), ("GET", "/model/x/converse")):
        request = urllib.request.Request(f"{fake_bedrock.endpoint_url}{path}",
                                         b"" if method == "POST" else None, method=method)
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=10)
        assert error.value.code == 404
        assert error.value.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    assert fake_bedrock.stats.calls == 0


def test_standalone_process_serves_other_processes_and_reports_over_http() -> None:
    with FakeBedrockProcess("--latency", "0.01", "--max-in-flight", "4") as fake:
        reply = _converse(fake.endpoint_url, "p1", pass_number=1)
        text = reply["output"]["message"]["content"][-1]["text"]
        assert text == DEFAULT_ANSWERS[1]
        stats = fake.stats(per_record=True)
        assert stats["calls"] == 1 and stats["per_record_calls"] == {"p1": 1}
        assert fake.reset_stats()["calls"] == 0
    with pytest.raises(urllib.error.URLError):  # stopped: nothing listens any more
        _get(f"{fake.endpoint_url}/stats")


def test_standalone_full_answers_quote_the_given_text() -> None:
    with FakeBedrockProcess("--full-answers", "quote me exactly") as fake:
        reply = _converse(fake.endpoint_url, "p2", pass_number=2)
    text = reply["output"]["message"]["content"][-1]["text"]
    assert "quote me exactly" in text and text != DEFAULT_ANSWERS[2]
