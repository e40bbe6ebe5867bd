"""Nothing paid twice (issue 12, class 6): concurrent runs, unwritable storage, foreign entries.

* Two processes materialize the same partition at once on one storage root: the pass
  lease (storage/lease.py) makes the second wait and take the first one's answers from the
  cache, so the fake Bedrock bills each (record, pass) once and both runs succeed.
* The cache stops accepting writes mid-run (its folder replaced by a file): no record is
  sent after the first answer that could not be stored (``storage_unwritable``), answers
  already paid stay in the results, and the next run pays only for what was never stored.
* A cache entry holding another record's valid answer (a swapped frame, a copied file of
  the former layout) is a reported miss, never served.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.engine import EngineConfig, run_pass
from enrichment_dagster.engine.runner import WORKERS_PER_SLOT
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.storage.cache_store import (
    CACHE_DIR,
    SEGMENT_DIR,
    BlobStore,
    CacheStore,
    encode_frame,
)
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass
from enrichment_dagster_tests.engine.conftest import make_records
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock
from enrichment_dagster_tests.faults.harness import KEY, silver_row, silver_table, write_silver
from enrichment_dagster_tests.faults.test_crash_resume import (
    child_env,
    finish_run,
    settle,
    start_run,
)

MODEL = {1: "openai.gpt-oss-120b-1:0"}


@pytest.fixture
def slow_fake() -> Iterator[FakeBedrock]:
    with FakeBedrock(latency_s=0.05, default_answers=dict(answer_by_pass()),
                     request_log_size=10_000) as server:
        yield server


@pytest.mark.slow
def test_two_processes_on_one_partition_pay_each_answer_once(
    tmp_path: Path, slow_fake: FakeBedrock
) -> None:
    root = tmp_path / "store"
    records = 40
    # Distinct postings the fake's canned answers quote (so every answer is complete).
    write_silver(root, silver_table([silver_row(f"88{i:06d}", f"{DESCRIPTION} Reference {i}.")
                                     for i in range(records)]))
    procs = []
    for name in ("a", "b"):
        env = child_env(root, tmp_path / f"home-{name}", slow_fake.endpoint_url)
        logs = tmp_path / f"logs-{name}"
        procs.append((start_run(env, logs, KEY), logs))
    for proc, logs in procs:
        finish_run(proc, logs)  # both runs succeed: the second waited, then read the cache
    stats = settle(slow_fake)
    asked = Counter((r.record_id, r.pass_number) for r in stats.requests)
    assert stats.calls == 3 * records, stats.outcomes
    assert set(asked.values()) == {1}, [k for k, v in asked.items() if v > 1][:5]


def _fake_config(fake: FakeBedrock, break_after: int, cache_root: Path) -> None:
    """Answer normally; at the ``break_after``-th request, move the segment folder aside
    and put a file at its path: from then on the cache cannot be written (as on a root
    turned read-only; tests run as root, so chmod would not stop a write)."""
    answers = dict(answer_by_pass())
    seen = {"n": 0}

    def answer(body: Mapping[str, Any], _model: str) -> str:
        seen["n"] += 1
        if seen["n"] == break_after:
            folder = cache_root / CACHE_DIR / SEGMENT_DIR
            folder.rename(folder.with_name("segments.aside"))
            folder.write_text("this path is no longer a folder")
        return answers[1]

    fake.configure(answer=answer, latency_s=0.02)


def test_unwritable_cache_stops_the_batch_and_loses_no_paid_answer(
    tmp_path: Path, fake_bedrock: FakeBedrock
) -> None:
    store = tmp_path / "store"
    records = make_records(30, prefix="ro")
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=1)
    _fake_config(fake_bedrock, break_after=6, cache_root=store)
    config = EngineConfig(concurrency=2, models=MODEL)
    # From the break on, a worker holds at most one paid answer it cannot store: its first
    # failed write stops the batch, and no conversation starts after that.
    workers = WORKERS_PER_SLOT * config.concurrency
    first = run_pass(records, 1, backend, config, CacheStore(StorageRoot(str(store))))
    paid = [r for r in first if r.calls > 0]
    assert len(paid) == fake_bedrock.stats.calls <= 5 + workers  # stopped at the failed write
    assert all(r.success and r.output is not None for r in paid)  # kept in memory
    lost = [r for r in paid if not r.cache_stored]
    assert 1 <= len(lost) <= workers
    refused = [r for r in first if r.calls == 0]
    assert refused and {r.error_class for r in refused} == {"storage_unwritable"}
    assert "could not be written to the cache" in (refused[0].error_message or "")

    folder = store / CACHE_DIR / SEGMENT_DIR
    folder.unlink()  # storage repaired: what was written before the fault is back
    folder.with_name("segments.aside").rename(folder)
    fake_bedrock.reset_stats()
    fake_bedrock.configure(answer=None, default_answers=dict(answer_by_pass()))
    second = run_pass(records, 1, backend, config, CacheStore(StorageRoot(str(store))))
    assert all(r.success for r in second)
    stored = {r.record_id for r in paid if r.cache_stored}
    hits = {r.record_id for r in second if r.cache_hit}
    # Every answer reported stored is found (the one whose write could not be verified
    # may be found too: it reached the file that was moved aside).
    assert stored <= hits <= {r.record_id for r in paid}
    assert fake_bedrock.stats.calls == len(records) - len(hits)
    # Paid twice: only the answers in flight when the write failed (at most one a worker).
    assert len(paid) - len(hits) <= workers


def test_a_cache_entry_holding_another_records_answer_is_not_served(
    tmp_path: Path, fake_bedrock: FakeBedrock
) -> None:
    fake_bedrock.configure(default_answers=dict(answer_by_pass()))
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=1)
    root = StorageRoot(str(tmp_path / "store"))
    records = make_records(3, prefix="sw")
    config = EngineConfig(concurrency=1, models=MODEL)
    first = run_pass(records, 1, backend, config, CacheStore(root))
    keys = [r.cache_key for r in first]
    # A newer segment says sw0's answer is sw1's (a swapped or mis-indexed entry).
    foreign = CacheStore(root).get(keys[1])
    assert foreign is not None
    swapped = root.path(CACHE_DIR, SEGMENT_DIR, f"{time.time_ns():020d}-swap.seg")
    Path(swapped).write_bytes(encode_frame(keys[0], foreign))
    # And the former one-file layout holds sw1's payload under sw2's key (a copied file).
    legacy_root = StorageRoot(str(tmp_path / "legacy"))
    BlobStore(legacy_root).put(keys[2], foreign)

    fake_bedrock.reset_stats()
    cache = CacheStore(root)
    again = run_pass(records, 1, backend, config, cache)
    assert [r.cache_hit for r in again] == [False, True, True]
    assert fake_bedrock.stats.per_record_calls == {"sw0": 1}
    assert cache.corrupt == 1 and again[0].success

    fake_bedrock.reset_stats()
    legacy = CacheStore(legacy_root)
    [copied] = run_pass(records[2:], 1, backend, config, legacy)
    assert not copied.cache_hit and copied.success and legacy.corrupt == 1
    assert fake_bedrock.stats.per_record_calls == {"sw2": 1}
