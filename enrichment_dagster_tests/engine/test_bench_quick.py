"""The engine benchmark's quick form runs end to end, prints the agreed keys, loses nothing."""

from __future__ import annotations

import json

import pytest

from enrichment_dagster_tests.benchmarks import bench_engine


@pytest.mark.slow
def test_quick_benchmark_prints_the_agreed_json_and_loses_no_record(capsys):
    assert bench_engine.main(["--quick", "--json", "--overhead-repeats", "1"]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("sequential_s", "ours_s", "speedup", "ideal_s", "ratio_to_ideal",
                "throttled", "overhead_records_per_s"):
        assert key in report, key
    assert set(report["throttled"]) >= {"ours_s", "ideal_s", "ratio_to_ideal", "records_lost"}
    assert report["ours_records_lost"] == 0
    assert report["throttled"]["records_lost"] == 0
    assert report["throttled"]["throttles"] > 0  # the throttled run really was throttled
    assert report["sequential_successes"] == report["calls"] == 60
    assert all(rate > 0 for rate in report["overhead_records_per_s"].values())
