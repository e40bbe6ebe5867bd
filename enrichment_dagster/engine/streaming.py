"""A pass over partitions streamed in chunks: memory bounded by a setting, not the partition.

A step never holds a whole partition: the run's Silver snapshot is read a row group at a
time (``engine.run_snapshot``), the earlier passes' rows are fetched for just that chunk
(``storage.parquet.RowsById``), the chunk goes through the engine, and its results are
appended to the partition's staged file (``storage.parquet.partition_writer``), which is
published only when every chunk is done.

The chunks of every partition of a run go through one :class:`~enrichment_dagster.engine.runner.PassStream`,
grouped into engine calls of up to ``chunk_records`` records: a day of small hours is one
call that fills the pool, and a partition of 50,000 records is fifty calls of 1,000.

Plain Python, no Dagster: the assets only wire storage to this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.results import PassContext, RecordResult
from enrichment_dagster.engine.runner import PassStream, PendingChunk
from enrichment_dagster.engine.tables import outputs_from_table
from enrichment_dagster.storage.parquet import RowsById


@dataclass(frozen=True)
class PartitionChunk:
    """Consecutive records of one partition, with the earlier passes' outputs for them
    (None in pass 1)."""

    key: str
    records: list[SilverRecord]
    previous: dict[str, PassContext] | None = None


def previous_context(pass_number: int, records: list[SilverRecord],
                     upstream: Mapping[int, RowsById]) -> dict[str, PassContext] | None:
    """The earlier passes' outputs for ``records``, by id (passes 2 and 3), read from the
    stored pass tables. A record that an earlier pass did not answer has no entry, and the
    engine reports it as ``upstream_failed``, as when the whole table was loaded."""
    if pass_number == 1:
        return None
    ids = [record.job_posting_id for record in records]
    pass1 = outputs_from_table(1, upstream[1].take(ids))
    if pass_number == 2:
        return {record_id: PassContext(pass1=output) for record_id, output in pass1.items()}
    pass2 = outputs_from_table(2, upstream[2].take(ids))
    return {record_id: PassContext(pass1=output, pass2=pass2.get(record_id)) for record_id, output in pass1.items()}


def engine_batches(chunks: Iterable[PartitionChunk], size: int) -> Iterator[list[PartitionChunk]]:
    """Consecutive chunks grouped into engine calls of at most ``size`` records (a chunk
    larger than ``size`` is a call of its own), with no record id twice in one call.

    The engine keys the earlier passes' outputs by record id; a posting repeated in two
    hours (it happens when Spark re-lands a row) must not read the other hour's context.
    """
    group: list[PartitionChunk] = []
    ids: set[str] = set()
    count = 0
    for chunk in chunks:
        chunk_ids = {record.job_posting_id for record in chunk.records}
        if group and (count + len(chunk.records) > size or not chunk_ids.isdisjoint(ids)):
            yield group
            group, ids, count = [], set(), 0
        group.append(chunk)
        ids |= chunk_ids
        count += len(chunk.records)
    if group:
        yield group


def run_chunks(stream: PassStream, chunks: Iterable[PartitionChunk], size: int,
               sink: Callable[[str, list[RecordResult]], None]) -> None:
    """Every chunk through ``stream``, ``size`` records per engine call; each chunk's
    results, in its records' order, go to ``sink(partition_key, results)`` as soon as its
    call is done (so they leave memory before the call after next).

    The next call is read and sent before the current one is collected: its records are
    read (and the earlier passes' rows fetched) while the current calls are in flight, and
    its calls queue behind them, so the pool does not drain between calls. At most two
    calls' records are held at once.
    """
    current: tuple[list[PartitionChunk], PendingChunk] | None = None
    for group in engine_batches(chunks, size):
        records = [record for chunk in group for record in chunk.records]
        previous = None
        if stream.pass_number > 1:
            previous = {rid: ctx for chunk in group for rid, ctx in (chunk.previous or {}).items()}
        submitted = (group, stream.submit(records, previous))
        if current is not None:
            _deliver(*current, sink)
        current = submitted
    if current is not None:
        _deliver(*current, sink)


def _deliver(group: list[PartitionChunk], pending: PendingChunk,
             sink: Callable[[str, list[RecordResult]], None]) -> None:
    results = pending.results()
    offset = 0
    for chunk in group:
        sink(chunk.key, results[offset:offset + len(chunk.records)])
        offset += len(chunk.records)
