"""v2 rules on small hand-made answers (no shared data needed)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from enrichment_dagster.evaluation import legacy, v2
from enrichment_dagster.evaluation.aggregate import calibration, job_rates, v2_model_stats
from enrichment_dagster.evaluation.field_registry import FIELDS, FieldSpec
from enrichment_dagster.evaluation.records import FieldOutcome, JobEvaluation
from enrichment_dagster.evaluation.v2 import Settings, jaccard, matches
from enrichment_dagster_tests.evaluation.builders import (
    FIVE,
    inference,
    job,
    pass2,
    pass3,
    same_for,
)

SPEC = {spec.name: spec for spec in FIELDS}


def outcome(evaluation: JobEvaluation, name: str) -> FieldOutcome:
    return next(f for f in evaluation.fields if f.field == name)


def per_model(field: str, values: list[object]) -> dict[str, dict[str, object]]:
    """Pass 1 answers: model i gets values[i]; ``...`` means the key is absent."""
    return {m: ({} if v is ... else {field: v}) for m, v in zip(FIVE, values, strict=False)}


def both(answers: dict[int, dict[str, dict[str, object]]]) -> tuple[JobEvaluation, JobEvaluation]:
    data = job(answers)
    return legacy.evaluate_job(data), v2.evaluate_job(data)


# --- null semantics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "legacy_flag"),
    [
        ("ext_salary_currency", None, False),  # enum: legacy calls it disagreement
        ("ext_salary_min", None, True),  # numeric: legacy calls it agreement
        ("ext_allowed_countries", [], True),  # array: legacy calls it agreement
        ("ext_visa_sponsorship_stated", "not_mentioned", True),
    ],
)
def test_unanimous_abstention_is_no_information(
    field: str, value: object, legacy_flag: bool
) -> None:
    old, new = both({1: same_for(FIVE, {field: value})})
    assert outcome(old, field).has_consensus is legacy_flag
    result = outcome(new, field)
    assert result.state == "no_information"
    assert result.has_consensus is None


def test_no_information_leaves_the_rate_denominator() -> None:
    answers = {1: same_for(FIVE, {"ext_salary_min": None, "ext_work_model_stated": "remote"})}
    _, new = both(answers)
    rates = job_rates(new, "v2")
    assert rates["pass1"] == 1  # the only informative field agrees
    assert rates["pass2"] is None  # a pass that did not run is not reported as 0 %


def test_a_null_vote_dissents_when_others_answer() -> None:
    _, new = both({1: per_model("ext_salary_currency", ["USD", "usd", None, None, None])})
    result = outcome(new, "ext_salary_currency")
    assert result.state == "agree" and result.value is None  # 3 of 5 say "not stated"
    assert result.agreement == Fraction(3, 5)


# --- tolerances -------------------------------------------------------------------------------


def test_money_agrees_within_five_percent() -> None:
    settings = Settings()
    assert matches("money", Fraction(100_000), Fraction(105_000), settings)
    assert not matches("money", Fraction(100_000), Fraction(106_000), settings)
    _, new = both({1: per_model("ext_salary_min", [100_000, 104_000, "$103,000", 120_000, None])})
    result = outcome(new, "ext_salary_min")
    assert (result.state, result.agreement, result.value) == ("agree", Fraction(3, 5), 100_000)


def test_scores_agree_within_a_tenth_exactly_at_the_boundary() -> None:
    """0.4 - 0.3 is 0.10000000000000003 in floats; the model wrote 0.1, so it agrees."""
    field = "red_flags_and_role_quality.scope_creep_score"
    group, leaf = field.split(".")
    answers = {
        3: {
            m: pass3(group, leaf, inference(v))
            for m, v in zip(FIVE, [0.3, 0.4, 0.35, 0.7, 0.8], strict=True)
        }
    }
    old, new = both(answers)
    assert outcome(old, field).has_consensus is False  # str(0.3) != str(0.4)
    assert outcome(new, field).state == "agree"
    assert outcome(new, field).agreement == Fraction(3, 5)
    assert not matches("score01", Fraction("0.3"), Fraction("0.41"), Settings())


def test_lists_are_sets_compared_by_jaccard() -> None:
    assert jaccard(frozenset("ab"), frozenset("abc")) == Fraction(2, 3)
    field = "stack_and_cloud.secondary_clouds"
    group, leaf = field.split(".")
    values = [["AWS", "GCP"], ["gcp", "aws"], [" aws ", "gcp", "azure"], ["oracle"], ["azure"]]
    answers = {2: {m: pass2(group, leaf, inference(v)) for m, v in zip(FIVE, values, strict=True)}}
    old, new = both(answers)
    assert outcome(old, field).has_consensus is False  # order- and case-sensitive identity
    result = outcome(new, field)
    assert (result.state, result.agreement) == ("agree", Fraction(3, 5))
    assert result.value == ["aws", "gcp"]


def test_enums_are_normalised() -> None:
    values = ["Full-Time", "full time", "full_time", " FULL TIME ", "contract"]
    _, new = both({1: per_model("ext_employment_type_stated", values)})
    result = outcome(new, "ext_employment_type_stated")
    assert (result.agreement, result.value) == (Fraction(4, 5), "full_time")


def test_boolean_inference_reads_words() -> None:
    field = "visa_and_authorization.h1b_friendly"
    group, leaf = field.split(".")
    values = [False, "false", "No", "not_mentioned", True]
    answers = {2: {m: pass2(group, leaf, inference(v)) for m, v in zip(FIVE, values, strict=True)}}
    _, new = both(answers)
    assert outcome(new, field).agreement == Fraction(3, 5)


# --- what is scored at all --------------------------------------------------------------------


def test_free_text_is_excluded() -> None:
    _, new = both({1: per_model("ext_team_info_text", ["a team", "the team", "x", "y", "z"])})
    result = outcome(new, "ext_team_info_text")
    assert (result.state, result.has_consensus) == ("excluded", None)


def test_missing_key_is_no_vote_in_v2_but_a_null_vote_in_legacy() -> None:
    old, new = both({1: per_model("ext_salary_min", [100, 100, 100, ..., ...])})
    assert outcome(old, "ext_salary_min").has_consensus is False  # two null votes
    result = outcome(new, "ext_salary_min")
    assert (result.state, result.n_models) == ("agree", 3)


def test_too_few_models_is_insufficient() -> None:
    _, new = both({1: same_for(FIVE[:2], {"ext_work_model_stated": "remote"})})
    assert outcome(new, "ext_work_model_stated").state == "insufficient"


def test_summary_keys_of_the_other_schema_version_are_not_applicable() -> None:
    summary = {"strengths": ["good pay"], "concerns": []}  # v3.3 answer
    _, new = both({3: same_for(FIVE, {"analysis": {}, "summary": summary})})
    assert outcome(new, "summary.strength_categories").state == "not_applicable"


# --- per model and calibration ----------------------------------------------------------------


def test_leave_one_out_judges_each_model_by_the_others() -> None:
    _, new = both({1: per_model("ext_work_model_stated", ["remote"] * 4 + ["hybrid"])})
    loo = outcome(new, "ext_work_model_stated").loo
    assert loo == {"gpt-oss": True, "mistral": True, "gemma": True, "minimax": True, "qwen": False}
    _, split = both({1: per_model("ext_work_model_stated", ["remote"] * 3 + ["hybrid"] * 2)})
    loo = outcome(split, "ext_work_model_stated").loo
    assert loo["qwen"] is False  # the other four: 3 remote, 1 hybrid
    assert loo["gpt-oss"] is None  # the other four split 2-2: no majority to judge by


def test_string_confidences_are_used_and_calibration_is_binned() -> None:
    field = "stack_and_cloud.primary_cloud"
    group, leaf = field.split(".")
    confidences = ["0.65", 0.95, 0.92, "0.81", 0.55]
    values = ["aws", "aws", "aws", "aws", "gcp"]
    answers = {
        2: {
            m: pass2(group, leaf, inference(v, c))
            for m, v, c in zip(FIVE, values, confidences, strict=True)
        }
    }
    _, new = both(answers)
    result = outcome(new, field)
    assert result.confidences["gpt-oss"] == 0.65
    bins = {b.label: b for b in calibration([new])}
    assert (len(bins["[0.5, 0.6)"].confidences), bins["[0.5, 0.6)"].agreed) == (1, 0)
    assert (len(bins["[0.9, 1.0]"].confidences), bins["[0.9, 1.0]"].agreed) == (2, 2)
    stats = {s.model: s for s in v2_model_stats([new])}
    assert stats["qwen"].agreement == 0 and stats["gpt-oss"].agreement == 1


# --- legacy quirks that must survive, exactly -------------------------------------------------


def test_legacy_array_core_agreement_of_exactly_three_fifths_is_consensus() -> None:
    """2/3 + 1 + 1/3 + 1/3 + 2/3 summed in floats is 0.5999999999999999 on Python 3.11."""
    sets = [["a", "b"], ["a", "b", "c"], ["c"], ["b"], ["a", "c"]]
    verdict = legacy.array_rule(dict(zip(FIVE, sets, strict=True)))
    assert verdict.agreement == Fraction(3, 5) and verdict.has_consensus


def test_legacy_numeric_cv_of_exactly_fifteen_percent_is_consensus() -> None:
    votes = [legacy.normalize_numeric(v) for v in (0.85, 1.15, 0.85, 1.15, None)]
    assert legacy.numeric_rule(dict(zip(FIVE, votes, strict=True))).has_consensus
    votes[0] = legacy.normalize_numeric(0.84)
    assert not legacy.numeric_rule(dict(zip(FIVE, votes, strict=True))).has_consensus


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["x", "x", "x", "y", "z"], True),  # 3 of 5
        (["x", "x", "y", "z", None], False),  # 2 of 4 non-null
        (["x", "x", "x", "y", None], True),  # 3 of 4
    ],
)
def test_legacy_enum_majority(values: list[str | None], expected: bool) -> None:
    assert legacy.enum_rule(dict(zip(FIVE, values, strict=True))).has_consensus is expected


def test_legacy_inference_tie_break_survives_string_confidences() -> None:
    objs = [
        inference("aws", "0.9"),
        inference("aws", "0.95"),
        inference("gcp", 0.5),
        inference("gcp", "high"),
        {"value": None},
    ]
    verdict = legacy.inference_rule(dict(zip(FIVE, objs, strict=True)))
    assert (verdict.value, verdict.has_consensus) == ("aws", False)
    assert verdict.outliers == ("gemma", "minimax", "qwen")


def test_legacy_single_string_answer_agrees_with_zero_agreement() -> None:
    verdict = legacy.string_rule(dict(zip(FIVE, ["only one", None, " ", None, None], strict=True)))
    assert (verdict.has_consensus, verdict.agreement) == (True, 0)


def test_registry_has_the_125_legacy_fields() -> None:
    assert len(FIELDS) == 125
    counts: dict[str, int] = {}
    for spec in FIELDS:
        counts[spec.legacy_type] = counts.get(spec.legacy_type, 0) + 1
    assert counts == {
        "boolean": 7,
        "enum": 16,
        "numeric": 11,
        "string": 14,
        "array": 24,
        "inference": 53,
    }
    assert isinstance(SPEC["summary.recommendation_score"], FieldSpec)
