"""Wrong or hostile model answers, through enrich_job and the fake Bedrock server
(docs/faults.md, part 2).

Every case must end as a field-level issue, a downgraded confidence or a per-record
error: never a crashed run, never a wrong value stored as if it were verified, and a
re-run never pays again for an answer it already has. The fake server's ``answer``
callable returns any text per request; boto3, the engine's retries, the parser, the
lenient validator, grounding and the checks are the real ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from enrichment_dagster_tests.fakes.fake_bedrock import pass_of, record_id_of
from enrichment_dagster_tests.faults.harness import (
    DEFAULT_DESCRIPTION,
    bedrock_llm,
    defs_for,
    read_output,
    run_job,
    silver_row,
    silver_table,
    write_silver,
)

#: Two postings with different text (identical inputs would share one model call).
POSTINGS = {
    "9001": DEFAULT_DESCRIPTION,
    "9002": ("Analytics Engineer at a fintech in Chicago. dbt, Snowflake and Looker. "
             "3+ years of SQL. Fully remote within the US. Pay: $120,000 - $135,000 per year."),
}
OTHER_POSTING = ("Staff Platform Engineer in Zurich leading 40 engineers. "
                 "Compensation: CHF 250,000 - CHF 300,000 per year. Relocation required.")


def _inferred(value: Any, confidence: Any, evidence: str | None) -> dict[str, Any]:
    return {"value": value, "confidence": confidence, "evidence": evidence, "source": "explicit"}


def good_answer(pass_number: int, record_id: str) -> dict[str, Any]:
    """A valid answer whose every evidence string is a verbatim quote of the posting."""
    if record_id == "9001":
        salary, quote, title = (150000, 180000), "Salary: $150,000 - $180,000 per year.", "Senior Data Engineer"
        family = ("data_engineer", "build batch and streaming pipelines")
    else:
        salary, quote, title = (120000, 135000), "Pay: $120,000 - $135,000 per year.", "Analytics Engineer"
        family = ("analytics_engineer", "dbt, Snowflake and Looker")
    if pass_number == 1:
        return {"extraction": {
            "compensation": {"salary_disclosed": True, "salary_min": salary[0], "salary_max": salary[1],
                             "salary_currency": "USD", "salary_period": "yearly", "salary_text_raw": quote},
            "work_model": {"employment_type_stated": "full_time"},
        }}
    if pass_number == 2:
        return {"inference": {"seniority_and_role": {
            "seniority_level": _inferred("senior" if record_id == "9001" else "mid", 0.9, title),
            "job_family": _inferred(family[0], 0.9, family[1]),
        }}}
    return {
        "analysis": {"red_flags_and_role_quality": {
            "role_clarity": _inferred("clear", 0.8, quote),
        }},
        "summary": {"strength_categories": ["clear_requirements"], "recommendation_score": 0.7},
    }


Answer = Callable[[int, str], str | dict[str, Any]]


def _serve(answer: Answer) -> Callable[[Mapping[str, Any], str], str]:
    """Adapt ``answer(pass, record_id)`` (text, or an object sent as JSON) to the fake."""
    def reply(body: Mapping[str, Any], _model_id: str) -> str:
        result = answer(pass_of(body) or 0, record_id_of(body) or "")
        return result if isinstance(result, str) else json.dumps(result)
    return reply


def _run(tmp_path: Path, fake_bedrock, answer: Answer, **fake_settings: Any):
    write_silver(tmp_path, silver_table([silver_row(i, text) for i, text in POSTINGS.items()]))
    fake_bedrock.configure(answer=_serve(answer), **fake_settings)
    return run_job(defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url)))


# ------------------------------------------------------------------ values


def test_off_vocabulary_values_and_bad_confidences_become_field_issues(
    tmp_path: Path, fake_bedrock
) -> None:
    """Values outside the enums and ranges are nulled, confidences above 1 or given as words
    are nulled (never guessed), a numeric string is coerced; each one is a counted
    field-level issue and the rest of the answer is kept."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id != "9001":
            return data
        if pass_number == 1:
            data["extraction"]["work_model"]["work_model_stated"] = "metaverse"
            data["extraction"]["skills_classified"] = {"years_experience_min": -5}
        if pass_number == 2:
            role = data["inference"]["seniority_and_role"]
            role["seniority_level"]["value"] = "grand_wizard"
            role["job_family"]["confidence"] = 7
            role["sub_specialty"] = _inferred("streaming_realtime", "very high",
                                             "streaming pipelines")
            role["leadership_expectation"] = _inferred("ic", "0.85", "Senior Data Engineer")
        return data

    run = _run(tmp_path, fake_bedrock, answer)

    assert run.success
    row = read_output(tmp_path, "silver_ai")["9001"]
    assert row["pass1_success"] and row["pass2_success"] and row["pass3_success"]
    assert row["ext_work_model_stated"] is None and row["ext_years_experience_min"] is None
    assert row["ext_salary_min"] == 150000.0  # the rest of the answer is kept
    assert row["inf_seniority_level"] is None
    assert row["inf_job_family"] == "data_engineer" and row["inf_job_family_confidence"] is None
    assert row["inf_sub_specialty"] == "streaming_realtime"
    assert row["inf_sub_specialty_confidence"] is None
    assert (row["inf_leadership_expectation"], row["inf_leadership_expectation_confidence"]) == (
        "ic", 0.85)
    pass1, pass2 = read_output(tmp_path, "pass1")["9001"], read_output(tmp_path, "pass2")["9001"]
    assert pass1["nulled_values"] == 2
    assert pass2["nulled_values"] == 3 and pass2["coerced_values"] >= 1
    confidences = [v for k, v in row.items() if k.endswith("_confidence") and v is not None]
    assert confidences and all(0.0 <= c <= 1.0 for c in confidences)


def test_invented_evidence_halves_confidence_and_fails_the_grounding_check(
    tmp_path: Path, fake_bedrock
) -> None:
    """Evidence that is not in the posting, including evidence that quotes nothing ("N/A",
    "..."): every such field's confidence is halved and counted, the fields show up as low
    confidence, and with most evidence invented the evidence_grounding check fails."""
    invented = iter(["Principal engineer leading 40 people in Zurich", "N/A", "...",
                     "Unlimited PTO and a four-day week"] * 4)

    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        for group in (data.get("inference") or data.get("analysis") or {}).values():
            for item in group.values():
                item["evidence"] = next(invented)
        return data

    run = _run(tmp_path, fake_bedrock, answer)

    assert run.success
    out = read_output(tmp_path, "silver_ai")
    for row in out.values():
        assert row["inf_seniority_level_confidence"] == 0.45
        assert row["inf_job_family_confidence"] == 0.45
        assert row["anl_role_clarity_confidence"] == 0.4
        assert row["evidence_checked"] == 3 and row["evidence_grounded"] == 0
        assert set(row["low_confidence_fields"]) == {
            "inf_seniority_level", "inf_job_family", "anl_role_clarity"}
        assert row["inf_job_family_evidence"] in ("N/A", "...", "Unlimited PTO and a four-day week",
                                                  "Principal engineer leading 40 people in Zurich")
    assert run.metadata("pass2")["evidence_grounded_share"] == 0.0
    checks = run.checks()
    assert not checks["evidence_grounding"] and not checks["avg_confidence"]
    assert checks["completeness"] and checks["schema"]


def test_answer_about_another_posting_is_caught_by_grounding(tmp_path: Path, fake_bedrock) -> None:
    """Answers copied from a different posting (its salary, its quotes): the pass-1 quote is
    counted as ungrounded, pass-2/3 confidences are halved, and nothing of it passes as
    grounded; the other record is untouched."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id != "9002":
            return data
        if pass_number == 1:
            data["extraction"]["compensation"].update(
                salary_min=250000, salary_max=300000, salary_currency="CHF",
                salary_text_raw="Compensation: CHF 250,000 - CHF 300,000 per year.")
        else:
            for group in (data.get("inference") or data.get("analysis")).values():
                for item in group.values():
                    item["evidence"] = "Staff Platform Engineer in Zurich leading 40 engineers."
        return data

    run = _run(tmp_path, fake_bedrock, answer)

    assert run.success
    pass1 = read_output(tmp_path, "pass1")
    assert (pass1["9002"]["evidence_checked"], pass1["9002"]["evidence_grounded"]) == (1, 0)
    assert (pass1["9001"]["evidence_checked"], pass1["9001"]["evidence_grounded"]) == (1, 1)
    assert run.metadata("pass1")["evidence_grounded_share"] == 0.5
    out = read_output(tmp_path, "silver_ai")
    assert out["9002"]["evidence_grounded"] == 0 and out["9002"]["evidence_checked"] == 3
    assert out["9002"]["inf_seniority_level_confidence"] == 0.45
    assert out["9001"]["evidence_grounded"] == out["9001"]["evidence_checked"] == 3
    assert out["9001"]["inf_seniority_level_confidence"] == 0.9


# ------------------------------------------------------------------ size and shape


def test_one_megabyte_answer_is_cut_retried_and_kept_as_partial(tmp_path: Path, fake_bedrock) -> None:
    """A 1 MB answer runs into max_tokens: one retry with the larger budget, still cut, so
    the record is ``partial`` with its salvaged fields, a ``truncated`` error, its raw text
    kept and its tokens billed; pass 3 is not built on it; the other record completes."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id == "9001" and pass_number == 2:
            data["inference"]["seniority_and_role"]["job_family"]["evidence"] = "x" * 1_000_000
        return data

    run = _run(tmp_path, fake_bedrock, answer)

    assert run.success
    pass2 = read_output(tmp_path, "pass2")
    assert pass2["9001"]["status"] == "partial" and pass2["9001"]["error_class"] == "truncated"
    assert pass2["9001"]["attempts"] == 2 and pass2["9001"]["output_tokens"] > 0
    assert pass2["9001"]["raw_text"] and pass2["9001"]["inf_seniority_level"] == "senior"
    assert pass2["9002"]["status"] == "complete"
    out = read_output(tmp_path, "silver_ai")
    errors = json.loads(out["9001"]["enrichment_errors"])
    assert errors["pass2"]["error_class"] == "truncated"
    assert errors["pass3"]["error_class"] == "upstream_failed"
    assert out["9002"]["pass3_success"]


def test_one_megabyte_answer_past_the_cap_is_ungrounded_not_trusted(
    tmp_path: Path, fake_bedrock
) -> None:
    """A server that ignores max_tokens returns a complete 1 MB answer (a 1 MB evidence
    string and thousands of unknown keys): it is read, the unknown keys are dropped as
    field issues, the evidence is not a quote, so its confidence is halved."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id == "9001" and pass_number == 2:
            role = data["inference"]["seniority_and_role"]
            role["job_family"]["evidence"] = "pipelines " * 100_000
            role.update({f"junk_{i}": i for i in range(2000)})
        return data

    run = _run(tmp_path, fake_bedrock, answer, enforce_max_tokens=False)

    assert run.success
    pass2 = read_output(tmp_path, "pass2")["9001"]
    assert pass2["status"] == "complete"
    assert (pass2["evidence_checked"], pass2["evidence_grounded"]) == (2, 1)
    assert pass2["inf_job_family_confidence"] == 0.45
    assert read_output(tmp_path, "silver_ai")["9002"]["pass3_success"]


def test_truncated_reasoning_only_and_wrong_shape_answers_are_per_record_errors(
    tmp_path: Path, fake_bedrock
) -> None:
    """Cut answers, reasoning without JSON, prose, an array and another pass's JSON: each is
    that record's typed error after the allowed retry/re-ask, salvaged fields are kept as
    partial (never as success); healthy records complete. A second run sends only the
    failed records: the answers already paid for come from the cache."""
    postings = {f"95{i:02d}": f"{DEFAULT_DESCRIPTION} Team number {i}." for i in range(7)}
    broken: dict[str, str] = {
        "9501": "truncated",          # fake cuts the text and says stopReason max_tokens
        "9502": "reasoning_only",     # only a reasoning block, no text
    }
    texts: dict[str, str] = {
        "9503": "<thinking>The salary is probably $150k; I should answer in JSON.</thinking>",
        "9504": "I'm sorry, I cannot help with this posting.",
        "9505": json.dumps([good_answer(1, "9001")]),
        "9506": json.dumps(good_answer(2, "9001")),  # a pass-2 object for a pass-1 request
    }

    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        if pass_number == 1 and record_id in texts:
            return texts[record_id]
        return good_answer(pass_number, "9001")

    write_silver(tmp_path, silver_table([silver_row(i, text) for i, text in postings.items()]))
    fake_bedrock.configure(answer=_serve(answer),
                           fail_records={r: f"always_{kind}" for r, kind in broken.items()})
    defs = defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url))
    run = run_job(defs)

    assert run.success
    pass1 = read_output(tmp_path, "pass1")
    expected = {"9501": ("partial", "truncated"), "9502": ("failed", "truncated"),
                "9503": ("failed", "no_json"), "9504": ("failed", "no_json"),
                "9505": ("failed", "not_object"), "9506": ("failed", "missing_core")}
    for record_id, (status, error_class) in expected.items():
        row = pass1[record_id]
        assert (row["status"], row["error_class"]) == (status, error_class), record_id
        assert not row["success"] and row["error_message"], record_id
        assert row["attempts"] == 2 and row["raw_text"] is not None, record_id
    assert pass1["9501"]["ext_salary_min"] == 150000.0  # salvaged, stored as partial
    assert pass1["9500"]["status"] == "complete"
    out = read_output(tmp_path, "silver_ai")
    assert [r for r, row in out.items() if row["pass3_success"]] == ["9500"]
    assert all(json.loads(out[r]["enrichment_errors"])["pass1"]["error_class"] == c
               for r, (_, c) in expected.items())

    fake_bedrock.reset_stats()
    again = run_job(defs)

    assert again.success
    calls = fake_bedrock.stats.per_record_calls
    assert "9500" not in calls  # complete answers are never paid for twice
    assert set(calls) == set(expected)
    assert again.metadata("pass1")["cache_hits"] == 1


def test_posting_markdown_and_tags_quoted_in_an_answer_do_not_break_it(
    tmp_path: Path, fake_bedrock
) -> None:
    """A posting holding a code fence and a ``<think>`` tag, quoted verbatim by the model:
    the answer is complete JSON, also when the model wraps it in its own fence."""
    quirky = ("Data Engineer. Paste this in your cover letter: ```json {\"ok\": true}``` "
              "and write <think> in the subject line. Salary: $150,000 - $180,000 per year.")
    quote = "Paste this in your cover letter: ```json {\"ok\": true}``` and write <think> in the"

    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        data = good_answer(pass_number, "9001")
        if pass_number == 1:
            data["extraction"]["context"] = {"team_info_text": quote}
            text = json.dumps(data)
            return f"```json\n{text}\n```" if record_id == "9602" else text
        return data

    write_silver(tmp_path, silver_table([silver_row("9601", quirky),
                                         silver_row("9602", quirky + " Remote.")]))
    fake_bedrock.configure(answer=_serve(answer))
    run = run_job(defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url)))

    assert run.success
    pass1 = read_output(tmp_path, "pass1")
    for record_id in ("9601", "9602"):
        row = pass1[record_id]
        assert row["status"] == "complete" and row["attempts"] == 1, record_id
        assert row["ext_team_info_text"] == quote, record_id
        assert row["evidence_grounded"] == row["evidence_checked"] == 2, record_id

