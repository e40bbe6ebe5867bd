"""Data-quality checks of silver_ai, evaluated per partition with every materialization.

They are check specs of the silver_ai asset, evaluated in the same step from the chunks
just built (:class:`PartitionStats`, no second read), and partitioned like the asset:
without a partitions_def Dagster 1.13 plans the check for the partition but records its
evaluation without one, so the UI showed every partition's check as skipped. Partitioned
check specs are a preview feature in 1.13; the warning is silenced here on purpose. The
evaluation is plain functions over those sums, tested without Dagster. Each result's
metadata shows the measured value and its threshold.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator, Sequence

import pyarrow as pa
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    ConfigurableResource,
    PreviewWarning,
)

from enrichment_dagster.contracts.output import silver_ai_schema
from enrichment_dagster.contracts.silver import normalize_posting_id
from enrichment_dagster.engine.results import NO_POSTING_TEXT
from enrichment_dagster.engine.tables import column_total
from enrichment_dagster.partitions import hourly_partitions


class QualityThresholds(ConfigurableResource):
    """Thresholds of the silver_ai checks (the old system's published targets by default)."""

    success_rate_warn: float = 0.95
    success_rate_error: float = 0.80
    avg_confidence_pass2: float = 0.70
    avg_confidence_pass3: float = 0.60
    max_cost_per_record_usd: float = 0.002
    min_grounded_share: float = 0.90
    #: Tests only: checks made to fail whatever the data (proves that blocking blocks).
    force_fail: list[str] = []


ASSET = "silver_ai"
_CHECKS = {
    "completeness": "silver_ai holds exactly the Silver records; job_posting_id unique",
    "schema": "columns and types as the contract says",
    **{f"pass{n}_success_rate": f"share of records whose pass {n} succeeded" for n in (1, 2, 3)},
    "avg_confidence": "mean self-reported confidence, passes 2 and 3",
    "cost_per_record": "model cost per record in this run",
    "evidence_grounding": "share of evidence strings found verbatim in the posting",
}
with warnings.catch_warnings():  # exactly the preview warning of the intended partitions_def
    warnings.filterwarnings("ignore", message="Specifying a partitions_def on an AssetCheckSpec",
                            category=PreviewWarning)
    CHECK_SPECS = [
        AssetCheckSpec(name, asset=ASSET, description=description, blocking=name == "completeness",
                       partitions_def=hourly_partitions)
        for name, description in _CHECKS.items()
    ]


def _result(name: str, passed: bool, severity: AssetCheckSeverity, **metadata: float | int | str) -> AssetCheckResult:
    return AssetCheckResult(check_name=name, asset_key=ASSET, passed=passed, severity=severity,
                            metadata=metadata)


class PartitionStats:
    """What the checks need of one silver_ai partition, added up a chunk at a time.

    A streamed partition is never one table in memory; these running sums, and the ids
    (for completeness), are all the checks read, so a check of 50,000 rows holds no row.
    """

    def __init__(self) -> None:
        self.rows = 0
        self.ids: list[str] = []
        self.mismatched: dict[str, None] = {}
        self.unexpected: dict[str, None] = {}
        self.columns = 0
        self.no_posting_text = 0
        self.success = dict.fromkeys((1, 2, 3), 0)  # among the records that could be asked
        self.success_all = dict.fromkeys((1, 2, 3), 0)
        self.confidence = {2: [0.0, 0], 3: [0.0, 0]}  # sum, count
        self.answers_cost = 0.0
        self.run_cost = 0.0
        self.input_tokens = self.output_tokens = 0
        self.evidence_checked = self.evidence_grounded = 0

    @classmethod
    def of(cls, table: pa.Table) -> PartitionStats:
        stats = cls()
        stats.add(table)
        return stats

    def add(self, table: pa.Table) -> None:
        expected = silver_ai_schema()
        self.columns = table.num_columns
        # Types by name, built once: ``schema.names`` and ``schema.field`` build or search
        # a list on every call, quadratic over ~350 columns.
        types = dict(zip(table.schema.names, table.schema.types, strict=True))
        self.mismatched.update((f.name, None) for f in expected
                               if f.name not in types or not types[f.name].equals(f.type))
        expected_names = set(expected.names)
        self.unexpected.update((n, None) for n in types if n not in expected_names)
        self.rows += table.num_rows
        self.ids += table.column("job_posting_id").to_pylist()
        blank = _without_posting_text(table)
        self.no_posting_text += sum(blank)
        for n in (1, 2, 3):
            flags = [bool(v) for v in _values(table, f"pass{n}_success")]
            self.success_all[n] += sum(flags)
            self.success[n] += sum(f for f, b in zip(flags, blank, strict=True) if not b)
        for n in (2, 3):
            column = f"avg_confidence_pass{n}"
            self.confidence[n][0] += column_total(table, column)
            if column in table.column_names:
                self.confidence[n][1] += table.num_rows - table.column(column).null_count
        self.answers_cost += sum(column_total(table, f"pass{n}_answer_cost_usd") for n in (1, 2, 3))
        self.run_cost += column_total(table, "enrichment_cost_usd")
        self.input_tokens += int(column_total(table, "enrichment_input_tokens"))
        self.output_tokens += int(column_total(table, "enrichment_output_tokens"))
        self.evidence_checked += int(column_total(table, "evidence_checked"))
        self.evidence_grounded += int(column_total(table, "evidence_grounded"))

    def mean_confidence(self, pass_number: int) -> float | None:
        total, count = self.confidence[pass_number]
        return total / count if count else None


def _values(table: pa.Table, column: str) -> list:
    """A column's values; a column the table lacks (the schema check names it) reads as nulls."""
    if column not in table.column_names:
        return [None] * table.num_rows
    return table.column(column).to_pylist()


def completeness(silver_ids: list[str], stats: PartitionStats, invalid_rows: int = 0,
                 stored_rows: int | None = None, skipped_rows: int = 0) -> AssetCheckResult:
    """silver_ai holds each Silver id once and nothing else.

    ``silver_ids`` come from the Silver files in storage (``storage_silver_ids``); an id may
    be missing only if as many Silver rows were reported invalid (a row whose other fields
    fail the contract is skipped with a log line and counted in ``invalid_rows``).
    With ``stored_rows`` (the Silver rows in storage, counted from the Parquet footers by
    ``engine.tables.count_silver_rows``), every stored row must also be accounted for:
    silver_ai rows + rows skipped with a named reason (``skipped_rows``: duplicate ids,
    invalid rows) = stored rows, so no row can vanish between storage and silver_ai.
    """
    ids = stats.ids
    distinct = set(ids)
    missing = set(silver_ids) - distinct
    extra = distinct - set(silver_ids)
    duplicates = len(ids) - len(distinct)
    passed = len(missing) <= invalid_rows and not extra and duplicates == 0
    counts: dict[str, int] = {}
    if stored_rows is not None:
        unaccounted = stored_rows - len(ids) - skipped_rows
        passed = passed and unaccounted == 0
        counts = {"silver_rows_in_storage": stored_rows, "rows_skipped_with_reason": skipped_rows,
                  "rows_unaccounted": unaccounted}
    return _result("completeness", passed, AssetCheckSeverity.ERROR, silver_records=len(silver_ids),
                   silver_ai_rows=len(ids), missing=len(missing), unexpected=len(extra),
                   duplicate_ids=duplicates, invalid_rows=invalid_rows, **counts)


def schema(stats: PartitionStats) -> AssetCheckResult:
    mismatched, extra = list(stats.mismatched), list(stats.unexpected)
    return _result("schema", not mismatched and not extra, AssetCheckSeverity.ERROR,
                   expected_columns=len(silver_ai_schema()), actual_columns=stats.columns,
                   mismatched=", ".join(mismatched[:20]) or "none", unexpected=", ".join(extra[:20]) or "none")


def _without_posting_text(table: pa.Table) -> list[bool]:
    """Per row: the record had no posting text, so no pass was asked (``no_posting_text``)."""
    return [bool(e) and json.loads(e).get("pass1", {}).get("error_class") == NO_POSTING_TEXT
            for e in _values(table, "enrichment_errors")]


def success_rates(stats: PartitionStats, t: QualityThresholds) -> Iterator[AssetCheckResult]:
    """Share of the records that could be asked whose pass succeeded. A posting without text
    is an input problem, not the enrichment's: it stays failed in silver_ai and is counted in
    ``no_posting_text``, but it does not lower the rate (a blank posting upstream would
    otherwise turn every check of its partition red)."""
    asked = stats.rows - stats.no_posting_text
    for n in (1, 2, 3):
        rate = stats.success[n] / asked if asked else 1.0
        severity = AssetCheckSeverity.ERROR if rate < t.success_rate_error else AssetCheckSeverity.WARN
        yield _result(f"pass{n}_success_rate", rate >= t.success_rate_warn, severity,
                      success_rate=round(rate, 4), warn_below=t.success_rate_warn,
                      error_below=t.success_rate_error, records_asked=asked,
                      no_posting_text=stats.no_posting_text)


def avg_confidence(stats: PartitionStats, t: QualityThresholds) -> AssetCheckResult:
    p2, p3 = stats.mean_confidence(2), stats.mean_confidence(3)
    passed = (p2 is None or p2 >= t.avg_confidence_pass2) and (p3 is None or p3 >= t.avg_confidence_pass3)
    return _result("avg_confidence", passed, AssetCheckSeverity.WARN,
                   pass2=round(p2, 4) if p2 is not None else "no values", pass2_min=t.avg_confidence_pass2,
                   pass3=round(p3, 4) if p3 is not None else "no values", pass3_min=t.avg_confidence_pass3)


def cost_per_record(stats: PartitionStats, t: QualityThresholds) -> AssetCheckResult:
    """What the partition's answers cost per record, whichever run paid for them and at
    which price (on demand or batch): a rerun served from the cache, or a backfill answered
    by batch, would otherwise show $0 and pass whatever the answers cost."""
    per_record = stats.answers_cost / stats.rows if stats.rows else 0.0
    return _result("cost_per_record", per_record <= t.max_cost_per_record_usd, AssetCheckSeverity.WARN,
                   cost_per_record_usd=round(per_record, 6), max_usd=t.max_cost_per_record_usd,
                   answers_cost_usd=round(stats.answers_cost, 6),
                   run_cost_usd=round(stats.run_cost, 6))


def evidence_grounding(stats: PartitionStats, t: QualityThresholds) -> AssetCheckResult:
    checked, grounded = stats.evidence_checked, stats.evidence_grounded
    share = grounded / checked if checked else 1.0
    return _result("evidence_grounding", share >= t.min_grounded_share, AssetCheckSeverity.WARN,
                   grounded_share=round(share, 4), min_share=t.min_grounded_share,
                   evidence_checked=checked, evidence_grounded=grounded)


def evaluate(silver_ids: list[str], stats: PartitionStats, thresholds: QualityThresholds,
             invalid_rows: int = 0, stored_rows: int | None = None,
             skipped_rows: int = 0) -> list[AssetCheckResult]:
    """Every check of one silver_ai partition, in the order of CHECK_SPECS."""
    results = [
        completeness(silver_ids, stats, invalid_rows, stored_rows, skipped_rows),
        schema(stats),
        *success_rates(stats, thresholds),
        avg_confidence(stats, thresholds),
        cost_per_record(stats, thresholds),
        evidence_grounding(stats, thresholds),
    ]
    return [_forced_failure(r) if r.check_name in thresholds.force_fail else r for r in results]


def _forced_failure(result: AssetCheckResult) -> AssetCheckResult:
    return AssetCheckResult(check_name=result.check_name, asset_key=ASSET, passed=False,
                            severity=AssetCheckSeverity.ERROR, description="forced to fail (test hook)",
                            metadata=dict(result.metadata))


BLOCKING = {spec.name for spec in CHECK_SPECS if spec.blocking}


def blocks(result: AssetCheckResult) -> bool:
    """A failed ERROR-severity blocking check: its partition must not be written."""
    return result.check_name in BLOCKING and not result.passed and result.severity == AssetCheckSeverity.ERROR


def storage_silver_ids(silver_files: Sequence[pa.Table]) -> list[str]:
    """The distinct usable ids of a Silver partition as stored, for completeness.

    ``silver_files``: the id column of each Silver file (``tables.read_silver_ids``), read
    from storage for this check, not taken from the prepared batch silver_ai was built from,
    so a record lost between reading and writing shows up as missing. Each file is taken on
    its own, so two files that disagree on the id's type never need a common one. Ids are
    normalised as the contract normalises them (``5001.0`` is ``5001``); rows without a
    usable id cannot be keyed and are reported by the assets' ``invalid_rows`` metadata.
    """
    distinct: dict[str, None] = {}
    for raw_silver in silver_files:
        if "job_posting_id" not in raw_silver.column_names:
            continue
        column = raw_silver.column("job_posting_id")
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            column = column.cast(pa.large_binary())
        for raw in column.to_pylist():
            try:
                value = raw.decode("utf-8") if isinstance(raw, bytes) else raw
                distinct.setdefault(normalize_posting_id(value), None)
            except (UnicodeDecodeError, ValueError):
                continue
    return list(distinct)
