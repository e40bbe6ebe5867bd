"""A fully cached rerun writes the pass tables the fresh run wrote, and serves no foreign entry.

Why: the cached path reads, validates and grounds stored answers by a route of its own, and
is tuned for speed, so what it serves is checked against what a fresh run produced, column
by column. Only this run's telemetry may differ: a hit costs nothing and takes no call.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, PassContext, RecordResult, run_pass
from enrichment_dagster.engine.cache import CachedAnswer
from enrichment_dagster.engine.tables import pass_table
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.types import LLMRequest, LLMResponse
from enrichment_dagster.storage.cache_store import CACHE_DIR, SEGMENT_DIR, CacheStore, encode_frame
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.answers import DESCRIPTION, full_answer

#: Passes 2 and 3 quote this sentence as evidence: records without it get their
#: confidences halved by grounding, so both outcomes of grounding are compared.
SECOND = "Our team ships data products to millions of listeners every single day."
MODEL = "openai.gpt-oss-120b-1:0"
#: What only this run can say: a hit is free, takes no call and no time.
THIS_RUNS_TELEMETRY = {"attempts", "input_tokens", "output_tokens", "cost_usd", "latency_s",
                       "cache_hit"}


class QuotingModel(BaseBackend):
    """Complete answers: pass 1 quotes DESCRIPTION, passes 2 and 3 quote SECOND."""

    name = "quoting-model"
    cache_identity = "quoting-model-v1"

    def __init__(self) -> None:
        self.answers = {1: full_answer(1), 2: full_answer(2, SECOND), 3: full_answer(3, SECOND)}
        self.calls: list[tuple[int, str]] = []
        self._lock = threading.Lock()

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self._lock:
            self.calls.append((request.pass_number, request.record_id))
        return LLMResponse(text=self.answers[request.pass_number], input_tokens=1200,
                           output_tokens=900, stop_reason="end_turn", latency_s=0.001,
                           model_id=request.model_id)

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens + 3 * output_tokens) / 1e6


def mixed_records(n: int) -> list[SilverRecord]:
    """Distinct postings, every third also quoting SECOND, every seventh a copy of the one
    before it (deduplicated), and one without posting text (never sent)."""
    records = []
    for i in range(n):
        number = i - 1 if i % 7 == 6 else i
        extra = f" {SECOND}" if number % 3 == 0 else ""
        records.append(SilverRecord(job_posting_id=f"m{i:04d}", job_title="Data Engineer",
                                    job_description_text=f"{DESCRIPTION}{extra} Ref {number}."))
    records.append(SilverRecord(job_posting_id="empty", job_title="Data Engineer"))
    return records


def three_passes(records: Sequence[SilverRecord], backend: BaseBackend,
                 cache: CacheStore) -> dict[int, list[RecordResult]]:
    config = EngineConfig(concurrency=4, models={1: MODEL, 2: MODEL, 3: MODEL})
    previous: dict[str, PassContext] = {}
    by_pass = {}
    for pass_number in (1, 2, 3):
        results = run_pass(records, pass_number, backend, config, cache, previous)
        by_pass[pass_number] = results
        for r in results:
            ctx = previous.get(r.record_id, PassContext())
            previous[r.record_id] = (PassContext(pass1=r.output, pass2=ctx.pass2)
                                     if pass_number == 1 else
                                     PassContext(pass1=ctx.pass1, pass2=r.output))
    return by_pass


def tables(by_pass: Mapping[int, list[RecordResult]]) -> dict[int, pa.Table]:
    return {n: pass_table(n, results) for n, results in by_pass.items()}


def test_a_cached_rerun_writes_the_fresh_runs_pass_tables(tmp_path: Path) -> None:
    records = mixed_records(300)
    backend = QuotingModel()
    root = StorageRoot(str(tmp_path / "store"))
    fresh = tables(three_passes(records, backend, CacheStore(root)))
    paid = len(backend.calls)
    cache = CacheStore(root)
    rerun = three_passes(records, backend, cache)
    again = tables(rerun)

    assert len(backend.calls) == paid and cache.corrupt == 0
    for n in (1, 2, 3):
        assert fresh[n].schema == again[n].schema
        assert all(r.cache_hit for r in rerun[n] if r.record_id != "empty")
        for name in fresh[n].column_names:
            if name not in THIS_RUNS_TELEMETRY:
                assert fresh[n].column(name).equals(again[n].column(name)), (n, name)
        assert set(again[n].column("cost_usd").to_pylist()) == {0.0}
    # Both outcomes of grounding are in the comparison: kept and halved confidences.
    downgraded = [r.confidence_downgraded for r in rerun[2]]
    assert min(downgraded) == 0 < max(downgraded)
    assert sum(r.deduplicated for r in rerun[1]) > 0


def test_a_cached_rerun_refuses_an_entry_holding_another_records_answer(
    tmp_path: Path,
) -> None:
    records = mixed_records(40)
    backend = QuotingModel()
    root = StorageRoot(str(tmp_path / "store"))
    fresh = three_passes(records, backend, CacheStore(root))
    first, second, third = fresh[2][0], fresh[2][1], fresh[3][2]
    foreign = CacheStore(root).get(second.cache_key)
    assert foreign is not None
    # A newer segment says record 0's pass-2 answer is record 1's (a swapped frame), and
    # record 2's pass-3 key holds its own answer with another input hash (a mis-index).
    own = CacheStore(root).get(third.cache_key)
    assert own is not None
    stored = CachedAnswer.from_bytes(own)
    mislabelled = stored.to_bytes().replace(stored.input_hash.encode(), b"0" * 64)
    segment = root.path(CACHE_DIR, SEGMENT_DIR, f"{time.time_ns():020d}-tampered.seg")
    Path(segment).write_bytes(encode_frame(first.cache_key, foreign)
                              + encode_frame(third.cache_key, mislabelled))

    backend.calls.clear()
    cache = CacheStore(root)
    rerun = three_passes(records, backend, cache)
    assert cache.corrupt == 2
    assert sorted(backend.calls) == [(2, first.record_id), (3, third.record_id)]
    assert not rerun[2][0].cache_hit and rerun[2][0].success
    assert rerun[2][0].output == first.output
    assert not rerun[3][2].cache_hit and rerun[3][2].success
    served = [r for n in (1, 2, 3) for r in rerun[n] if r.cache_hit]
    assert len(served) == sum(r.success for n in (1, 2, 3) for r in fresh[n]) - 2


class BatchReadFails(CacheStore):
    """A store whose batched read fails (a timed-out segment fetch); ``get`` still works."""

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        raise OSError("segment fetch timed out")


class Unreadable(BatchReadFails):
    def get(self, key: str) -> bytes | None:
        raise OSError("storage unreachable")


def test_a_failed_batch_read_leaves_each_answer_to_its_own_read(tmp_path: Path) -> None:
    records = mixed_records(30)
    backend = QuotingModel()
    root = StorageRoot(str(tmp_path / "store"))
    fresh = three_passes(records, backend, CacheStore(root))
    backend.calls.clear()
    rerun = three_passes(records, backend, BatchReadFails(root))
    assert backend.calls == []
    assert [r.output for r in rerun[3]] == [r.output for r in fresh[3]]
    # Unreadable storage: nothing is sent, the answers may well be there.
    config = EngineConfig(models={1: MODEL})
    results = run_pass(records, 1, backend, config, Unreadable(root))
    assert backend.calls == []
    assert {r.error_class for r in results if r.record_id != "empty"} == {"cache_error"}


class _Collector:
    """Stands in for the ``gc`` module as the runner sees it: the collector's state is
    process-wide, so other threads of the test session (a fake server's, a subprocess
    launch) could flip the real one between a pass and an assertion."""

    def __init__(self, enabled: bool, frozen: int = 0) -> None:
        self.enabled, self.frozen, self.calls = enabled, frozen, []

    def isenabled(self) -> bool:
        return self.enabled

    def disable(self) -> None:
        self.calls.append("disable")
        self.enabled = False

    def enable(self) -> None:
        self.calls.append("enable")
        self.enabled = True

    def get_freeze_count(self) -> int:
        return self.frozen

    def freeze(self) -> None:
        self.calls.append("freeze")

    def unfreeze(self) -> None:
        self.calls.append("unfreeze")


@pytest.mark.parametrize("enabled, frozen, expected", [
    (True, 0, ["disable", "freeze", "unfreeze", "enable"]),  # paused, objects moved, restarted
    (False, 0, []),                                          # the application turned it off
    (True, 5, ["disable", "enable"]),                        # what the application froze stays
])
def test_run_pass_leaves_the_garbage_collector_as_it_found_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, enabled: bool, frozen: int,
        expected: list[str]) -> None:
    """Rendering and cache hits run with the collector paused, fresh or cached."""
    from enrichment_dagster.engine import runner

    records = mixed_records(10)
    backend = QuotingModel()
    cache = CacheStore(StorageRoot(str(tmp_path / "store")))
    config = EngineConfig(models={1: MODEL})
    for _ in ("fresh", "cached"):
        collector = _Collector(enabled, frozen)
        monkeypatch.setattr(runner, "gc", collector)
        run_pass(records, 1, backend, config, cache)
        assert collector.calls == expected and collector.enabled is enabled
