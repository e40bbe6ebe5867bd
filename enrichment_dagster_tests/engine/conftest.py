"""Engine fixtures: records, a configured fake Bedrock, a real boto3 backend, a cache."""

from __future__ import annotations

import types
from collections.abc import Callable

import botocore.endpoint
import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock


def make_records(n: int, prefix: str = "r") -> list[SilverRecord]:
    """``n`` postings with distinct content (so none is deduplicated)."""
    return [
        SilverRecord(
            job_posting_id=f"{prefix}{i}",
            job_title="Senior Data Engineer",
            job_description_text=f"{DESCRIPTION} Reference {prefix}{i}.",
        )
        for i in range(n)
    ]


@pytest.fixture
def fake(fake_bedrock: FakeBedrock) -> FakeBedrock:
    """The fake server answering every pass with a complete, contract-valid object."""
    fake_bedrock.configure(default_answers=dict(answer_by_pass()))
    return fake_bedrock


@pytest.fixture
def backend_factory(fake: FakeBedrock) -> Callable[..., BedrockBackend]:
    def build(max_attempts: int = 1) -> BedrockBackend:
        return BedrockBackend(endpoint_url=fake.endpoint_url, max_attempts=max_attempts)

    return build


@pytest.fixture
def backend(backend_factory: Callable[..., BedrockBackend]) -> BedrockBackend:
    """Real boto3 client, botocore retries off: the engine's own retries are under test."""
    return backend_factory(1)


@pytest.fixture
def botocore_delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's backoff sleeps recorded instead of slept (see platform-notes §4)."""
    delays: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=delays.append))
    return delays


@pytest.fixture
def cache(tmp_path) -> CacheStore:
    return CacheStore(StorageRoot(str(tmp_path / "store")))
