"""The Silver a run works on: read and prepared once per partition, shared by the run's steps.

Every step of ``enrich_job`` (pass1, pass2, pass3, silver_ai) needs the prepared Silver
records of its partitions. A step cannot count on finding them in memory: a run re-executed
from a failed step starts at that step, and a deployment may choose Dagster's multiprocess
executor (a process per step) over the project's in-process one.
Before this module each step read the Silver files again and repeated the whole preparation
(fitting each file to the contract, repairing invalid UTF-8, dropping duplicate ids): four
reads per run, and four chances to see a different Silver if a writer replaced the files
mid-run, so that pass 2 could enrich records pass 1 never saw.

Now the first step of a run that needs a partition reads it from storage and writes the
prepared result (the kept rows, conformed to ``SILVER_SCHEMA``, and what was skipped or
repaired) as one Parquet file under ``_runs/<run_id>/``; the later steps of the same run read
that file. A run therefore reads Silver once and works on one view of it. Both are streamed:
the Silver files ``chunk_records`` rows at a time into one row group each of a staged file
(what was skipped or repaired goes in its footer), and every step reads the snapshot back a
row group at a time (:meth:`RunSilver.chunks`), so no step holds a whole partition. Completeness is
still checked against the Silver files in storage, read independently (footer row counts and
the id column), never against this snapshot: it is what catches rows lost between the two.

The snapshot is an internal intermediate, not an input: one that is missing or unreadable is
rebuilt from Silver (and said so in the log), never trusted half-read. The last step of the
run that reads it deletes the run's folder; a run that died before that leaves one, which
:func:`sweep_stale` removes once it is older than :data:`STALE_AFTER_S` (called whenever a
run discards its own, so no extra job is needed). The folder starts with ``_``, so partition
listings never see it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.contracts.silver import SILVER_SCHEMA, SilverRecord
from enrichment_dagster.engine.tables import (
    SILVER_DATASET,
    SilverBatch,
    SilverPreparer,
    SilverProblems,
    whole_batch,
)
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.names import path_component
from enrichment_dagster.storage.parquet import (
    PartitionNotFoundError,
    StagedParquet,
    iter_partition_batches,
)
from enrichment_dagster.storage.partition_keys import partition_key_to_path

log = logging.getLogger(__name__)

RUNS_DIR = "_runs"
SNAPSHOT_NAME = "prepared_silver.parquet"
#: Schema-metadata key holding what the preparation skipped or repaired (JSON).
PROBLEMS_KEY = b"enrichment.silver_problems"
SNAPSHOT_FORMAT = 2
#: Records held in memory at once by a step (``ENRICHMENT_CHUNK_RECORDS``): the snapshot's
#: row-group size, and so the size of the chunks every step streams.
DEFAULT_CHUNK_RECORDS = 1000
#: Tries at streaming a Silver partition that a writer replaces under us.
READ_ATTEMPTS = 3
#: A run's folder older than this is a leftover of a run that died: no step runs for a day.
STALE_AFTER_S = 24 * 3600.0


@dataclass(frozen=True)
class RunSilver:
    """A prepared partition in the run's snapshot, and where it came from (``storage`` or
    ``snapshot``): its problems at once, its rows a chunk at a time (:meth:`chunks`)."""

    root: StorageRoot
    path: str
    problems: SilverProblems
    source: str

    def chunks(self) -> Iterator[SilverBatch]:
        """The kept rows and their records, one row group (at most ``chunk_records`` rows)
        at a time; each chunk's problems are empty (they are in :attr:`problems`)."""
        with self.root.fs.open_input_file(self.path) as handle:
            parquet = pq.ParquetFile(handle)
            for index in range(parquet.num_row_groups):
                table = parquet.read_row_group(index).replace_schema_metadata(None)
                yield SilverBatch(table, [SilverRecord.model_validate(row) for row in table.to_pylist()])

    @property
    def batch(self) -> SilverBatch:
        """The whole partition as one batch (small partitions and tests)."""
        return whole_batch(list(self.chunks()), self.problems)


def run_folder(root: StorageRoot, run_id: str) -> str:
    return root.path(RUNS_DIR, path_component(run_id))


def snapshot_path(root: StorageRoot, run_id: str, partition_key: str) -> str:
    return root.path(RUNS_DIR, path_component(run_id), "silver",
                     partition_key_to_path(partition_key), SNAPSHOT_NAME)


def run_silver(root: StorageRoot, run_id: str, partition_key: str,
               chunk_records: int = DEFAULT_CHUNK_RECORDS) -> RunSilver:
    """The run's prepared partition: its snapshot when an earlier step wrote one, else read
    from storage (which raises, naming the file, for a missing or corrupt partition) and
    written as the snapshot for the steps that follow, ``chunk_records`` rows at a time."""
    path = snapshot_path(root, run_id, partition_key)
    found = open_snapshot(root, path)
    if found is not None:
        return found
    for attempt in range(1, READ_ATTEMPTS + 1):
        try:
            return write_snapshot(root, path, partition_key, chunk_records)
        except PartitionNotFoundError:
            raise
        except FileNotFoundError:
            # A writer replaced a Silver file while it was streamed: start over, so the
            # snapshot never mixes two versions of the partition.
            if attempt == READ_ATTEMPTS:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def write_snapshot(root: StorageRoot, path: str, partition_key: str, chunk_records: int) -> RunSilver:
    """Stream the Silver partition through the preparation into the snapshot: one row group
    per chunk, what was skipped or repaired in the footer."""
    preparer = SilverPreparer()
    with StagedParquet(root, path, SILVER_SCHEMA) as out:
        for part in iter_partition_batches(root, SILVER_DATASET, partition_key, chunk_records):
            out.write(preparer.add(part.name, part.offset, part.table).table)
        problems = preparer.problems
        out.add_metadata({PROBLEMS_KEY: json.dumps({"format": SNAPSHOT_FORMAT, **asdict(problems)}).encode()})
        out.commit()
    return RunSilver(root, path, problems, "storage")


def open_snapshot(root: StorageRoot, path: str) -> RunSilver | None:
    """The snapshot at ``path``; None when there is none or it cannot be read whole.

    Every row is validated against the contract here, before any is served (and again as
    each chunk is served): they are the rows the first step validated, so this passes, and a
    snapshot altered in storage can never bring an unvalidated record into a prompt, nor
    fail a step half-way through its chunks.
    """
    if not root.exists(path):
        return None
    try:
        with root.fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            footer = json.loads((parquet.metadata.metadata or {})[PROBLEMS_KEY])
            if footer.pop("format", None) != SNAPSHOT_FORMAT:
                raise ValueError("unknown snapshot format")
            problems = SilverProblems(**footer)
            if not parquet.schema_arrow.remove_metadata().equals(SILVER_SCHEMA.remove_metadata()):
                raise ValueError("schema differs from the Silver contract")
            rows = 0
            for index in range(parquet.num_row_groups):
                table = parquet.read_row_group(index)
                for row in table.to_pylist():
                    SilverRecord.model_validate(row)
                rows += table.num_rows
            if rows != problems.records:
                raise ValueError(f"{rows} rows, the footer says {problems.records}")
        return RunSilver(root, path, problems, "snapshot")
    except (pa.ArrowException, OSError, KeyError, TypeError, ValueError) as exc:
        log.warning("run snapshot %s is unreadable (%s: %s); Silver is read again",
                    root.display(path), type(exc).__name__, exc)
        return None


def discard_run(root: StorageRoot, run_id: str) -> None:
    """Delete the run's snapshots (its last Silver reader is done), and those of dead runs
    (:func:`sweep_stale`): one listing per run, not one per partition."""
    root.delete_folder(run_folder(root, run_id))
    sweep_stale(root)


def sweep_stale(root: StorageRoot, now: float | None = None) -> list[str]:
    """Delete the folders of runs whose snapshots are all older than :data:`STALE_AFTER_S`;
    returns the folders deleted."""
    cutoff = (time.time() if now is None else now) - STALE_AFTER_S
    newest: dict[str, float] = {}
    prefix = root.path(RUNS_DIR) + "/"
    for entry in root.list_files(root.path(RUNS_DIR)):
        folder = prefix + entry.path[len(prefix):].split("/", 1)[0]
        newest[folder] = max(newest.get(folder, 0.0), entry.modified)
    stale = sorted(folder for folder, modified in newest.items() if modified < cutoff)
    for folder in stale:
        root.delete_folder(folder)
    return stale
