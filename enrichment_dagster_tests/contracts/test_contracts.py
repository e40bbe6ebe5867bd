"""Contracts: lenient validation, flattening, Arrow schemas, Silver records."""

from __future__ import annotations

import glob
import json
import random
import re
import string
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from enrichment_dagster.contracts import grounding
from enrichment_dagster.contracts.columns import empty_row, flatten_pass, pass_columns, pass_schema
from enrichment_dagster.contracts.grounding import is_grounded, normalize_for_match
from enrichment_dagster.contracts.lenient import ContractError, validate_pass
from enrichment_dagster.contracts.output import pass_table_schema, silver_ai_schema
from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output, Pass3Output
from enrichment_dagster.contracts.silver import (
    SILVER_SCHEMA,
    SilverRecord,
    clean_text,
    conform_silver,
    decode_text,
    normalize_posting_id,
)


def test_column_counts_follow_the_contract() -> None:
    assert len(pass_columns(1)) == 59
    assert len(pass_columns(2)) == 25 * 4
    assert len(pass_columns(3)) == 29 * 4 + 13
    names = [c.name for n in (1, 2, 3) for c in pass_columns(n)]
    assert len(names) == len(set(names))
    assert "anl_summary_strength_categories" in names and "inf_primary_cloud_evidence" in names


@pytest.mark.parametrize("pass_number", [1, 2, 3])
def test_all_null_record_has_the_same_arrow_schema(pass_number: int) -> None:
    table = pa.Table.from_pylist(
        [empty_row(pass_number), flatten_pass(pass_number, None)], schema=pass_schema(pass_number)
    )
    assert table.schema == pass_schema(pass_number)
    assert table.num_rows == 2


def test_round_trip_and_flatten_of_a_valid_pass2_answer() -> None:
    answer = {
        "inference": {
            "stack_and_cloud": {
                "primary_cloud": {
                    "value": "aws",
                    "confidence": 0.9,
                    "evidence": "AWS Glue",
                    "source": "explicit",
                }
            }
        }
    }
    validated = validate_pass(2, answer)
    again = Pass2Output.model_validate_json(validated.model.model_dump_json())
    assert again == validated.model
    row = flatten_pass(2, validated.model)
    assert row["inf_primary_cloud"] == "aws"
    assert row["inf_primary_cloud_confidence"] == 0.9
    assert row["inf_primary_cloud_evidence"] == "AWS Glue"
    assert row["inf_primary_cloud_source"] == "explicit"
    # Left out of a complete answer: "not stated", in the vocabulary's own word.
    assert row["inf_seniority_level"] == "not_mentioned"
    assert row["inf_seniority_level_confidence"] is None
    pa.Table.from_pylist([row], schema=pass_schema(2))


def test_one_bad_value_is_nulled_with_a_warning_not_a_failed_record() -> None:
    answer = {
        "extraction": {
            "work_model": {"work_model_stated": "On-site", "employment_type_stated": "gig"},
            "compensation": {
                "salary_min": "120,000",
                "salary_max": "not_mentioned",
                "salary_disclosed": "yes",
                "salry_currency": "USD",
            },
            "skills_classified": {
                "years_experience_min": 7,
                "years_experience_max": 3,
                "must_have_hard_skills": "Python, SQL",
            },
            "bogus_group": {"x": 1},
        }
    }
    v = validate_pass(1, answer)
    e = v.model.extraction
    assert e.work_model.work_model_stated == "onsite"
    assert e.work_model.employment_type_stated is None
    assert e.compensation.salary_min == 120000.0 and e.compensation.salary_max is None
    assert e.compensation.salary_disclosed is True
    assert e.compensation.salary_currency == "USD"  # misspelt key read
    assert e.skills_classified.years_experience_min is None  # min > max: both nulled
    assert e.skills_classified.must_have_hard_skills == ["Python", "SQL"]
    kinds = {(i.path, i.kind) for i in v.report.issues}
    assert ("extraction.work_model.employment_type_stated", "nulled") in kinds
    assert ("extraction.compensation.salry_currency", "renamed") in kinds
    assert ("extraction.bogus_group", "dropped") in kinds
    assert v.report.counts["nulled"] >= 3


def test_confidences_coerced_and_range_checked() -> None:
    answer = {
        "inference": {
            "seniority_and_role": {
                "seniority_level": {
                    "value": "Senior",
                    "confidence": "0.65",
                    "source": "pass1_extraction",
                },
                "job_family": {"value": "data_engineer", "confidence": 7},
                "sub_specialty": {"value": "batch_etl", "confidence": "high"},
                "leadership_expectation": "ic",
            }
        }
    }
    v = validate_pass(2, answer)
    role = v.model.inference.seniority_and_role
    assert role.seniority_level.value == "senior" and role.seniority_level.confidence == 0.65
    assert role.seniority_level.source == "pass1_derived"
    assert role.job_family.value == "data_engineer" and role.job_family.confidence is None
    assert role.sub_specialty.confidence is None
    assert role.leadership_expectation.value == "ic"  # bare value wrapped
    details = " ".join(i.detail for i in v.report.issues)
    assert "words" in details and "outside" in details


def test_record_fails_only_without_its_core() -> None:
    with pytest.raises(ContractError):
        validate_pass(2, {"something": 1})
    with pytest.raises(ContractError):
        validate_pass(1, {"extraction": {}})
    with pytest.raises(ContractError):
        validate_pass(3, ["not", "an", "object"])


def test_missing_wrapper_and_flat_fields_are_regrouped() -> None:
    v = validate_pass(2, {"seniority_level": {"value": "mid", "confidence": 0.8}})
    assert v.model.inference.seniority_and_role.seniority_level.value == "mid"
    assert any(i.kind == "wrapped" for i in v.report.issues)


def test_posting_ids_and_text_cleaning() -> None:
    assert normalize_posting_id("4348380694.0") == "4348380694"
    assert normalize_posting_id(4348380694.0) == "4348380694"
    assert normalize_posting_id(" 123 ") == "123"
    assert clean_text("We&#x2019;re  hiring &amp;amp; growing\n\n") == "We\u2019re hiring & growing"
    record = SilverRecord(
        job_posting_id="1.0", job_description_text="A &amp; B", skills_canonical=None
    )
    assert record.job_posting_id == "1" and record.description == "A & B"
    assert record.skills_canonical == []


def test_grounding_ignores_typography_but_not_words() -> None:
    posting = normalize_for_match("We\u2019re looking for 5\u20137 years of Python&amp;SQL.")
    assert is_grounded("we're looking for 5-7 years", posting) is True
    assert is_grounded("10 years of Python", posting) is False
    assert is_grounded("  ", posting) is None


#: Every character Python takes for whitespace (29 of them), in any string or pattern.
_WHITESPACE = "".join(c for c in map(chr, range(0x110000)) if c.isspace())


@pytest.mark.parametrize("seed", range(50))
def test_clean_text_collapses_every_kind_of_whitespace_as_the_rule_does(seed: int) -> None:
    """``clean_text`` collapses spaces with ``split``: the rule is ``\\s+`` to one space."""
    text = "".join(random.Random(seed).choices("ab é&amp;" + _WHITESPACE, k=80))
    assert clean_text(text) == re.sub(r"\s+", " ", decode_text(text)).strip()


@pytest.mark.parametrize("text", [
    "We\u2019re  looking\tfor 5\u20137 years\n\n of Python&amp;amp;SQL\u2026 ",
    "\u00a0Salary:\u202f$150,000\u00a0-\u00a0$180,000 \u2014 \u201cremote\u201d \r\n",
    "\u0130stanbul \u00c9QUIPE caf\u0065\u0301 \u2028 na\u00efve \u3000 \u0085 x",
    "  ...  N/A  ---  ",
    "\u212a\u212b 5\u00b0 K",  # the Kelvin sign lowercases to an ASCII k
    "C++/C# (x86_64) & R&amp;D: 40%+ of $2.5M; e-mail: a@b.io \x00\x1f\x7f |~`^'",
    "",
    *(
        "".join(random.Random(seed).choices(string.printable + "\x0b\x1c\x85\u2019", k=40))
        for seed in range(200)
    ),
    *(  # non-ASCII text: letters of other scripts, marks, currency, symbols, spaces
        "".join(random.Random(seed).choices(
            string.printable + "é€£₹¥©®•·\u00a0\u2009\u3000\u0301\u200b\u2019\u201c\u2014"
            "\u2026ßİıЖжΩ中文ع\U0001f600\ufeff\u2028", k=60))
        for seed in range(200)
    ),
])
def test_normalize_for_match_equals_cleaning_then_matching_rules(text: str) -> None:
    """The fast paths (no separate collapse of spaces, a table for ASCII punctuation) give
    what the rule says: ``clean_text``, typography unified, lowercased, every run of
    spaces and punctuation one space."""
    rule = clean_text(text).translate(grounding._TYPOGRAPHY).lower()
    assert normalize_for_match(text) == grounding._NON_WORD.sub(" ", rule).strip()


def _grounded_by_the_rule(evidence: str | None, posting: str) -> bool | None:
    """is_grounded as first written: every '...'-joined piece present as whole words."""
    if not evidence or not evidence.strip():
        return None
    needle = normalize_for_match(evidence)
    if not needle:
        return None
    pieces = [p.strip() for p in re.split(r"\s*\.\.\.\s*", needle) if p.strip()]
    if not any(re.search(r"\w", piece) for piece in pieces):
        return False

    def word(char: str) -> bool:
        return char.isalnum() or char == "_"

    def contains(piece: str) -> bool:
        at = posting.find(piece)
        while at >= 0:
            before = posting[at - 1] if at else " "
            end = at + len(piece)
            after = posting[end] if end < len(posting) else " "
            if not (word(before) and word(piece[0])) and not (word(after) and word(piece[-1])):
                return True
            at = posting.find(piece, at + 1)
        return False

    return all(contains(piece) for piece in pieces)


def test_is_grounded_follows_the_rule_on_random_quotes() -> None:
    posting = normalize_for_match(
        "Join us in a team of 5 engineers... Senior role, $150,000-$180,000; C++/Go; _x_ 40%+."
    )
    words = posting.split() + ["...", "-", "$", "N/A", "eam", "engineer", " ", "", "\t", "&amp;"]
    rng = random.Random(7)
    quotes = [" ".join(rng.choices(words, k=rng.randint(1, 4))) for _ in range(3000)]
    quotes += [posting[i : i + n] for i in range(0, len(posting), 3) for n in (2, 5, 9)]
    for quote in quotes:
        assert is_grounded(quote, posting) is _grounded_by_the_rule(quote, posting), quote


def test_conform_silver_fills_missing_and_drops_extra_columns() -> None:
    table = pa.table({"job_posting_id": ["1.0"], "extra": [1], "job_title": ["x"]})
    out = conform_silver(table)
    assert out.schema == SILVER_SCHEMA
    assert out.column("job_posting_id").to_pylist() == ["1"]


def test_output_schemas_are_stable() -> None:
    schema = silver_ai_schema()
    assert schema.names[:33] == SILVER_SCHEMA.names
    assert len(schema.names) == len(set(schema.names))
    assert pass_table_schema(1).names[0] == "job_posting_id"


# ------------------------------------------------------------------ real data


def test_real_silver_file_validates(shared_data: Path) -> None:
    (file,) = glob.glob(str(shared_data / "silver" / "**" / "*.parquet"), recursive=True)
    table = pq.read_table(file)
    assert table.num_columns == 33
    records = [SilverRecord.model_validate(r) for r in conform_silver(table).to_pylist()]
    assert len(records) == 84
    assert sum("&#x" in (r.job_description_text or "") for r in records) >= 60
    assert all("&#x" not in r.description and "&amp;" not in r.description for r in records)
    assert {r.salary_period for r in records} >= {"yr", "hr"}


def test_silver_ai_reference_rows_validate(shared_data: Path) -> None:
    rows = []
    for file in sorted((shared_data / "silver_ai_reference").glob("*.parquet")):
        rows.extend(pq.read_table(file).to_pylist())
    assert len(rows) == 185
    failures = 0
    for row in rows:
        try:
            validate_pass(1, json.loads(row["extraction_json"]))
            validate_pass(2, json.loads(row["inference_json"]))
            validate_pass(
                3,
                {
                    "analysis": json.loads(row["analysis_json"]),
                    "summary": json.loads(row["summary_json"]),
                },
            )
        except ContractError:
            failures += 1
    assert failures == 0
    ids = {normalize_posting_id(r["job_posting_id"]) for r in rows}
    assert not any(i.endswith(".0") for i in ids)
    assert sum(r["job_posting_id"].endswith(".0") for r in rows) == 111


def test_model_classes_export_json_schema() -> None:
    for model in (Pass1Output, Pass2Output, Pass3Output):
        schema = model.model_json_schema()
        assert schema["type"] == "object"


def test_grounding_matches_whole_words_and_refuses_empty_quotes() -> None:
    """"N/A" is not a quote of "in a team", and "..." quotes nothing: both are ungrounded,
    so the model's confidence in the field is discounted."""
    posting = normalize_for_match("Join us in a team of 5 engineers. Senior role, $150,000.")
    assert is_grounded("N/A", posting) is False
    assert is_grounded("...", posting) is False
    assert is_grounded("eam of 5", posting) is False
    assert is_grounded("in a team", posting) is True
    assert is_grounded("Senior role ... $150,000", posting) is True
