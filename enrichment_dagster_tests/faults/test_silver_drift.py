"""Silver type drift, vanishing rows and postings without text (docs/faults.md, part 1).

Each class is fixed at its mechanism: every value is fitted to the contract value by value
when a vectorised cast cannot (``contracts.drift``), files are read recursively with INT96
at microseconds, completeness counts the rows in storage from the footers, and a record
without posting text is never sent. Runs go through enrich_job in process.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster.checks import PartitionStats, completeness
from enrichment_dagster.contracts.drift import coerce_column
from enrichment_dagster.engine.tables import count_silver_rows
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import list_partitions
from enrichment_dagster_tests.faults.harness import (
    KEY,
    defs_for,
    read_output,
    run_job,
    silver_folder,
    silver_row,
    silver_table,
    write_silver,
)


def test_drifted_values_are_coerced_or_nulled_value_by_value() -> None:
    cases = [
        (pa.array([" 95,000 ", "7.5e4", "negotiable"]), pa.float64(), [95000.0, 75000.0, None]),
        (pa.array([200, 5_000_000_000], pa.int64()), pa.int32(), [200, None]),
        (pa.array([25.0, 2.5]), pa.int32(), [25, None]),
        (pa.array(["Y", "off?", "FALSE"]), pa.bool_(), [True, None, False]),
        (pa.array(["Kafka", '["a", "b"]']), pa.list_(pa.string()), [["Kafka"], ["a", "b"]]),
        (pa.array(["2025-12-11T09:15:00+02:00", "noon"]), pa.timestamp("us"),
         [dt.datetime(2025, 12, 11, 7, 15), None]),
        (pa.array([{"k": 1}]), pa.string(), ['{"k": 1}']),
        (pa.array([3_000_000], pa.date32()), pa.date32(), [None]),
    ]
    for array, target, expected in cases:
        out, notes = coerce_column(array, target)
        assert out.type == target and out.to_pylist() == expected, (array, notes)
        assert all(index in notes for index, v in enumerate(expected) if v is None)


def test_drift_sentinels_and_sub_folders_keep_every_row(tmp_path: Path) -> None:
    """Three part files that disagree on types (strings for numbers and timestamps, a
    zoned timestamp, a plain string in a list column), INT96 sentinel dates, and a file in
    a sub-folder: every row reaches silver_ai, bad values are nulled with a note naming
    file, row and column, and completeness counts the rows in storage."""
    us_schema = pa.schema([f.with_type(pa.timestamp("us")) if pa.types.is_timestamp(f.type) else f
                           for f in silver_table([]).schema])
    write_silver(tmp_path, pa.Table.from_pylist([
        silver_row("9101", scraped_at=dt.datetime(9999, 12, 31, 23, 59, 59)),
        silver_row("9102", scraped_at=dt.datetime(1, 1, 1)),
    ], schema=us_schema))  # INT96, as Spark 3.3 writes it
    drifted = pa.table({
        "job_posting_id": pa.array([9103, 9104], pa.int64()),
        "job_description_text": [silver_row("x")["job_description_text"]] * 2,
        "salary_min": [" 130000 ", "a lot"],
        "scraped_at": pa.array([0, 1], pa.timestamp("us", tz="+01:00")),
        "job_num_applicants": pa.array([4_000_000_000, 30], pa.int64()),
        "skills_canonical": ["Kafka", "Go"],
    })
    pq.write_table(drifted, silver_folder(tmp_path) / "part-00001-drift.parquet")
    late = silver_folder(tmp_path) / "late"
    late.mkdir()
    pq.write_table(silver_table([silver_row("9105")]), late / "part-00002-late.parquet")
    (late / "_SUCCESS").write_bytes(b"")

    run = run_job(defs_for(tmp_path))

    assert run.success
    out = read_output(tmp_path, "silver_ai")
    assert sorted(out) == ["9101", "9102", "9103", "9104", "9105"]
    assert out["9101"]["scraped_at"] == dt.datetime(9999, 12, 31, 23, 59, 59)
    assert out["9102"]["scraped_at"] == dt.datetime(1, 1, 1)
    assert out["9103"]["salary_min"] == 130000.0 and out["9104"]["salary_min"] is None
    assert out["9103"]["job_num_applicants"] is None and out["9104"]["job_num_applicants"] == 30
    assert out["9103"]["skills_canonical"] == ["Kafka"]
    assert all(out[i]["pass1_success"] for i in out)
    logs = " ".join(run.log_messages())
    assert "part-00001-drift.parquet row 1 (id 9104): " in logs
    assert "salary_min: 'a lot' nulled: not a number" in logs
    assert "job_num_applicants: 4000000000 nulled" in logs
    assert run.metadata("pass1")["repaired_rows"] == 2
    assert run.checks()["completeness"]
    root = StorageRoot(str(tmp_path))
    assert count_silver_rows(root, KEY) == 5
    assert list(list_partitions(root, "silver")) == [KEY]


def test_completeness_fails_when_a_stored_row_is_unaccounted_for() -> None:
    table = pa.table({"job_posting_id": ["1", "2"]})
    assert completeness(["1", "2"], PartitionStats.of(table), stored_rows=3, skipped_rows=1).passed
    failed = completeness(["1", "2"], PartitionStats.of(table), stored_rows=3, skipped_rows=0)
    assert not failed.passed and failed.metadata["rows_unaccounted"].value == 1


def test_html_fallback_and_records_without_text_are_not_sent(tmp_path: Path) -> None:
    """No description text but HTML: enriched from the HTML text (the salary in it is
    read). No text and no HTML with words: ``no_posting_text`` in every pass, 0 attempts,
    not cached, and the same on a rerun."""
    html = "<div><p>Data Engineer, Python.</p><ul><li>Pay: $130,000 &ndash; $150,000 per year</li></ul></div>"
    write_silver(tmp_path, silver_table([
        silver_row("9201", job_description_text=None, job_description_html=html),
        silver_row("9202", job_description_text="  ", job_description_html="<p>&nbsp;<br/></p>"),
        silver_row("9203", job_description_text=None, job_description_html=None),
        silver_row("9204"),
    ]))

    for _ in range(2):
        run = run_job(defs_for(tmp_path))
        assert run.success
        out = read_output(tmp_path, "silver_ai")
        assert sorted(out) == ["9201", "9202", "9203", "9204"]
        assert out["9201"]["pass3_success"] and out["9201"]["ext_salary_min"] == 130000.0
        for record_id in ("9202", "9203"):
            errors = json.loads(out[record_id]["enrichment_errors"])
            assert {e["error_class"] for e in errors.values()} == {"no_posting_text"}
            p1 = read_output(tmp_path, "pass1")[record_id]
            assert (p1["status"], p1["attempts"], p1["cache_hit"]) == ("failed", 0, False)
        assert run.checks()["completeness"]
