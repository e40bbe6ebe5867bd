"""The partition benchmark's quick form: end to end through enrich_job and the sequential
baseline, the agreed keys, and not one record lost."""

from __future__ import annotations

import json

import pytest

from enrichment_dagster_tests.benchmarks import bench_partition


def test_quick_partition_benchmark_prints_the_agreed_json_and_loses_no_record(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_partition.main(["--quick", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("sequential_s", "ours_s", "speedup", "records", "calls", "latency_s",
                "ideal_s", "ratio_to_ideal", "records_lost", "ours_steps_s", "ours_checks"):
        assert key in report, key
    assert report["records"] == report["ours_records_out"] == 20
    assert report["records_lost"] == 0 and report["ours_success"]
    # Every call really went to the fake, once per record and pass: nothing came from a
    # cache or was deduplicated, for either strategy.
    assert report["sequential_successes"] == report["sequential_calls"] == report["calls"] == 60
    assert report["ours_calls"] == 60
    assert report["sequential_max_in_flight"] == 1
    assert 1 < report["ours_max_in_flight"] <= 8
    assert report["ours_checks"]["completeness"] and report["ours_checks"]["evidence_grounding"]
    assert report["speedup"] > 1


def test_benchmark_postings_are_distinct_even_where_the_renderer_shortens_them() -> None:
    """Ids and descriptions differ across partitions too; the distinguishing sentence is
    at the head, which survives the shortening of the 300 KB sample posting."""
    first = bench_partition.bench_rows(50)
    second = bench_partition.bench_rows(50, first_index=50)
    ids = first.column("job_posting_id").to_pylist() + second.column("job_posting_id").to_pylist()
    texts = (first.column("job_description_text").to_pylist()
             + second.column("job_description_text").to_pylist())
    assert len(set(ids)) == len(set(texts)) == 100
    assert all(t.startswith(bench_partition.BENCH_MARKER) for t in texts)
    assert first.schema == bench_partition.sample_silver().schema
