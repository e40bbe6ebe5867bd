"""The cache benchmark's quick form: the plumbing works and a rerun makes no call."""

from enrichment_dagster_tests.benchmarks.bench_cache import measure


def test_quick_cache_benchmark_reruns_from_the_cache_in_few_files() -> None:
    report = measure(60, latency_s=0.01)
    assert report["fresh_calls"] == 180 and report["rerun_calls"] == 0
    assert report["rerun_cache_hits"] == 180
    assert report["cache_files"] <= 6  # a segment and its index per pass, not one per answer
    assert report["cached_s"] < report["fresh_s"]
