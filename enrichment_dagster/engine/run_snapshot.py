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
that file. A run therefore reads Silver once and works on one view of it. Completeness is
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

import io
import json
import logging
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine.tables import SilverBatch, read_silver
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.names import path_component
from enrichment_dagster.storage.partition_keys import partition_key_to_path

log = logging.getLogger(__name__)

RUNS_DIR = "_runs"
SNAPSHOT_NAME = "prepared_silver.parquet"
#: Schema-metadata key holding what the preparation skipped or repaired (JSON).
PROBLEMS_KEY = b"enrichment.silver_problems"
SNAPSHOT_FORMAT = 1
#: A run's folder older than this is a leftover of a run that died: no step runs for a day.
STALE_AFTER_S = 24 * 3600.0


@dataclass(frozen=True)
class RunSilver:
    """A prepared partition and where it came from (``storage`` or ``snapshot``)."""

    batch: SilverBatch
    source: str


def run_folder(root: StorageRoot, run_id: str) -> str:
    return root.path(RUNS_DIR, path_component(run_id))


def snapshot_path(root: StorageRoot, run_id: str, partition_key: str) -> str:
    return root.path(RUNS_DIR, path_component(run_id), "silver",
                     partition_key_to_path(partition_key), SNAPSHOT_NAME)


def run_silver(root: StorageRoot, run_id: str, partition_key: str) -> RunSilver:
    """The run's prepared partition: its snapshot when an earlier step wrote one, else read
    from storage (which raises, naming the file, for a missing or corrupt partition) and
    written as the snapshot for the steps that follow."""
    path = snapshot_path(root, run_id, partition_key)
    batch = read_snapshot(root, path)
    if batch is not None:
        return RunSilver(batch, "snapshot")
    batch = read_silver(root, partition_key)
    root.write_bytes_atomic(path, snapshot_bytes(batch))
    return RunSilver(batch, "storage")


def snapshot_bytes(batch: SilverBatch) -> bytes:
    """The batch as Parquet: its table, and its problems in the schema metadata."""
    problems = {
        "format": SNAPSHOT_FORMAT,
        "duplicate_ids": batch.duplicate_ids,
        "invalid_rows": batch.invalid_rows,
        "repaired_rows": batch.repaired_rows,
        "rows_read": batch.rows_read,
    }
    metadata = dict(batch.table.schema.metadata or {})
    metadata[PROBLEMS_KEY] = json.dumps(problems).encode()
    buffer = io.BytesIO()
    pq.write_table(batch.table.replace_schema_metadata(metadata), buffer)
    return buffer.getvalue()


def read_snapshot(root: StorageRoot, path: str) -> SilverBatch | None:
    """The batch a snapshot holds; None when there is none or it cannot be read whole.

    The records are validated again from the stored rows: they are the rows the first
    step validated, so this gives the same records, and a snapshot altered in storage can
    never bring an unvalidated record into a prompt.
    """
    try:
        data = root.read_bytes(path)
    except FileNotFoundError:
        return None
    try:
        table = pq.read_table(io.BytesIO(data))
        problems = json.loads((table.schema.metadata or {})[PROBLEMS_KEY])
        if problems.get("format") != SNAPSHOT_FORMAT:
            raise ValueError(f"snapshot format {problems.get('format')!r}")
        records = [SilverRecord.model_validate(row) for row in table.to_pylist()]
        return SilverBatch(
            table.replace_schema_metadata(None), records,
            duplicate_ids=list(problems["duplicate_ids"]),
            invalid_rows=list(problems["invalid_rows"]),
            repaired_rows=list(problems["repaired_rows"]),
            rows_read=int(problems["rows_read"]),
        )
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
