"""Silver rows in, stored tables out: every keyed record exactly once, nothing dropped silently."""

import json

import pyarrow as pa

from enrichment_dagster.contracts.lenient import validate_pass
from enrichment_dagster.contracts.output import pass_table_schema, silver_ai_schema
from enrichment_dagster.engine.results import RecordResult
from enrichment_dagster.engine.tables import (
    build_silver_ai,
    outputs_from_table,
    pass_table,
    prepare_silver,
    summarize_pass,
)

P1 = validate_pass(1, {"extraction": {"work_model": {"work_model_stated": "remote"}}}).model
P2 = validate_pass(2, {"inference": {"seniority_and_role": {
    "seniority_level": {"value": "senior", "confidence": 0.9},
    "job_family": {"value": "data_engineer", "confidence": 0.3}}}}).model


def _silver() -> pa.Table:
    return pa.table({
        "job_posting_id": ["1", "2.0", "2", None, "3"],
        "job_title": ["a", "b", "b again", "no id", "c"],
        "extra_upstream_column": [1, 2, 3, 4, 5],
    })


def test_prepare_silver_dedups_and_reports_unkeyed_rows() -> None:
    batch = prepare_silver(_silver())
    assert [r.job_posting_id for r in batch.records] == ["1", "2", "3"]
    assert batch.table.column("job_posting_id").to_pylist() == ["1", "2", "3"]
    assert batch.duplicate_ids == ["2"]
    assert len(batch.invalid_rows) == 1 and batch.invalid_rows[0].startswith("row 3:")
    assert "extra_upstream_column" not in batch.table.column_names


def _results(pass_number: int, output, failing: str) -> list[RecordResult]:
    return [
        RecordResult(record_id=i, pass_number=pass_number, success=i != failing,
                     output=output if i != failing else None,
                     error_class=None if i != failing else "no_json",
                     error_message=None if i != failing else "reasoning only",
                     attempts=1, input_tokens=100, output_tokens=50, cost_usd=0.0001,
                     model_id="m", prompt_version=f"p{pass_number}-x",
                     raw_text_of_failure=None if i != failing else "<reasoning>...")
        for i in ("1", "2", "3")
    ]


def test_pass_tables_and_silver_ai_keep_every_record() -> None:
    batch = prepare_silver(_silver())
    t1 = pass_table(1, _results(1, P1, failing="2"))
    t2 = pass_table(2, _results(2, P2, failing="3"))
    t3 = pass_table(3, _results(3, None, failing="none"))
    assert t1.schema == pass_table_schema(1)
    assert t1.column("status").to_pylist() == ["complete", "failed", "complete"]
    assert t1.column("raw_text").to_pylist()[1] == "<reasoning>..."
    context = outputs_from_table(1, t1)
    assert context["1"] == P1 and context["2"] is None

    table = build_silver_ai(batch, {1: t1, 2: t2, 3: t3})
    assert table.schema == silver_ai_schema()
    rows = {r["job_posting_id"]: r for r in table.to_pylist()}
    assert list(rows) == ["1", "2", "3"]
    assert rows["1"]["ext_work_model_stated"] == "remote"
    assert rows["2"]["pass1_success"] is False
    errors = json.loads(rows["2"]["enrichment_errors"])
    assert errors["pass1"] == {"error_class": "no_json", "message": "reasoning only", "attempts": 1}
    assert rows["1"]["avg_confidence_pass2"] == 0.6  # mean of 0.9 and 0.3
    assert rows["1"]["low_confidence_fields"] == ["inf_job_family"]
    assert rows["1"]["enrichment_input_tokens"] == 300
    assert rows["1"]["enrichment_version"].startswith("schema=4.0;p1=p1-x")

    summary = summarize_pass(2, t2)
    assert summary["records"] == 3 and summary["failed"] == 1
    assert summary["success_rate"] == round(2 / 3, 4)


def test_prepare_silver_repairs_invalid_utf8_and_refuses_an_undecodable_id() -> None:
    """Parquet lets a writer store invalid UTF-8 in a string column: the text is repaired
    (U+FFFD) and its row kept and reported; an id that is not UTF-8 cannot be keyed."""
    def broken(values: list[bytes | None]) -> pa.Array:
        return pa.array(values, pa.binary()).view(pa.string())

    raw = pa.table({
        "job_posting_id": broken([b"1", b"\xff2", b"3"]),
        "job_description_text": broken([b"caf\xe9", b"ok", b"fine"]),
        "skills_canonical": pa.ListArray.from_arrays(pa.array([0, 1, 1, 2], pa.int32()),
                                                     broken([b"Py\xfe", b"SQL"])),
        "extra_upstream_column": broken([b"\xff", b"\xff", b"\xff"]),  # never read
    })
    batch = prepare_silver(raw)
    assert [r.job_posting_id for r in batch.records] == ["1", "3"]
    assert batch.records[0].job_description_text == "caf\ufffd"
    assert batch.records[0].skills_canonical == ["Py\ufffd"]
    assert batch.repaired_rows == [
        "row 0 (id 1): invalid UTF-8 in job_description_text, skills_canonical replaced with U+FFFD"]
    assert batch.invalid_rows == ["row 1: job_posting_id '\ufffd2' is not valid UTF-8; "
                                  "the row cannot be keyed"]
    batch.table.validate(full=True)
