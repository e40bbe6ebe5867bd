"""A backfill through the real daemon, loaded: the pool holds, nothing is lost (quick form)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrichment_dagster_tests.benchmarks.bench_backfill import (
    BackfillConfig,
    max_overlap,
    percentile,
    run_backfill_benchmark,
)


@pytest.mark.slow
def test_quick_backfill_holds_the_pool_and_loses_no_record(
    fresh_database: str, tmp_path: Path
) -> None:
    config = BackfillConfig.quick()
    report = run_backfill_benchmark(config, fresh_database, tmp_path)
    assert report["backfill_status"] in ("COMPLETED", "COMPLETED_SUCCESS"), report
    # Many partitions per run: ceil(N / P) partitions each, so P runs fill the pool.
    assert report["runs"] == report["runs_succeeded"] == report["runs_expected"] == config.pool
    # The pool: never more than P runs, never more than P x C calls in flight...
    assert report["pool_limit_in_instance"] == config.pool == 2
    assert report["max_concurrent_runs"] == config.pool  # ...and it was actually used
    assert report["max_in_flight"] <= config.pool * config.concurrency == 16
    # Every record sent once per pass, none throttled, none lost.
    assert report["calls"] == report["expected_calls"] == 3 * config.partitions * config.records
    assert report["max_calls_per_record"] == 3
    assert report["throttled"] == 0
    assert report["records_lost"] == 0
    for key in ("records_per_s", "run_s", "ideal_s", "ratio_to_ideal", "calls_bound_s",
                "ratio_to_calls_bound", "created_s", "queued_s"):
        assert key in report, key
    # A run's time outside its pass steps is what comes before them plus what follows.
    assert report["before_passes_s_p50"] > 0 and report["after_passes_s_p50"] > 0
    assert 0 < report["silver_ai_step_s_p50"] < report["after_passes_s_p50"]
    assert report["ratio_to_ideal"] >= 1
    assert report["run_s"]["p50"] <= report["run_s"]["p95"]


def test_overlap_and_percentiles() -> None:
    assert max_overlap([(0, 2), (1, 3), (2, 4)]) == 2  # an end at t closes before a start at t
    assert max_overlap([]) == 0
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile([float(i) for i in range(1, 21)], 95) == 19.0
    assert percentile([], 95) == 0.0
