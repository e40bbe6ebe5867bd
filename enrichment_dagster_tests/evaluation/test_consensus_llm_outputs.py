"""Every real job folder, raw answers included, evaluates under both methods.

These are the inputs that crashed or silently shrank the old evaluator (string
confidences, a misspelt key, truncated and reasoning-only answers); each must now be
evaluated and listed as an anomaly instead.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.cli import main

STRING_CONFIDENCE_JOBS = {"4325827765", "4348556911", "4348603296"}


def run_cli(shared_data: Path, *options: str) -> dict[str, Any]:
    buffer = io.StringIO()
    args = ["evaluate", "consensus", str(shared_data / "llm_outputs"), "--json", *options]
    with contextlib.redirect_stdout(buffer):
        assert main(args) == 0
    return json.loads(buffer.getvalue())


@pytest.fixture(scope="module", params=["legacy", "v2"])
def report(request: pytest.FixtureRequest, shared_data: Path) -> dict[str, Any]:
    """One CLI run per method for the whole module (the folder holds 1,403 files), raw
    answers read (legacy reads them only when asked: ``--source auto``)."""
    source = ["--source", "auto"] if request.param == "legacy" else []
    return run_cli(shared_data, "--method", request.param, *source)


def test_legacy_by_default_reads_what_the_old_evaluator_read(shared_data: Path) -> None:
    """Regression: ``--method legacy`` also parsed raw answers where no ``.json`` existed
    (source ``auto``), so "legacy" was not the old figures. The default now follows the
    method: legacy reads ``.json`` only, exactly as ``--source json``."""
    default = run_cli(shared_data, "--method", "legacy")
    forced = run_cli(shared_data, "--method", "legacy", "--source", "json")
    auto = run_cli(shared_data, "--method", "legacy", "--source", "auto")
    assert default["summary"] == forced["summary"]
    assert default["provenance"]["source_policy"] == "json"
    assert set(default["provenance"]["sources"]) == {"json"}
    assert auto["summary"] != default["summary"]  # the raw answers would change them


def job_dirs(shared_data: Path) -> list[Path]:
    return sorted(p for p in (shared_data / "llm_outputs").iterdir() if p.name.isdigit())


def test_every_job_is_evaluated(report: dict[str, Any], shared_data: Path) -> None:
    ids = [p.name for p in job_dirs(shared_data)]
    assert report["jobs"] == len(ids) == 99
    assert [row["job_id"] for row in report["per_job"]] == ids
    for key in ("overall", "pass1", "pass2", "pass3"):
        assert 0 <= report["summary"][key] <= 100


def test_string_confidences_are_listed_not_fatal(report: dict[str, Any]) -> None:
    listed = {a["job_id"] for a in report["anomalies"] if a["kind"] == "string_confidence"}
    assert listed >= STRING_CONFIDENCE_JOBS
    assert all(
        a["model"] == "qwen" for a in report["anomalies"] if a["kind"] == "string_confidence"
    )


def test_misspelt_key_is_listed(report: dict[str, Any]) -> None:
    misspelt = [a["what"] for a in report["anomalies"] if a["kind"] == "misspelt_key"]
    assert any("data_maturety_level" in what for what in misspelt)


def test_answers_without_old_json_are_accounted_for(
    report: dict[str, Any], shared_data: Path
) -> None:
    """A raw answer the old parser rejected is either scored from the raw text or listed."""
    read = {(f["job_id"], f["file"]) for f in report["provenance"]["files"]}
    listed = {(a["job_id"], a["what"].split(":", 1)[0]) for a in report["anomalies"]}
    for job in job_dirs(shared_data):
        for raw in job.glob("*-raw.txt"):
            if raw.with_name(raw.name.replace("-raw.txt", ".json")).exists():
                continue
            assert (job.name, raw.name) in read or (job.name, raw.name) in listed


def test_reasoning_only_minimax_answers_drop_the_model(report: dict[str, Any]) -> None:
    dropped = [
        a
        for a in report["anomalies"]
        if a["kind"] == "unparseable_answer" and a["model"] == "minimax" and a["pass"] == 1
    ]
    assert len(dropped) == 23


def test_provenance_hashes_every_input(report: dict[str, Any]) -> None:
    files = report["provenance"]["files"]
    assert len(files) == sum(report["provenance"]["sources"].values())
    assert all(len(f["sha256"]) == 64 for f in files)
    assert len(report["provenance"]["inputs_sha256"]) == 64
