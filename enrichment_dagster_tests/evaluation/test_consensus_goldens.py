"""Legacy parity on the real inputs of the old published consensus reports.

The figures and the 1,250 per-field flags per data set are the acceptance check of the
reference (A.3.5): if they drift, the legacy mode no longer reproduces the old method and
the v2 comparison loses its baseline.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.cli import main
from enrichment_dagster.evaluation.aggregate import compare, job_rates, summary_rates
from enrichment_dagster.evaluation.consensus import evaluate_directory
from enrichment_dagster.evaluation.exact import percent

PUBLISHED_FASE_2 = (
    "4323400548,4325829597,4325839911,4325889818,4325939213,"
    "4325939525,4325948158,4326005551,4342313220,4342323073"
)
GOLDENS = {
    "fase_1": (None, {"overall": 81.52, "pass1": 89.444, "pass2": 96.0, "pass3": 64.348}),
    "fase_2": (
        PUBLISHED_FASE_2,
        {"overall": 79.84, "pass1": 88.519, "pass2": 94.4, "pass3": 61.739},
    ),
}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["evaluate", "consensus", *args]) == 0
    return json.loads(capsys.readouterr().out)


def golden_rows(shared_data: Path, fase: str) -> dict[tuple[str, str], dict[str, str]]:
    with (shared_data / "consensus" / f"fields_{fase}.csv").open(newline="") as handle:
        return {(row["job_id"], row["field"]): row for row in csv.DictReader(handle)}


def legacy_args(shared_data: Path, fase: str) -> list[str]:
    jobs, _ = GOLDENS[fase]
    args = [str(shared_data / "consensus" / fase), "--method", "legacy", "--json"]
    return args + (["--jobs", jobs] if jobs else [])


@pytest.mark.parametrize("fase", sorted(GOLDENS))
def test_cli_legacy_reproduces_published_figures(
    shared_data: Path, capsys: pytest.CaptureFixture[str], fase: str
) -> None:
    report = run_cli(capsys, *legacy_args(shared_data, fase))
    assert report["method"] == "legacy"
    assert report["jobs"] == 10
    assert report["summary"] == GOLDENS[fase][1]
    assert len(report["per_job"]) == 10
    golden = golden_rows(shared_data, fase)
    flags = {(f["job_id"], f["field"]): f for f in report["fields"]}
    assert flags.keys() == golden.keys()
    same = [
        k for k, row in golden.items() if str(flags[k]["has_consensus"]) == row["has_consensus"]
    ]
    assert len(same) == len(golden) == 1250
    for key, row in golden.items():
        assert (flags[key]["pass"], flags[key]["type"]) == (int(row["pass"]), row["type"])


@pytest.mark.parametrize("fase", sorted(GOLDENS))
def test_library_legacy_matches_golden_agreement_and_model_counts(
    shared_data: Path, fase: str
) -> None:
    """Not only the flag: the graded agreement and n per field match the golden too."""
    jobs, figures = GOLDENS[fase]
    run = evaluate_directory(
        shared_data / "consensus" / fase, "legacy", jobs.split(",") if jobs else None
    )
    golden = golden_rows(shared_data, fase)
    for outcome in (f for job in run.evaluations for f in job.fields):
        row = golden[(outcome.job_id, outcome.field)]
        assert float(outcome.agreement) == pytest.approx(float(row["agreement"]), abs=1e-12)
        assert outcome.n_models == int(row["n_models"])
    rates = summary_rates(run.evaluations, "legacy")
    assert {k: percent(v) for k, v in rates.items()} == figures
    assert all(job_rates(j, "legacy")["overall"] is not None for j in run.evaluations)


def test_vacuous_agreements_match_the_reference_counts(shared_data: Path) -> None:
    """Reference A.1.7: 181 Pass 1 and 50 Pass 3 fase_2 agreements are all-null; 12
    disagreements are unanimous nulls (salary currency/period without a salary)."""
    run = evaluate_directory(
        shared_data / "consensus" / "fase_2", "v2", PUBLISHED_FASE_2.split(","), source="json"
    )
    assert run.legacy_baseline is not None
    vacuous = [
        f
        for job in run.legacy_baseline
        for f in job.fields
        if f.has_consensus and f.state == "no_information"
    ]
    assert sum(f.pass_number == 1 for f in vacuous) == 181
    assert sum(f.pass_number == 3 for f in vacuous) == 50
    comparison = compare(run.legacy_baseline, run.evaluations)
    assert comparison.legacy_vacuous_agree == 231
    assert comparison.legacy_null_disagree == 12


def test_v2_report_on_published_jobs_explains_the_difference(
    shared_data: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report.md"
    directory = str(shared_data / "consensus" / "fase_2")
    args = [directory, "--jobs", PUBLISHED_FASE_2, "--source", "json", "--out", str(out)]
    report = run_cli(capsys, *args, "--json")
    assert report["method"] == "v2"
    assert report["legacy_comparison"]["legacy_summary"] == GOLDENS["fase_2"][1]
    assert report["legacy_comparison"]["legacy_vacuous_agree"] == 231
    scored = [f for f in report["fields"] if f["state"] in ("agree", "disagree")]
    assert all(isinstance(f["has_consensus"], bool) for f in scored)
    assert all(f["has_consensus"] is None for f in report["fields"] if f not in scored)
    markdown = out.read_text(encoding="utf-8")
    assert "How v2 differs from the legacy method" in markdown
    assert "231 of legacy's" in markdown
    assert "79.840 %" in markdown
    for section in ("## Summary", "## Per job", "## Lowest-agreement fields", "## Model ranking"):
        assert section in markdown
