"""A pass streamed in chunks: engine calls of bounded size, one pass's state across chunks."""

from __future__ import annotations

import pytest

from enrichment_dagster.engine.config import DEFAULT_MODEL as MODEL
from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.results import RecordResult
from enrichment_dagster.engine.runner import PassStream, run_pass
from enrichment_dagster.engine.streaming import PartitionChunk, engine_batches, run_chunks
from enrichment_dagster.llm.prices import get_model
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster_tests.engine.conftest import make_records


def _chunks(sizes: list[int], prefix: str = "r") -> list[PartitionChunk]:
    records = make_records(sum(sizes), prefix)
    chunks, start = [], 0
    for number, size in enumerate(sizes):
        chunks.append(PartitionChunk(f"p{number}", records[start:start + size]))
        start += size
    return chunks


def _sizes(groups: list[list[PartitionChunk]]) -> list[list[int]]:
    return [[len(chunk.records) for chunk in group] for group in groups]


def test_chunks_are_grouped_up_to_the_size_and_never_split() -> None:
    """Small partitions share an engine call; a call never exceeds the size unless one
    chunk alone does, and every chunk is in exactly one call, in order."""
    chunks = _chunks([3, 4, 2, 9, 1, 5])
    groups = list(engine_batches(chunks, 8))
    assert _sizes(groups) == [[3, 4], [2], [9], [1, 5]]
    assert [chunk for group in groups for chunk in group] == chunks
    assert _sizes(list(engine_batches(chunks, 1000))) == [[3, 4, 2, 9, 1, 5]]
    assert list(engine_batches([], 8)) == []


def test_a_posting_in_two_partitions_is_never_in_one_call() -> None:
    """The earlier passes' outputs are keyed by id: an id repeated across hours splits the call."""
    first = PartitionChunk("p0", make_records(3))
    again = PartitionChunk("p1", make_records(2))  # r0, r1 again
    other = PartitionChunk("p2", make_records(2, prefix="s"))
    groups = list(engine_batches([first, again, other], 100))
    assert [[chunk.key for chunk in group] for group in groups] == [["p0"], ["p1", "p2"]]


def test_streamed_results_match_one_batch_and_reach_the_sink_in_order(fake, backend) -> None:
    """Every record's result, in order, under its partition; engine calls of at most the size."""
    chunks = _chunks([3, 5, 4])
    whole = run_pass([r for c in chunks for r in c.records], 1, backend, EngineConfig())
    calls: list[int] = []
    received: list[tuple[str, list[RecordResult]]] = []
    with PassStream(1, backend, EngineConfig()) as stream:
        real = stream.submit

        def counting(records, previous=None):  # noqa: ANN001, ANN202
            calls.append(len(records))
            return real(records, previous)

        stream.submit = counting  # type: ignore[method-assign]
        run_chunks(stream, chunks, 8, lambda key, results: received.append((key, results)))
    assert calls == [8, 4]
    assert [key for key, _ in received] == ["p0", "p1", "p2"]
    streamed = [r for _, results in received for r in results]
    assert [r.record_id for r in streamed] == [r.record_id for r in whole]
    assert [r.output for r in streamed] == [r.output for r in whole]


def test_the_budget_spans_every_chunk_of_the_pass(fake, backend) -> None:
    """A budget caps the pass, not each chunk: 10 records in chunks of 2 stop at the cap."""
    fake.configure(input_tokens=1000, output_tokens=1000)
    per_call = get_model(MODEL).cost_usd(1000, 1000)
    config = EngineConfig(concurrency=1, budget_usd=per_call * 3.9)
    results: list[RecordResult] = []
    with PassStream(1, backend, config) as stream:
        run_chunks(stream, _chunks([2] * 5), 2, lambda key, chunk: results.extend(chunk))
    assert fake.stats.calls == 4
    assert [r.success for r in results] == [True] * 4 + [False] * 6
    assert {r.error_class for r in results[4:]} == {"budget_exceeded"}


def test_the_answers_of_every_chunk_go_to_one_cache_segment(fake, backend, cache: CacheStore) -> None:
    """The cache's writer session spans the chunks: one sealed segment, and a rerun is all hits."""
    chunks = _chunks([3, 3, 3])
    with PassStream(1, backend, EngineConfig(), cache) as stream:
        run_chunks(stream, chunks, 3, lambda key, results: None)
    assert len(cache.segment_files()) == 1
    fake.reset_stats()
    again: list[RecordResult] = []
    with PassStream(1, backend, EngineConfig(), cache) as stream:
        run_chunks(stream, chunks, 3, lambda key, results: again.extend(results))
    assert fake.stats.calls == 0
    assert len(again) == 9 and all(r.cache_hit for r in again)


def test_the_next_call_is_sent_while_the_current_one_is_in_flight(fake, backend) -> None:
    """The pool does not drain between engine calls: three calls of 4 records on 8 workers
    have 8 requests open at once (never more), and take two rounds of latency, not three."""
    fake.configure(latency_s=0.3)
    received: list[str] = []
    with PassStream(1, backend, EngineConfig(concurrency=8)) as stream:
        run_chunks(stream, _chunks([4, 4, 4]), 4, lambda key, results: received.append(key))
    assert received == ["p0", "p1", "p2"]
    assert fake.stats.calls == 12
    assert fake.stats.max_in_flight == 8


def test_a_posting_repeated_in_the_next_call_is_paid_once(fake, backend, cache: CacheStore) -> None:
    """A posting re-landed in the next hour is in the next engine call, sent while the
    first is in flight: it waits for the first answer and is served it from the cache."""
    fake.configure(latency_s=0.2)
    first = PartitionChunk("p0", make_records(3))
    again = PartitionChunk("p1", make_records(2))  # r0, r1 again
    received: dict[str, list[RecordResult]] = {}
    with PassStream(1, backend, EngineConfig(concurrency=8), cache) as stream:
        run_chunks(stream, [first, again], 100, lambda key, results: received.setdefault(key, results))
    assert fake.stats.calls == 3
    assert [r.record_id for r in received["p1"]] == ["r0", "r1"]
    assert all(r.success and r.cache_hit for r in received["p1"])
    assert [r.output for r in received["p1"]] == [r.output for r in received["p0"][:2]]


def test_a_failing_sink_stops_the_calls_not_yet_sent(fake, backend) -> None:
    """When the caller fails (here its sink), the stream's close sends nothing more: the
    calls queued behind the failed chunk are cancelled, not paid for."""
    fake.configure(latency_s=0.1)

    def sink(key: str, results: list[RecordResult]) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        with PassStream(1, backend, EngineConfig(concurrency=1)) as stream:
            run_chunks(stream, _chunks([2] * 5), 2, sink)
    # The first call (2 records) was collected; at most the one request started meanwhile
    # of the second call followed it; the other 7 were never sent.
    assert 2 <= fake.stats.calls <= 3


@pytest.mark.parametrize("pass_number", [0, 4])
def test_a_stream_of_an_unknown_pass_fails_before_any_call(fake, backend, pass_number: int) -> None:
    """Settings that would fail every record raise when the stream is built."""
    from enrichment_dagster.llm.types import ConfigurationError

    with pytest.raises(ConfigurationError, match="pass_number"):
        PassStream(pass_number, backend, EngineConfig())
    assert fake.stats.calls == 0
