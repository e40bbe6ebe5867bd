"""Answers that are paid for but break the reader, the writer or the record (issue 12,
classes 4, 5 and 11; docs/faults.md, part 2).

The law: every billed call is counted (attempts, tokens, cost, raw text) whatever its
answer holds; an answer that cannot be used is a typed per-record error, counted against
the attempt cap like any bad answer; one value nulls one field, one character never costs
a partition; an answer about another posting never becomes this record's data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from enrichment_dagster_tests.faults.harness import (
    bedrock_llm,
    defs_for,
    read_output,
    run_job,
    silver_row,
    silver_table,
    write_silver,
)
from enrichment_dagster_tests.faults.test_hostile_answers import POSTINGS, _serve, good_answer

OTHER_QUOTES = {
    "salary_text_raw": "Compensation: CHF 250,000 - CHF 300,000 per year.",
    "location_restriction_text": "Relocation to Zurich required",
    "work_auth_text": "Must hold a Swiss work permit",
}


def _setup(tmp_path: Path, fake_bedrock, answer, **llm: Any):
    write_silver(tmp_path, silver_table([silver_row(i, text) for i, text in POSTINGS.items()]))
    fake_bedrock.configure(answer=_serve(answer))
    return defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url, **llm))


def _pass1_text(record_id: str, hostile: str) -> str:
    """A valid pass-1 answer whose ``salary_min`` is the raw JSON text ``hostile``."""
    data = good_answer(1, record_id)
    data["extraction"]["compensation"]["salary_min"] = "@@"
    return json.dumps(data).replace('"@@"', hostile)


# ------------------------------------------------------------------ class 4: counted


DEEP = {
    "array_10000": '{"extraction": ' + "[" * 10_000 + "]" * 10_000 + "}",
    "object_5000_single_quoted": "{'extraction': " + '{"a": ' * 5_000 + "1" + "}" * 5_000 + "}",
    "unclosed_20000": '{"extraction": {"compensation": ' + "[" * 20_000,
    "fenced_deep": "```json\n" + '{"extraction": ' + '{"x": [' * 3_000 + "\n```",
}


@pytest.mark.parametrize("case", sorted(DEEP))
def test_deeply_nested_answers_are_counted_typed_and_capped(
    tmp_path: Path, fake_bedrock, case: str
) -> None:
    """JSON nested thousands deep: a typed ``invalid_json`` error (never RecursionError nor
    ``internal``), both paid calls counted with tokens, cost and raw text; the ledger caps
    it: the third run sends nothing."""
    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        return DEEP[case] if record_id == "9001" and pass_number == 1 else good_answer(
            pass_number, record_id)

    defs = _setup(tmp_path, fake_bedrock, answer, max_attempts_per_record=2)
    for run_number in (1, 2):
        fake_bedrock.reset_stats()
        assert run_job(defs).success
        row = read_output(tmp_path, "pass1")["9001"]
        assert (row["status"], row["error_class"]) == ("failed", "invalid_json"), run_number
        assert row["attempts"] == 2 and fake_bedrock.stats.per_record_billed["9001"] == 2
        assert row["input_tokens"] > 0 and row["output_tokens"] > 0 and row["cost_usd"] > 0
        assert row["raw_text"] and "nested deeper" in row["error_message"]
        assert read_output(tmp_path, "pass1")["9002"]["status"] == "complete"
    fake_bedrock.reset_stats()
    assert run_job(defs).success
    assert fake_bedrock.stats.per_record_calls == {}  # capped; 9002 is cached
    row = read_output(tmp_path, "pass1")["9001"]
    assert row["error_class"] == "permanently_failed" and row["raw_text"]


HUGE = {
    "int_400_digits": "1" * 400,
    "int_5000_digits": "9" * 5_000,
    "negative_int_4400_digits": "-" + "7" * 4_400,
    "float_1e400": "1e400",
    "nan": "NaN",
    "infinity": "Infinity",
}


@pytest.mark.parametrize("case", sorted(HUGE))
@pytest.mark.parametrize("layout", ["plain", "single_quoted"])
def test_an_out_of_range_number_nulls_its_field_only(
    tmp_path: Path, fake_bedrock, case: str, layout: str
) -> None:
    """Integers of hundreds or thousands of digits, 1e400, NaN, Infinity: that field is
    nulled and counted (``nulled_values``); the rest of the answer is kept, the record
    completes with one call, and a rerun pays nothing."""
    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        if record_id == "9001" and pass_number == 1:
            text = _pass1_text(record_id, HUGE[case])
            # single quotes send the answer through the tolerant reader
            return text.replace('"USD"', "'USD'") if layout == "single_quoted" else text
        return good_answer(pass_number, record_id)

    defs = _setup(tmp_path, fake_bedrock, answer)
    assert run_job(defs).success
    row = read_output(tmp_path, "pass1")["9001"]
    assert row["status"] == "complete" and row["attempts"] == 1
    assert row["ext_salary_min"] is None and row["nulled_values"] == 1
    assert row["ext_salary_max"] == 180000.0 and row["ext_salary_currency"] == "USD"
    assert read_output(tmp_path, "silver_ai")["9001"]["pass1_success"]
    fake_bedrock.reset_stats()
    assert run_job(defs).success
    assert fake_bedrock.stats.per_record_calls == {}


def test_an_exception_nobody_foresaw_is_a_typed_counted_error(
    tmp_path: Path, fake_bedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever the validator raises on one answer (here a KeyError injected into it) is
    that answer's ``unparseable`` error with its calls, tokens and raw text counted, not an
    ``internal`` error with 0 attempts."""
    from enrichment_dagster.llm import parsing

    real = parsing.validate_pass

    def flaky(pass_number: int, data: Any, **options: Any):
        if pass_number == 1 and "Salary: $150,000" in json.dumps(data):
            raise KeyError("surprise")
        return real(pass_number, data, **options)

    monkeypatch.setattr(parsing, "validate_pass", flaky)
    defs = _setup(tmp_path, fake_bedrock, good_answer)
    assert run_job(defs).success
    row = read_output(tmp_path, "pass1")["9001"]
    assert (row["status"], row["error_class"]) == ("failed", "unparseable")
    assert row["attempts"] == 2 and row["output_tokens"] > 0 and row["raw_text"]
    assert "KeyError" in row["error_message"]
    assert read_output(tmp_path, "pass1")["9002"]["status"] == "complete"


# ------------------------------------------------------------------ class 5: one character


SURROGATES = {
    "escaped_in_a_value": ("json", lambda t: t.replace("per year.", "per year. \\ud800")),
    "escaped_low_half_in_a_value": ("json", lambda t: t.replace("per year.", "per \\udfff year.")),
    "escaped_in_a_key": ("json", lambda t: t.replace('"work_model"', '"work_model\\ud800"')),
    "raw_in_the_text": ("raw", lambda t: "\ud800 " + t),
    "split_pair_single_quoted": (
        "json", lambda t: t.replace('"USD"', "'USD'").replace("per year.", "per \\ud83d\\ude00 year.")),
}


@pytest.mark.parametrize("case", sorted(SURROGATES))
def test_a_lone_surrogate_is_replaced_and_the_partition_completes(
    tmp_path: Path, fake_bedrock, case: str
) -> None:
    """A lone surrogate in a value, a key or the raw text of an answer: the text is made
    valid where it enters (U+FFFD), the pass tables and silver_ai are written, the record
    completes and a rerun pays nothing."""
    _, mutate = SURROGATES[case]

    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        if record_id == "9001":
            return mutate(json.dumps(good_answer(pass_number, record_id)))
        return good_answer(pass_number, record_id)

    defs = _setup(tmp_path, fake_bedrock, answer)
    run = run_job(defs)
    assert run.success
    out = read_output(tmp_path, "silver_ai")
    assert out["9001"]["pass1_success"] and out["9001"]["pass3_success"]
    text = json.dumps(out["9001"], default=str, ensure_ascii=False)
    text.encode("utf-8")  # valid everywhere
    if case == "split_pair_single_quoted":
        assert "\U0001f600" in out["9001"]["ext_salary_text_raw"]
    elif "value" in case:
        assert "\ufffd" in out["9001"]["ext_salary_text_raw"]
    fake_bedrock.reset_stats()
    assert run_job(defs).success
    assert fake_bedrock.stats.per_record_calls == {}


def test_a_lone_surrogate_in_a_failed_answer_is_kept_valid(tmp_path: Path, fake_bedrock) -> None:
    """Prose (no JSON) with a lone surrogate: the record fails as ``no_json`` with its raw
    text kept (made valid), counted twice, and the partition's tables are written."""
    def answer(pass_number: int, record_id: str) -> str | dict[str, Any]:
        if record_id == "9001" and pass_number == 1:
            return "Sorry \ud800 I cannot \udc00 answer."
        return good_answer(pass_number, record_id)

    defs = _setup(tmp_path, fake_bedrock, answer)
    assert run_job(defs).success
    row = read_output(tmp_path, "pass1")["9001"]
    assert (row["status"], row["error_class"], row["attempts"]) == ("failed", "no_json", 2)
    assert row["raw_text"] == "Sorry \ufffd I cannot \ufffd answer."


# ------------------------------------------------------------------ class 11: other posting


def _other_posting(pass_number: int, record_id: str, how: str) -> dict[str, Any]:
    data = good_answer(pass_number, record_id)
    if pass_number == 1 and how != "id_only":
        compensation = data["extraction"]["compensation"]
        compensation.update(salary_min=250000, salary_max=300000, salary_currency="CHF",
                            salary_text_raw=OTHER_QUOTES["salary_text_raw"])
        data["extraction"]["work_model"]["location_restriction_text"] = OTHER_QUOTES[
            "location_restriction_text"]
        data["extraction"]["work_authorization"] = {"work_auth_text": OTHER_QUOTES["work_auth_text"]}
    if how in ("top_level_id", "id_only"):
        data["job_posting_id"] = "4711"
    elif how == "int_id_in_core":
        data[next(iter(data))]["job_id"] = 4711
    elif how == "metadata_wrapper":
        data["metadata"] = {"jobPostingId": "4711.0"}
    return data


@pytest.mark.parametrize("how", ["top_level_id", "int_id_in_core", "metadata_wrapper",
                                 "quotes_only", "id_only"])
def test_an_answer_about_another_posting_is_an_error_not_this_records_data(
    tmp_path: Path, fake_bedrock, how: str
) -> None:
    """An answer that states another posting's id, or whose pass-1 quotes are nearly all
    absent from this posting: ``wrong_posting``, counted as an attempt, raw text kept, no
    value stored, nothing cached (the next run asks again, up to the cap)."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        if record_id == "9002" and pass_number == 1:
            return _other_posting(pass_number, record_id, how)
        return good_answer(pass_number, record_id)

    defs = _setup(tmp_path, fake_bedrock, answer, max_attempts_per_record=2)
    assert run_job(defs).success
    row = read_output(tmp_path, "pass1")["9002"]
    assert (row["status"], row["error_class"]) == ("failed", "wrong_posting")
    assert row["attempts"] == 1 and row["raw_text"] and row["output_tokens"] > 0
    assert row["ext_salary_min"] is None and row["ext_salary_currency"] is None
    out = read_output(tmp_path, "silver_ai")
    assert not out["9002"]["pass1_success"] and out["9002"]["ext_salary_min"] is None
    assert json.loads(out["9002"]["enrichment_errors"])["pass1"]["error_class"] == "wrong_posting"
    assert out["9001"]["pass1_success"]
    fake_bedrock.reset_stats()
    assert run_job(defs).success
    assert fake_bedrock.stats.per_record_billed == {"9002": 1}  # not cached: asked again
    fake_bedrock.reset_stats()
    assert run_job(defs).success
    assert fake_bedrock.stats.per_record_calls == {}  # the cap holds
    row = read_output(tmp_path, "pass1")["9002"]
    assert row["error_class"] == "permanently_failed" and row["ext_salary_min"] is None


def test_a_pass2_answer_stating_another_id_is_refused(tmp_path: Path, fake_bedrock) -> None:
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id == "9001" and pass_number == 2:
            data["record_id"] = "9002"
        return data

    assert run_job(_setup(tmp_path, fake_bedrock, answer)).success
    row = read_output(tmp_path, "pass2")["9001"]
    assert (row["error_class"], row["inf_seniority_level"]) == ("wrong_posting", None)
    assert read_output(tmp_path, "pass2")["9002"]["status"] == "complete"


@pytest.mark.parametrize("stated", ["9002", "9002.0", 9002, None, "N/A", ""])
def test_an_answer_stating_its_own_id_or_none_is_kept(
    tmp_path: Path, fake_bedrock, stated: Any
) -> None:
    """The rule is not tripped by the record's own id (also as a number or ``"….0"``), by
    an empty id, or by one ungrounded quote among grounded ones."""
    def answer(pass_number: int, record_id: str) -> dict[str, Any]:
        data = good_answer(pass_number, record_id)
        if record_id == "9002":
            data["job_posting_id"] = stated
            if pass_number == 1:
                data["extraction"]["work_model"]["location_restriction_text"] = "US only"
        return data

    assert run_job(_setup(tmp_path, fake_bedrock, answer)).success
    out = read_output(tmp_path, "silver_ai")["9002"]
    assert out["pass1_success"] and out["pass2_success"] and out["ext_salary_min"] == 120000.0
