"""The one rule for "absent": what a complete answer leaves out reads as "not stated", and
the compact form the prompts ask for reads back to the same values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from enrichment_dagster.contracts.absent import compact_answer
from enrichment_dagster.contracts.columns import flatten_pass
from enrichment_dagster.contracts.lenient import validate_pass
from enrichment_dagster.llm.parsing import parse_answer
from enrichment_dagster_tests.engine.answers import answer_by_pass


def test_left_out_fields_read_as_not_stated_per_kind() -> None:
    answer = {"extraction": {"compensation": {"salary_min": 100000, "salary_max": 120000}}}
    row = flatten_pass(1, validate_pass(1, answer).model)
    assert row["ext_salary_min"] == 100000
    assert row["ext_salary_period"] == "not_mentioned"  # enum with not_mentioned
    assert row["ext_work_model_stated"] == "not_mentioned"  # a whole group left out
    assert row["ext_salary_disclosed"] is None  # booleans and numbers: null says it
    assert row["ext_years_experience_min"] is None


def test_an_invalid_value_keeps_its_null_and_its_issue() -> None:
    answer = {"extraction": {"compensation": {"salary_period": "fortnightly", "salary_min": 5}}}
    validated = validate_pass(1, answer)
    assert flatten_pass(1, validated.model)["ext_salary_period"] is None
    assert any(i.kind == "nulled" and i.path.endswith("salary_period") for i in validated.report.issues)


def test_a_cut_answer_is_not_filled() -> None:
    answer = {"extraction": {"compensation": {"salary_min": 100000}}}
    row = flatten_pass(1, validate_pass(1, answer, complete=False).model)
    assert row["ext_salary_period"] is None
    cut = '{"extraction": {"compensation": {"salary_min": 100000, "salary_period": "ye'
    parsed = parse_answer(cut, 1)
    assert parsed.status == "partial"
    assert flatten_pass(1, parsed.output)["ext_salary_period"] is None


@pytest.mark.parametrize("field,written,value,confidence,evidence", [
    ("seniority_level", ["senior", 0.9, "Senior Data Engineer", "explicit"], "senior", 0.9, "Senior Data Engineer"),
    ("seniority_level", ["senior", "0.8"], "senior", 0.8, None),
    ("seniority_level", ["senior", None, "Senior"], "senior", None, "Senior"),
    ("seniority_level", {"value": "staff", "confidence": 0.7}, "staff", 0.7, None),
    ("secondary_clouds", [["aws", "gcp"], 0.8, "AWS or GCP"], ["aws", "gcp"], 0.8, "AWS or GCP"),
    ("secondary_clouds", ["aws", "gcp"], ["aws", "gcp"], None, None),  # a bare list value
])
def test_the_positional_and_object_forms_of_a_pass2_field(
    field: str, written: Any, value: Any, confidence: float | None, evidence: str | None
) -> None:
    group = "seniority_and_role" if field == "seniority_level" else "stack_and_cloud"
    row = flatten_pass(2, validate_pass(2, {"inference": {group: {field: written}}}).model)
    assert (row[f"inf_{field}"], row[f"inf_{field}_confidence"], row[f"inf_{field}_evidence"]) == (
        value, confidence, evidence)


def test_a_scalar_list_with_no_confidence_is_not_read_as_positional() -> None:
    answer = {"inference": {"seniority_and_role": {"seniority_level": ["senior", True]}}}
    validated = validate_pass(2, answer)
    assert flatten_pass(2, validated.model)["inf_seniority_level"] is None
    assert validated.report.count("nulled") >= 1


@pytest.mark.parametrize("pass_number", [1, 2, 3])
def test_compact_form_reads_back_to_the_same_values(pass_number: int) -> None:
    full = answer_by_pass()[pass_number]
    parsed = parse_answer(full, pass_number)
    assert parsed.status == "complete" and parsed.output is not None
    compact = json.dumps(compact_answer(parsed.output), separators=(",", ":"))
    assert len(compact) < len(full)
    again = parse_answer(compact, pass_number)
    assert again.status == "complete" and again.output is not None
    before, after = flatten_pass(pass_number, parsed.output), flatten_pass(pass_number, again.output)
    for column, value in before.items():
        if column.endswith(("_confidence", "_evidence", "_source")) and after[column] != value:
            base = column.rsplit("_", 1)[0]
            assert before[base] in (None, "not_mentioned", []), column  # only absent values lose them
        else:
            assert after[column] == value, column
