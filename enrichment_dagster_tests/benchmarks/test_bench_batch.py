"""The batch backfill benchmark, quick form: nothing lost, nothing paid twice."""

from __future__ import annotations

from enrichment_dagster_tests.benchmarks.bench_batch import BatchBenchConfig, run_batch_benchmark
from enrichment_dagster_tests.fakes.s3 import MotoS3


def test_quick_batch_backfill_loses_nothing_and_pays_once(moto_s3: MotoS3) -> None:
    config = BatchBenchConfig.quick()
    report = run_batch_benchmark(config, moto_s3.endpoint_url, moto_s3.storage_uri("bbatch"))
    assert report["records"] == report["silver_ai_rows"] == 300
    assert report["records_lost"] == 0
    assert report["paid_twice"] == 0 and report["max_billed_per_key"] == 1
    assert "PartiallyCompleted" in report["batch_job_states"]
    assert report["batch_errors"] > 0 and report["batch_missing"] > 0
    # Everything the batch did not answer went on-demand, exactly once each.
    assert report["on_demand_fallbacks"] == report["batch_errors"] + report["batch_missing"]
    assert report["batch_answered"] + report["on_demand_fallbacks"] == 3 * 300
    # Batch answers cost half; the fallbacks keep the ratio a little above it.
    assert 0.5 <= report["cost_ratio"] < 0.6
