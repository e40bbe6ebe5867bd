"""Every silver_ai check passes on good data and fails on data made to fail it."""

import datetime as dt

import pyarrow as pa
import pytest
from dagster import AssetCheckSeverity

from enrichment_dagster import checks
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.contracts.output import silver_ai_schema

T = QualityThresholds()


def _good(n: int = 20) -> pa.Table:
    rows = []
    for i in range(n):
        rows.append({
            "job_posting_id": str(i),
            "pass1_success": True, "pass2_success": True, "pass3_success": True,
            "avg_confidence_pass2": 0.85, "avg_confidence_pass3": 0.7,
            "enrichment_cost_usd": 0.001, "evidence_checked": 10, "evidence_grounded": 10,
            "pass1_answer_cost_usd": 0.0003, "pass2_answer_cost_usd": 0.0003,
            "pass3_answer_cost_usd": 0.0004,
            "enriched_at": dt.datetime(2025, 12, 10, tzinfo=dt.UTC), "low_confidence_fields": [],
        })
    return pa.Table.from_pylist(rows, schema=silver_ai_schema())


def _with(table: pa.Table, column: str, values: list) -> pa.Table:
    index = table.schema.get_field_index(column)
    return table.set_column(index, table.schema.field(column), pa.array(values, table.schema.field(column).type))


def _by_name(table: pa.Table, ids: list[str] | None = None) -> dict:
    ids = ids if ids is not None else table.column("job_posting_id").to_pylist()
    return {r.check_name: r for r in checks.evaluate(ids, checks.PartitionStats.of(table), T)}


def test_every_check_passes_on_good_data() -> None:
    results = _by_name(_good())
    assert set(results) == {spec.name for spec in checks.CHECK_SPECS}
    assert all(r.passed for r in results.values()), {k: r.metadata for k, r in results.items() if not r.passed}


def test_completeness_fails_on_missing_and_duplicate_ids() -> None:
    table = _good()
    assert not _by_name(table, [str(i) for i in range(21)])["completeness"].passed
    duplicated = pa.concat_tables([table, table.slice(0, 1)])
    result = _by_name(duplicated, [str(i) for i in range(20)])["completeness"]
    assert not result.passed and result.metadata["duplicate_ids"].value == 1
    assert result.severity == AssetCheckSeverity.ERROR


def test_schema_fails_on_a_missing_column() -> None:
    table = _good().drop_columns(["anl_summary_overall_assessment"])
    result = checks.schema(checks.PartitionStats.of(table))
    assert not result.passed and "anl_summary_overall_assessment" in result.metadata["mismatched"].value


@pytest.mark.parametrize("failures, passed, severity", [
    (1, True, AssetCheckSeverity.WARN),    # 95% -> at the threshold
    (2, False, AssetCheckSeverity.WARN),   # 90%
    (5, False, AssetCheckSeverity.ERROR),  # 75% < 80%
])
def test_success_rate_warns_then_errors(failures: int, passed: bool, severity) -> None:
    table = _with(_good(), "pass2_success", [i >= failures for i in range(20)])
    result = _by_name(table)["pass2_success_rate"]
    assert result.passed is passed and result.severity == severity
    assert result.metadata["warn_below"].value == 0.95


def test_confidence_cost_and_grounding_fail_below_their_thresholds() -> None:
    table = _with(_good(), "avg_confidence_pass2", [0.5] * 20)
    assert not _by_name(table)["avg_confidence"].passed
    table = _with(_good(), "pass3_answer_cost_usd", [0.0094] * 20)
    result = _by_name(table)["cost_per_record"]
    assert not result.passed and result.metadata["cost_per_record_usd"].value == 0.01
    # Served from the cache this run ($0 spent), the answers still cost what they cost.
    table = _with(table, "enrichment_cost_usd", [0.0] * 20)
    result = _by_name(table)["cost_per_record"]
    assert not result.passed and result.metadata["run_cost_usd"].value == 0.0
    table = _with(_good(), "evidence_grounded", [5] * 20)
    result = _by_name(table)["evidence_grounding"]
    assert not result.passed and result.metadata["grounded_share"].value == 0.5


def test_a_posting_without_text_is_counted_not_held_against_the_rate() -> None:
    blank = '{"pass1": {"error_class": "no_posting_text"}, "pass2": {"error_class": "upstream_failed"}}'
    table = _good()
    for column in ("pass1_success", "pass2_success", "pass3_success"):
        table = _with(table, column, [i >= 2 for i in range(20)])
    table = _with(table, "enrichment_errors", [blank, blank] + [None] * 18)
    results = _by_name(table)
    for n in (1, 2, 3):
        result = results[f"pass{n}_success_rate"]
        assert result.passed and result.metadata["success_rate"].value == 1.0
        assert result.metadata["no_posting_text"].value == 2
        assert result.metadata["records_asked"].value == 18
    # A model failure still counts: one more record failed out of the 18 asked.
    table = _with(table, "pass2_success", [i >= 3 for i in range(20)])
    assert _by_name(table)["pass2_success_rate"].metadata["success_rate"].value == round(17 / 18, 4)
