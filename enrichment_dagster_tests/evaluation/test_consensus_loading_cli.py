"""Loading the old layout and raw answers, and the CLI, on folders written by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster.cli import main
from enrichment_dagster.evaluation.aggregate import job_rates
from enrichment_dagster.evaluation.consensus import evaluate_directory, read_jobs_file
from enrichment_dagster.evaluation.field_registry import MODEL_BY_SHORT
from enrichment_dagster.evaluation.loading import check_keys, flatten_extraction
from enrichment_dagster_tests.evaluation.builders import (
    FIVE,
    inference,
    pass2,
    pass3,
    same_for,
    write_job,
)

PASS1 = {"ext_work_model_stated": "remote", "ext_salary_min": 100_000}


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", "consensus", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fields_of(report: dict[str, Any], job_id: str, name: str) -> dict[str, Any]:
    return next(f for f in report["fields"] if f["job_id"] == job_id and f["field"] == name)


def test_misspelt_key_is_read_by_v2_and_only_listed_by_legacy(tmp_path: Path) -> None:
    right = pass3("company_maturity", "data_maturity_level", inference("defined"))
    wrong = pass3("company_maturity", "data_maturety_level", inference("defined"))
    problems, aliases = check_keys(wrong, 3)
    assert aliases == {"company_maturity.data_maturity_level": "data_maturety_level"}
    assert [k for k, _ in problems].count("misspelt_key") == 1
    write_job(tmp_path, "7", {3: {**same_for(FIVE[:4], right), "qwen": wrong}})
    name = "company_maturity.data_maturity_level"
    new = evaluate_directory(tmp_path, "v2")
    old = evaluate_directory(tmp_path, "legacy")
    assert any(a.kind == "misspelt_key" for a in new.anomalies)
    new_field = next(f for f in new.evaluations[0].fields if f.field == name)
    old_field = next(f for f in old.evaluations[0].fields if f.field == name)
    assert new_field.agreement == 1 and new_field.n_models == 5
    assert "qwen" in old_field.outliers  # legacy: no valid object, counted as outlier


def test_a_bad_file_drops_only_that_model(tmp_path: Path) -> None:
    folder = write_job(tmp_path, "8", {1: same_for(FIVE, PASS1)})
    (folder / f"pass1-{MODEL_BY_SHORT['qwen'].file_infix}.json").write_text("{not json")
    (folder / "pass1-some-other-model.json").write_text("{}")
    run = evaluate_directory(tmp_path, "legacy")
    assert run.evaluations[0].models_per_pass[1] == list(FIVE[:4])
    kinds = {a.kind for a in run.anomalies}
    assert {"unreadable_file", "unknown_model_file"} <= kinds


def test_metadata_that_contradicts_the_path_is_listed(tmp_path: Path) -> None:
    folder = write_job(tmp_path, "9", {1: same_for(FIVE, PASS1)})
    path = folder / f"pass1-{MODEL_BY_SHORT['gemma'].file_infix}.json"
    document = json.loads(path.read_text())
    document["metadata"]["job_posting_id"] = "1234"
    path.write_text(json.dumps(document))
    anomalies = evaluate_directory(tmp_path, "legacy").anomalies
    assert [(a.model, a.kind) for a in anomalies if a.kind == "metadata_mismatch"] == [
        ("gemma", "metadata_mismatch")
    ]


def test_a_pass_without_answers_is_zero_in_legacy_and_unreported_in_v2(tmp_path: Path) -> None:
    """Legacy reported 0 % for a pass that never ran; v2 does not invent a figure."""
    write_job(tmp_path, "10", {1: same_for(FIVE, PASS1)})
    old = evaluate_directory(tmp_path, "legacy").evaluations[0]
    new = evaluate_directory(tmp_path, "v2").evaluations[0]
    assert {f.pass_number for f in old.fields} == {1}
    assert job_rates(old, "legacy")["pass2"] == 0
    assert job_rates(new, "v2")["pass2"] is None
    assert job_rates(new, "v2")["overall"] == 1


def test_raw_answers_are_parsed_and_flattened(tmp_path: Path) -> None:
    folder = tmp_path / "11"
    folder.mkdir()
    extraction = {"work_model": {"work_model_stated": "remote"}, "compensation": {"salary_min": 1}}
    for model in FIVE:
        text = (
            "<reasoning>think</reasoning>\n```json\n"
            + json.dumps({"extraction": extraction})
            + "\n```"
        )
        (folder / f"pass1-{MODEL_BY_SHORT[model].file_infix}-raw.txt").write_text(text)
    run = evaluate_directory(tmp_path, "v2")
    outputs = run.outputs[0].outputs[1]
    assert set(outputs) == set(FIVE)
    assert all(
        o.source == "raw" and o.result["ext_work_model_stated"] == "remote"
        for o in outputs.values()
    )
    assert flatten_extraction(extraction) == {
        "ext_work_model_stated": "remote",
        "ext_salary_min": 1,
    }


def test_json_is_preferred_in_legacy_and_raw_in_v2(tmp_path: Path) -> None:
    folder = write_job(
        tmp_path,
        "12",
        {2: same_for(FIVE, pass2("stack_and_cloud", "primary_cloud", inference("aws")))},
    )
    raw = json.dumps(pass2("stack_and_cloud", "primary_cloud", inference("gcp")))
    for model in FIVE:
        (folder / f"pass2-{MODEL_BY_SHORT[model].file_infix}-raw.txt").write_text(raw)
    old = evaluate_directory(tmp_path, "legacy")
    new = evaluate_directory(tmp_path, "v2")
    assert {o.source for o in old.outputs[0].outputs[2].values()} == {"json"}
    assert {o.source for o in new.outputs[0].outputs[2].values()} == {"raw"}
    forced = evaluate_directory(tmp_path, "v2", source="json")
    assert {o.source for o in forced.outputs[0].outputs[2].values()} == {"json"}


def test_cli_markdown_jobs_file_and_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    for job_id in ("21", "22", "23"):
        write_job(data, job_id, {1: same_for(FIVE, PASS1)})
    jobs_file = tmp_path / "jobs.txt"
    jobs_file.write_text("21  # first\n22,23\n")
    assert read_jobs_file(jobs_file) == ["21", "22", "23"]
    code, out, _ = run_cli(capsys, str(data), "--jobs-file", str(jobs_file))
    assert code == 0
    assert out.startswith("# Multi-model consensus — v2")
    assert "| 21 | Data Engineer | Acme | 5/0/0 |" in out
    code, out, _ = run_cli(capsys, str(data), "--method", "legacy", "--jobs", "21", "--json")
    report = json.loads(out)
    assert report["jobs"] == 1 and report["per_job"][0]["job_id"] == "21"
    assert fields_of(report, "21", "ext_work_model_stated")["has_consensus"] is True
    assert set(report["summary"]) == {"overall", "pass1", "pass2", "pass3"}
    code, _, err = run_cli(capsys, str(data), "--jobs", "99")
    assert code == 2 and "99" in err
    code, _, err = run_cli(capsys, str(tmp_path / "missing"))
    assert code == 2
