"""From Silver rows to engine inputs, and from engine results to the stored tables.

Plain Python (no Dagster) so the assets stay thin and this logic is tested alone. The
rule it enforces: every Silver record with a usable id appears in every output exactly
once, whatever happened to it; rows that cannot be keyed are counted and reported, never
dropped silently.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from math import fsum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from enrichment_dagster.contracts import vocab
from enrichment_dagster.contracts.columns import empty_row, flatten_pass, pass_columns
from enrichment_dagster.contracts.output import pass_table_schema, silver_ai_schema
from enrichment_dagster.contracts.passes import PASS_MODELS, SCHEMA_VERSION, Contract
from enrichment_dagster.contracts.silver import SILVER_SCHEMA, SilverRecord, coerce_silver
from enrichment_dagster.engine.results import NOT_SENT, RecordResult
from enrichment_dagster.llm.types import valid_text
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import (
    conform_to_schema,
    count_partition_rows,
    read_partition_parts,
)

LOW_CONFIDENCE = 0.5


@dataclass
class SilverBatch:
    """A Silver partition ready for the engine: one validated record per distinct id."""

    table: pa.Table  # conformed to SILVER_SCHEMA, same rows and order as ``records``
    records: list[SilverRecord]
    duplicate_ids: list[str] = field(default_factory=list)
    invalid_rows: list[str] = field(default_factory=list)  # "row N: reason"
    #: Kept rows whose values were repaired: invalid UTF-8 replaced by U+FFFD, or a value
    #: of a drifted type coerced or nulled ("<file> row N (id X): salary_min: ...").
    repaired_rows: list[str] = field(default_factory=list)
    #: Rows in the Silver files as read: records + duplicates + invalid rows.
    rows_read: int = 0


@dataclass(frozen=True)
class SilverProblems:
    """What preparing a whole partition skipped or repaired (as in :class:`SilverBatch`),
    and how many records it kept: all a step needs of a partition it streams."""

    duplicate_ids: list[str]
    invalid_rows: list[str]
    repaired_rows: list[str]
    rows_read: int
    records: int

    @property
    def rows_skipped(self) -> int:
        """Rows read but not enriched, each with a named reason (duplicate or invalid)."""
        return len(self.duplicate_ids) + len(self.invalid_rows)


def whole_batch(chunks: Sequence[SilverBatch], problems: SilverProblems) -> SilverBatch:
    """The prepared chunks of one partition as one batch, with the partition's problems."""
    tables = [chunk.table for chunk in chunks]
    return SilverBatch(
        pa.concat_tables(tables) if tables else SILVER_SCHEMA.empty_table(),
        [record for chunk in chunks for record in chunk.records],
        list(problems.duplicate_ids), list(problems.invalid_rows), list(problems.repaired_rows),
        rows_read=problems.rows_read,
    )


SILVER_DATASET = "silver"


def read_silver(root: StorageRoot, partition_key: str) -> SilverBatch:
    """One Silver partition from storage, every file fitted to the contract and named in
    its problems (``PartitionNotFoundError``/``PartitionReadError`` name the folder/file)."""
    parts = read_partition_parts(root, SILVER_DATASET, partition_key)
    return prepare_silver_parts([(part.name, part.table) for part in parts])


def count_silver_rows(root: StorageRoot, partition_key: str) -> int:
    """The Silver rows in storage for one partition, from the Parquet footers only.

    Independent of any reading or preparing of the rows: what completeness compares with.
    """
    return count_partition_rows(root, SILVER_DATASET, partition_key)


def read_silver_ids(root: StorageRoot, partition_key: str) -> list[pa.Table]:
    """The ``job_posting_id`` column of each Silver file of a partition (only that column
    is fetched): what completeness compares silver_ai with, read independently of the
    prepared batch."""
    parts = read_partition_parts(root, SILVER_DATASET, partition_key, ["job_posting_id"])
    return [part.table for part in parts]


def prepare_silver(raw: pa.Table) -> SilverBatch:
    """:func:`prepare_silver_parts` of one table whose rows are named ``row N``."""
    return prepare_silver_parts([("", raw)])


def prepare_silver_parts(parts: Sequence[tuple[str, pa.Table]]) -> SilverBatch:
    """Conform the files of a Silver partition and keep the first row of each ``job_posting_id``.

    ``parts`` are (file name, table) in read order; problems are reported as
    ``<file> row N`` (N counted within the file). The whole partition at once: what
    :class:`SilverPreparer` does a chunk at a time (see there for the rules).
    """
    preparer = SilverPreparer()
    chunks = [preparer.add(name, 0, raw) for name, raw in parts]
    return whole_batch(chunks, preparer.problems)


class SilverPreparer:
    """Prepares one Silver partition a chunk at a time, remembering the ids already kept.

    Each file is fitted to the contract on its own (every chunk of it, alike), so two files
    that disagree on a type (``timestamp[ns]`` vs ``timestamp[us, tz=UTC]``, ``double`` vs
    ``string``) are each made to fit instead of failing the partition.

    A duplicate id is the same posting scraped twice; enriching it twice would pay twice
    and break the uniqueness of silver_ai's key. Rows without a usable id (null, empty,
    not valid UTF-8) cannot be keyed and are reported in ``invalid_rows``.

    Parquet does not stop a writer from putting invalid UTF-8 in a string column, and
    pyarrow reads such a file without complaint; the bytes only fail when a value is
    decoded. Such values are decoded here with U+FFFD for the bad bytes, so one stray
    byte costs neither the partition nor the record (its row is kept, enriched and listed
    in ``repaired_rows``), and silver_ai never carries bytes that Athena or Spark refuse.
    A value of a drifted type is coerced or nulled the same way (``contracts.drift``) and
    its row listed in ``repaired_rows`` with what was done. Columns the enrichment does not
    read are dropped first: nothing in them can fail a row.
    """

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._duplicates: list[str] = []
        self._invalid: list[str] = []
        self._repaired: list[str] = []
        self._rows_read = 0

    @property
    def problems(self) -> SilverProblems:
        """What the chunks added so far skipped or repaired, and the records they kept."""
        return SilverProblems(list(self._duplicates), list(self._invalid), list(self._repaired),
                              self._rows_read, len(self._seen))

    def add(self, name: str, offset: int, raw: pa.Table) -> SilverBatch:
        """The chunk prepared: ``raw`` holds rows ``offset``, ``offset + 1``, ... of the file
        ``name``; the batch's problems are this chunk's."""
        if "job_posting_id" not in raw.column_names and raw.num_rows:
            where = f"Silver file {name}" if name else "Silver partition"
            raise ValueError(f"{where} has no job_posting_id column")
        raw = raw.select([column for column in raw.column_names if column in SILVER_SCHEMA.names])
        raw, utf8_by_row = _repair_utf8(raw)
        table, notes_by_row = coerce_silver(raw)
        labels = [f"{name} row {offset + i}" if name else f"row {offset + i}" for i in range(raw.num_rows)]
        keep: list[int] = []
        duplicates: list[str] = []
        invalid: list[str] = []
        repaired: list[str] = []
        records: list[SilverRecord] = []
        for index, row in enumerate(_rows(table)):
            bad_columns = utf8_by_row.get(index, [])
            if "job_posting_id" in bad_columns:
                shown = table.column("job_posting_id")[index].as_py()
                invalid.append(f"{labels[index]}: job_posting_id {shown!r} is not valid UTF-8; "
                               "the row cannot be keyed")
                continue
            try:
                record = SilverRecord.model_validate(row)
            except Exception as exc:  # one bad row never fails the partition
                invalid.append(f"{labels[index]}: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if record.job_posting_id in self._seen:
                duplicates.append(record.job_posting_id)
                continue
            self._seen.add(record.job_posting_id)
            keep.append(index)
            records.append(record)
            done = ([f"invalid UTF-8 in {', '.join(bad_columns)} replaced with U+FFFD"]
                    if bad_columns else []) + notes_by_row.get(index, [])
            if done:
                repaired.append(f"{labels[index]} (id {record.job_posting_id}): {'; '.join(done)}")
        kept = table.take(pa.array(keep, pa.int64())) if table.num_columns else SILVER_SCHEMA.empty_table()
        ids = pa.array([r.job_posting_id for r in records], pa.string())
        kept = conform_to_schema(kept.set_column(0, SILVER_SCHEMA.field(0), ids), SILVER_SCHEMA)
        self._duplicates += duplicates
        self._invalid += invalid
        self._repaired += repaired
        self._rows_read += len(labels)
        return SilverBatch(kept, records, duplicates, invalid, repaired, rows_read=len(labels))


def _rows(table: pa.Table) -> list[dict[str, Any] | None]:
    """Every row as a dict; a row that cannot be converted becomes None (an invalid row).

    The table is conformed (temporal values within Python's range), so the one-pass
    conversion practically always works; the row-by-row fallback keeps one surprise to
    its row.
    """
    try:
        return table.to_pylist()
    except Exception:  # a value Python cannot hold: find its row, keep the others
        rows: list[dict[str, Any] | None] = []
        for index in range(table.num_rows):
            try:
                rows.append(table.slice(index, 1).to_pylist()[0])
            except Exception:
                rows.append(None)
        return rows


def _repair_utf8(table: pa.Table) -> tuple[pa.Table, dict[int, list[str]]]:
    """``table`` with invalid UTF-8 replaced by U+FFFD, and row index -> repaired columns.

    Only columns that fail Arrow's full validation are decoded value by value; a clean
    partition costs one validation pass per text column.
    """
    bad: dict[int, list[str]] = {}
    for position, name in enumerate(table.column_names):
        column = table.column(position)
        binary = _as_binary_type(column.type)
        if binary is None:
            continue
        try:
            column.validate(full=True)
            continue
        except pa.ArrowInvalid:
            pass
        values = []
        for index, value in enumerate(column.cast(binary).to_pylist()):
            decoded, changed = _decode_replacing(value)
            values.append(decoded)
            if changed:
                bad.setdefault(index, []).append(name)
        table = table.set_column(position, table.field(position), pa.array(values, column.type))
    return table, bad


def _as_binary_type(data_type: pa.DataType) -> pa.DataType | None:
    """The binary twin of a string or list-of-string type (a cast that skips UTF-8 checks)."""
    if pa.types.is_string(data_type):
        return pa.binary()
    if pa.types.is_large_string(data_type):
        return pa.large_binary()
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type):
        item = _as_binary_type(data_type.value_type)
        if item is None:
            return None
        make = pa.list_ if pa.types.is_list(data_type) else pa.large_list
        return make(pa.field(data_type.value_field.name, item))
    return None


def _decode_replacing(value: Any) -> tuple[Any, bool]:
    """Bytes (or a list of them) decoded as UTF-8 with U+FFFD; True when a byte was bad."""
    if value is None:
        return None, False
    if isinstance(value, list):
        pairs = [_decode_replacing(v) for v in value]
        return [v for v, _ in pairs], any(changed for _, changed in pairs)
    try:
        return value.decode("utf-8"), False
    except UnicodeDecodeError:
        return value.decode("utf-8", errors="replace"), True


def status_of(result: RecordResult) -> str:
    if result.success:
        return "complete"
    if result.partial:
        return "partial"
    if result.error_class in NOT_SENT:
        return "skipped"
    return "failed"


def _telemetry(result: RecordResult) -> dict[str, Any]:
    return {
        "status": status_of(result),
        "success": result.success,
        "error_class": result.error_class,
        "error_message": result.error_message,
        "attempts": result.attempts,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
        "latency_s": result.latency_s,
        "cache_hit": result.cache_hit,
        "model_id": result.model_id,
        "prompt_version": result.prompt_version,
        "coerced_values": result.coerced_fields,
        "nulled_values": result.nulled_fields,
        "evidence_checked": result.evidence_checked,
        "evidence_grounded": result.evidence_grounded,
        "result_json": result.output.model_dump_json() if result.output is not None else None,
        "raw_text": result.raw_text_of_failure,
        **_answer_bill(result),
    }


def _answer_bill(result: RecordResult) -> dict[str, Any]:
    """What the record's answer cost when it was bought, whichever run paid: all null when
    there is no complete answer (a failure's spend is in this run's columns only)."""
    answered = result.answer_pricing is not None
    return {
        "answer_input_tokens": result.answer_input_tokens if answered else None,
        "answer_output_tokens": result.answer_output_tokens if answered else None,
        "answer_cost_usd": result.original_cost_usd if answered else None,
        "answer_pricing": result.answer_pricing,
    }


def pass_table(pass_number: int, results: Sequence[RecordResult]) -> pa.Table:
    """One row per record: key, the pass's flat columns, telemetry."""
    rows = []
    for result in results:
        row = {"job_posting_id": result.record_id}
        row.update(flatten_pass(pass_number, result.output))
        row.update(_telemetry(result))
        rows.append({name: _valid(value) for name, value in row.items()})
    return pa.Table.from_pylist(rows, schema=pass_table_schema(pass_number))


def _valid(value: Any) -> Any:
    """A value Arrow can write: strings (also in lists) made valid Unicode (``valid_text``),
    so one lone surrogate never costs the partition its table."""
    if isinstance(value, str):
        return valid_text(value)
    if isinstance(value, list):
        return [valid_text(v) if isinstance(v, str) else v for v in value]
    return value


def outputs_from_table(pass_number: int, table: pa.Table, *, usable_only: bool = True) -> dict[str, Contract | None]:
    """Rebuild a pass's contract objects by record id, as context for the next pass.

    With ``usable_only`` a partial or failed answer gives None: later passes do not build
    on an answer that is known to be incomplete.
    """
    model = PASS_MODELS[pass_number]
    ids = table.column("job_posting_id").to_pylist()
    payloads = table.column("result_json").to_pylist()
    success = table.column("success").to_pylist()
    outputs: dict[str, Contract | None] = {}
    for record_id, payload, ok in zip(ids, payloads, success, strict=True):
        if payload is None or (usable_only and not ok):
            outputs[record_id] = None
        else:
            outputs[record_id] = model.model_validate_json(payload)
    return outputs


def summarize_pass(pass_number: int, table: pa.Table) -> dict[str, float | int]:
    """Numeric per-partition metadata of a pass table, for the UI's plots."""
    tally = PassTally(pass_number)
    tally.add(table)
    return tally.metadata()


def column_total(table: pa.Table, column: str) -> float:
    """The sum of a numeric or boolean column, nulls as 0, in Arrow (no row objects); 0 for a
    column the table lacks (a check that needs it names it)."""
    if column not in table.column_names:
        return 0
    return pc.sum(table.column(column)).as_py() or 0


class PassTally:
    """:func:`summarize_pass` added up a chunk at a time (a streamed partition's metadata)."""

    SUMMED = ("input_tokens", "output_tokens", "cost_usd", "attempts", "evidence_checked", "evidence_grounded")

    def __init__(self, pass_number: int) -> None:
        self.pass_number = pass_number
        self.records = 0
        self.status: Counter[str] = Counter()
        self.sums: dict[str, float] = dict.fromkeys(self.SUMMED, 0)
        self.cache_hits = 0
        self.confidence_sum, self.confidence_rows = 0.0, 0

    def add(self, table: pa.Table) -> None:
        self.records += table.num_rows
        self.status.update(table.column("status").to_pylist())
        for name in self.SUMMED:
            self.sums[name] += column_total(table, name)
        self.cache_hits += int(column_total(table, "cache_hit"))
        if self.pass_number in (2, 3):
            for row in table.to_pylist():
                if (confidence := average_confidence(self.pass_number, row)) is not None:
                    self.confidence_sum += confidence
                    self.confidence_rows += 1

    def metadata(self) -> dict[str, float | int]:
        n, checked = self.records, self.sums["evidence_checked"]
        summary: dict[str, float | int] = {
            "records": n,
            "success": self.status["complete"],
            "partial": self.status["partial"],
            "failed": self.status["failed"],
            "skipped": self.status["skipped"],
            "success_rate": round(self.status["complete"] / n, 4) if n else 1.0,
            "input_tokens": int(self.sums["input_tokens"]),
            "output_tokens": int(self.sums["output_tokens"]),
            "cost_usd": round(self.sums["cost_usd"], 6),
            "cache_hits": self.cache_hits,
            "model_calls": int(self.sums["attempts"]),
            "evidence_grounded_share": round(self.sums["evidence_grounded"] / checked, 4) if checked else 1.0,
        }
        if self.pass_number in (2, 3):
            summary["avg_confidence"] = (round(self.confidence_sum / self.confidence_rows, 4)
                                         if self.confidence_rows else 0.0)
        return summary


def _has_value(value: Any) -> bool:
    return value not in (None, [], {}, vocab.NOT_MENTIONED)


@cache
def _confidence_columns(pass_number: int) -> tuple[tuple[str, str], ...]:
    """(value column, its confidence column) of every field of pass ``pass_number``."""
    return tuple((spec.name, f"{spec.name}_confidence") for spec in pass_columns(pass_number)
                 if spec.part == "value")


def _confidences(pass_number: int, row: Mapping[str, Any]) -> list[tuple[str, float]]:
    pairs = []
    for name, confidence_column in _confidence_columns(pass_number):
        confidence = row.get(confidence_column)
        if confidence is not None and _has_value(row.get(name)):
            pairs.append((name, float(confidence)))
    return pairs


def average_confidence(pass_number: int, row: Mapping[str, Any]) -> float | None:
    """Mean confidence of the fields that carry a value; None when none does."""
    return _mean_confidence(_confidences(pass_number, row))


def _mean_confidence(pairs: Sequence[tuple[str, float]]) -> float | None:
    # fsum, not statistics.mean: the same value to 4 places, without mean's exact fractions
    # (a fifth of silver_ai's build time for rows of ~350 columns).
    return round(fsum(c for _, c in pairs) / len(pairs), 4) if pairs else None


def build_silver_ai(
    batch: SilverBatch,
    pass_tables: Mapping[int, pa.Table],
    enriched_at: dt.datetime | None = None,
) -> pa.Table:
    """Silver columns + every pass's columns + metadata, one row per Silver record."""
    enriched_at = enriched_at or dt.datetime.now(dt.UTC)
    by_id = {n: {row["job_posting_id"]: row for row in t.to_pylist()} for n, t in pass_tables.items()}
    silver_rows = batch.table.to_pylist()
    rows = []
    for silver in silver_rows:
        record_id = silver["job_posting_id"]
        row = dict(silver)
        passes = {n: by_id[n].get(record_id) for n in (1, 2, 3)}
        for n in (1, 2, 3):
            values = passes[n] or {}
            row.update({c.name: values.get(c.name) for c in pass_columns(n)} if values else empty_row(n))
        row.update(_metadata(passes, row, enriched_at))
        rows.append(row)
    return pa.Table.from_pylist(rows, schema=silver_ai_schema())


def _metadata(passes: Mapping[int, dict[str, Any] | None], row: Mapping[str, Any], enriched_at: dt.datetime) -> dict[str, Any]:
    errors = {}
    for n, values in passes.items():
        if values is None:
            errors[f"pass{n}"] = {"error_class": "missing", "message": "no pass row", "attempts": 0}
        elif not values["success"]:
            errors[f"pass{n}"] = {"error_class": values["error_class"] or values["status"],
                                  "message": values["error_message"], "attempts": values["attempts"]}
    confidences = {n: _confidences(n, row) for n in (2, 3)}
    low = [name for n in (2, 3) for name, c in confidences[n] if c < LOW_CONFIDENCE]
    total = lambda key: sum((v or {}).get(key) or 0 for v in passes.values())  # noqa: E731
    versions = ";".join(f"p{n}={(passes[n] or {}).get('prompt_version') or '-'}" for n in (1, 2, 3))
    meta = {
        "enriched_at": enriched_at,
        "enrichment_version": f"schema={SCHEMA_VERSION};{versions}",
        "enrichment_errors": json.dumps(errors, sort_keys=True) if errors else None,
        "enrichment_input_tokens": total("input_tokens"),
        "enrichment_output_tokens": total("output_tokens"),
        "enrichment_cost_usd": round(total("cost_usd"), 8),
        "avg_confidence_pass2": _mean_confidence(confidences[2]),
        "avg_confidence_pass3": _mean_confidence(confidences[3]),
        "low_confidence_fields": low,
        "evidence_checked": sum((passes[n] or {}).get("evidence_checked") or 0 for n in (2, 3)),
        "evidence_grounded": sum((passes[n] or {}).get("evidence_grounded") or 0 for n in (2, 3)),
    }
    for n in (1, 2, 3):
        values = passes[n] or {}
        meta[f"enrichment_model_pass{n}"] = values.get("model_id")
        meta[f"pass{n}_success"] = bool(values.get("success"))
        meta[f"prompt_version_pass{n}"] = values.get("prompt_version")
        meta[f"cache_hit_pass{n}"] = bool(values.get("cache_hit"))
        meta.update(_answer_metadata(n, values))
    return meta


def _answer_metadata(n: int, values: Mapping[str, Any]) -> dict[str, Any]:
    """Pass ``n``'s answer bill from its pass-table row: null when the pass has no
    complete answer, or when the row was written before the answer columns existed
    (re-materializing the passes fills them from the cache, for free)."""
    pricing = values.get("answer_pricing") if values.get("success") else None
    return {
        f"pass{n}_pricing": pricing,
        f"pass{n}_answer_input_tokens": values.get("answer_input_tokens") if pricing else None,
        f"pass{n}_answer_output_tokens": values.get("answer_output_tokens") if pricing else None,
        f"pass{n}_answer_cost_usd": values.get("answer_cost_usd") if pricing else None,
    }
