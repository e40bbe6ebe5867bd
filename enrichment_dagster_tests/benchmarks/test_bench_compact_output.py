"""The compact answer form on the 99 recorded gpt-oss jobs: at most half the characters,
the same values read back (``bench_compact_output.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrichment_dagster_tests.benchmarks.bench_compact_output import run


def test_recorded_answers_in_compact_form_halve_and_keep_every_value(shared_data: Path) -> None:
    report = run(shared_data / "llm_outputs", input_ratio=0.354, chars_per_token=4.0)
    assert report["answers"] >= 240  # every complete gpt-oss answer of the 99 jobs
    assert report["values_identical"] == report["answers"]
    assert report["ratio"] <= 0.5, report["ratio"]
    for figures in report["passes"].values():
        assert figures["differing_columns"] == []
        assert figures["chars_after"] < figures["chars_before_minified"]
    costs = report["cost_per_posting_usd"]
    assert costs["ours_compact_batch"] < costs["ours_batch"] == pytest.approx(costs["ours_on_demand"] / 2, abs=2e-6)
