"""Every Gold figure checked against a second, independent computation over silver_ai.

The expected values are computed here in plain Python over the silver_ai Parquet files
(pyarrow reads each file; no DuckDB, no SQL, none of the Gold code's helpers), so a wrong
filter, join or quantile in the Gold SQL shows up as a difference.
"""

from __future__ import annotations

import datetime as dt
import json
import statistics
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from enrichment_dagster.gold.store import read_gold
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.gold.conftest import DAY, FAILED_ID, GoldRun

PERIOD_FACTOR = {"yearly": 1, "monthly": 12, "weekly": 52, "daily": 260, "hourly": 2080}


def silver_ai_rows(root: Path, day: dt.date) -> list[dict[str, Any]]:
    folder = root / "silver_ai" / f"year={day:%Y}" / f"month={day:%m}" / f"day={day:%d}"
    rows = []
    for file in sorted(folder.glob("hour=*/*.parquet")):
        rows.extend(pq.read_table(file).to_pylist())
    return rows


def gold(run: GoldRun, asset: str, day: dt.date = DAY) -> list[dict[str, Any]]:
    table = read_gold(StorageRoot(str(run.root)), asset, day)
    assert table is not None, f"no {asset} partition for {day}"
    return table.to_pylist()


def test_sample_covers_the_edge_cases(gold_run: GoldRun) -> None:
    rows = silver_ai_rows(gold_run.root, DAY)
    failed = {r["job_posting_id"]: r for r in rows if not r["pass1_success"]}
    assert FAILED_ID in failed
    errors = json.loads(failed[FAILED_ID]["enrichment_errors"])
    assert errors["pass1"]["error_class"] == "invalid_request"
    salary = gold(gold_run, "salary_benchmarks")
    assert any(c["suppressed"] and c["median"] is None and c["n"] < 3 for c in salary)
    assert any(not c["suppressed"] and c["median"] is not None for c in salary)
    assert sum(c["n_from_hourly"] for c in salary if c["level"] == "seniority") >= 1
    assert len({c["currency"] for c in salary}) >= 2


def test_left_out_records_are_counted_with_their_reason(gold_run: GoldRun) -> None:
    rows = silver_ai_rows(gold_run.root, DAY)
    reasons: Counter[str] = Counter()
    for r in rows:
        if not r["pass1_success"]:
            error = json.loads(r["enrichment_errors"])["pass1"]["error_class"]
            reasons[f"pass1 failed: {error}"] += 1
    assert reasons["pass1 failed: invalid_request"] == 1
    for asset in ("skills_demand", "salary_benchmarks", "career_pathways"):
        meta = gold_run.metadata[asset]
        assert meta["records_read"].value == len(rows) == 45
        assert meta["records_left_out"].value == sum(reasons.values())
        assert meta["records_used"].value == len(rows) - sum(reasons.values())
        assert meta["silver_ai_partitions"].value == 3
        for reason, count in reasons.items():
            assert f"| {reason} | {count} |" in meta["left_out"].value, asset


def test_median_annual_salary_by_seniority_equals_an_independent_computation(
        gold_run: GoldRun) -> None:
    pay: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in silver_ai_rows(gold_run.root, DAY):
        if not (r["pass1_success"] and r["pass2_success"]):
            continue
        if not r["ext_salary_disclosed"] or r["ext_salary_min"] is None:
            continue
        if r["ext_salary_currency"] is None or r["ext_salary_period"] not in PERIOD_FACTOR:
            continue
        high = r["ext_salary_max"] if r["ext_salary_max"] is not None else r["ext_salary_min"]
        annual = round((r["ext_salary_min"] + high) / 2 * PERIOD_FACTOR[r["ext_salary_period"]], 2)
        pay[(r["inf_seniority_level"] or "not_mentioned", r["ext_salary_currency"])].append(annual)
    expected = {key: (len(v), round(statistics.median(v), 2) if len(v) >= 3 else None)
                for key, v in pay.items()}
    actual = {(c["seniority"], c["currency"]): (c["n"], c["median"])
              for c in gold(gold_run, "salary_benchmarks") if c["level"] == "seniority"}
    assert actual == expected
    assert any(median is not None for _, median in actual.values())


def test_postings_per_skill_equal_an_independent_count(gold_run: GoldRun) -> None:
    required: Counter[str] = Counter()
    nice: Counter[str] = Counter()
    postings = 0
    for r in silver_ai_rows(gold_run.root, DAY):
        if not r["pass1_success"]:
            continue
        postings += 1
        must = (r["ext_must_have_hard_skills"] or []) + (r["ext_must_have_soft_skills"] or [])
        want = (r["ext_nice_to_have_hard_skills"] or []) + (r["ext_nice_to_have_soft_skills"] or [])
        required.update({s.strip() for s in must if s.strip()})
        nice.update({s.strip() for s in want if s.strip()})
    rows = [r for r in gold(gold_run, "skills_demand") if r["window_days"] == 1 and r["kind"] == "skill"]
    assert {r["postings"] for r in rows} == {postings}
    assert postings == gold_run.metadata["skills_demand"]["records_used"].value
    assert {r["name"]: r["required"] for r in rows if r["required"]} == dict(required)
    assert {r["name"]: r["nice_to_have"] for r in rows if r["nice_to_have"]} == dict(nice)


def test_remote_share_equals_an_independent_count(gold_run: GoldRun) -> None:
    used = [r for r in silver_ai_rows(gold_run.root, DAY) if r["pass1_success"]]
    remote = sum(1 for r in used if r["ext_work_model_stated"] == "remote")
    signals = {(r["signal"], r["value"]): r for r in gold(gold_run, "market_signals")}
    row = signals[("work_model", "remote")]
    assert (row["postings"], row["basis"]) == (remote, len(used))
    assert row["share"] == round(remote / len(used), 6)
    assert gold_run.metadata["market_signals"]["remote_share"].value == row["share"]
    shares = [r["share"] for (s, _), r in signals.items() if s == "visa_sponsorship"]
    assert sum(r["postings"] for (s, _), r in signals.items() if s == "visa_sponsorship") == len(used)
    assert all(0 <= s <= 1 for s in shares)


def test_rolling_windows_see_the_previous_day_once_per_posting(gold_run: GoldRun) -> None:
    rows = gold(gold_run, "skills_demand")
    by = {(r["window_days"], r["kind"], r["name"]): r for r in rows}
    day1 = by[(1, "skill", "Python")]
    week = by[(7, "skill", "Python")]
    # The previous day holds older copies of hour 19's postings: the day window compares
    # with them, the 7-day window counts each posting once (its latest record).
    previous = [r for r in silver_ai_rows(gold_run.root, DAY - dt.timedelta(days=1))
                if r["pass1_success"]]
    assert day1["prev_postings"] == len(previous) > 0
    assert day1["change_share"] == pytest.approx(day1["share"] - day1["prev_share"], abs=1e-6)
    assert week["postings"] == day1["postings"] and week["prev_postings"] == 0 and week["prev_share"] is None
    assert {r["window_days"] for r in rows} == {1, 7, 28}
    families = {r["name"] for r in rows if r["kind"] == "family"}
    assert "programming_languages" in families


def test_duckdb_hive_trap_and_the_readme_fix(gold_run: GoldRun) -> None:
    """hour=05 makes DuckDB's discovered ``hour`` VARCHAR; explicit hive_types keep it INTEGER."""
    glob = f"{gold_run.root}/silver_ai/**/*.parquet"
    con = duckdb.connect()
    found = con.sql(f"SELECT DISTINCT typeof(hour) FROM read_parquet('{glob}', "
                    "hive_partitioning = true)").fetchall()
    assert found == [("VARCHAR",)]
    typed = con.sql(
        f"SELECT typeof(hour), count(*) FROM read_parquet('{glob}', hive_partitioning = true, "
        "hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER, 'hour': INTEGER}) "
        "WHERE year = 2025 AND month = 12 AND day = 10 AND hour >= 19 GROUP BY 1").fetchall()
    assert typed == [("INTEGER", 45)]


def test_gold_metadata_has_schema_numbers_and_chart(gold_run: GoldRun) -> None:
    for asset, meta in gold_run.metadata.items():
        schema = meta["dagster/column_schema"].schema
        assert [c.name for c in schema.columns][0] == "day", asset
        assert meta["dagster/row_count"].value > 0
        chart = meta["chart"].value
        assert chart.startswith(f"![{asset}](data:image/svg+xml;base64,"), asset
        assert isinstance(meta["records_used"].value, int)
        path = meta["path"].value
        assert f"/gold/{asset}/day=2025-12-10/part-00000.parquet" in path
    assert isinstance(gold_run.metadata["salary_benchmarks"]["cells_suppressed"].value, int)
    assert 0 < gold_run.metadata["market_signals"]["mean_confidence_pass2"].value <= 1


def test_partitions_have_a_stable_schema(gold_run: GoldRun) -> None:
    from enrichment_dagster.gold.schemas import SCHEMAS

    for asset, schema in SCHEMAS.items():
        file = gold_run.root / "gold" / asset / "day=2025-12-10" / "part-00000.parquet"
        assert pq.read_schema(file).remove_metadata() == schema.remove_metadata(), asset
