"""One test per quirk of real model output, built from the recorded answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrichment_dagster.cli import main
from enrichment_dagster.contracts.columns import flatten_pass
from enrichment_dagster.llm.parsing import parse_answer, parse_model_output


def _raw(shared: Path, job: str, name: str) -> str:
    return (shared / "llm_outputs" / job / name).read_text(encoding="utf-8")


def test_reasoning_block_is_removed(shared_data: Path) -> None:
    text = _raw(shared_data, "4201877691", "pass1-minimax-minimax-m2-raw.txt")
    assert "<reasoning>" in text
    answer = parse_answer(text, 1)
    assert answer.status == "complete"
    assert "reasoning block removed" in answer.parse.repairs
    assert answer.parse.reasoning


def test_markdown_fence_is_removed(shared_data: Path) -> None:
    text = _raw(shared_data, "4201877691", "pass1-google-gemma-3-27b-it-raw.txt")
    assert text.lstrip().startswith("```")
    answer = parse_answer(text, 1)
    assert answer.status == "complete" and "markdown fence removed" in answer.parse.repairs


def test_prose_around_json_is_ignored(shared_data: Path) -> None:
    body = _raw(shared_data, "4325829597", "pass2-openai-gpt-oss-120b-1-0-raw.txt")
    answer = parse_answer("Here is the JSON:\n" + body + "\nLet me know if you need more.", 2)
    assert answer.status == "complete"
    assert "prose before JSON ignored" in answer.parse.repairs


def test_missing_top_level_key_is_restored(shared_data: Path) -> None:
    text = _raw(shared_data, "4342322878", "pass2-openai-gpt-oss-120b-1-0-raw.txt")
    assert "inference" not in json.loads(text)
    answer = parse_answer(text, 2)
    assert answer.status == "complete"
    assert answer.output.inference.seniority_and_role.seniority_level.value is not None


def test_single_quoted_string(shared_data: Path) -> None:
    text = _raw(shared_data, "4348603303", "pass3-minimax-minimax-m2-raw.txt")
    answer = parse_answer(text, 3)
    assert answer.status == "complete"
    assert "single-quoted string read" in answer.parse.repairs


def test_trailing_commas(shared_data: Path) -> None:
    body = _raw(shared_data, "4325829597", "pass2-openai-gpt-oss-120b-1-0-raw.txt").rstrip()
    broken = body[:-1].rstrip()[:-1] + "},\n}"  # "...}\n}" -> "...},\n}"
    with pytest.raises(json.JSONDecodeError):
        json.loads(broken)
    answer = parse_answer("```json\n" + broken + "\n```", 2)
    assert answer.status == "complete" and "trailing comma removed" in answer.parse.repairs


def test_string_confidences_are_coerced(shared_data: Path) -> None:
    text = _raw(shared_data, "4348556911", "pass2-qwen-qwen3-vl-235b-a22b-raw.txt")
    assert '"confidence": "0' in text
    answer = parse_answer(text, 2)
    assert answer.status == "complete"
    assert any("string '0." in i.detail for i in answer.report.issues)


def test_truncated_answer_is_partial_with_completed_fields(shared_data: Path) -> None:
    text = _raw(shared_data, "4201877691", "pass1-openai-gpt-oss-120b-1-0-raw.txt")
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    answer = parse_answer(text, 1)
    assert answer.status == "partial"
    assert answer.report.count("missing") > 0
    row = flatten_pass(1, answer.output)
    assert sum(v not in (None, []) for v in row.values()) >= 10


def test_truncation_drops_the_half_written_field() -> None:
    text = (
        '{"extraction": {"compensation": {"salary_disclosed": true, "salary_min": 100000},'
        ' "skills_classified": {"must_have_hard_skills": ["Python", "SQ'
    )
    result = parse_model_output(text, 1)
    assert result.status == "partial"
    skills = result.data["extraction"]["skills_classified"]
    assert "must_have_hard_skills" not in skills  # half a list is not passed off as a list
    assert result.data["extraction"]["compensation"]["salary_min"] == 100000


def test_reasoning_only_answer_is_no_json(shared_data: Path) -> None:
    text = _raw(shared_data, "4324537833", "pass1-minimax-minimax-m2-raw.txt")
    answer = parse_answer(text, 1)
    assert answer.status == "no_json" and answer.error_class == "no_json"


@pytest.mark.parametrize(
    "text, error_class",
    [
        ("", "empty"),
        ("   ", "empty"),
        ('[{"extraction": {}}]', "not_object"),
        ('{"extraction": }', "invalid_json"),
        ("I cannot help with that.", "no_json"),
    ],
)
def test_unusable_answers_get_a_typed_error(text: str, error_class: str) -> None:
    answer = parse_answer(text, 1)
    assert not answer.ok and answer.error_class == error_class


def test_parse_report_meets_the_acceptance_figures(shared_data: Path, capsys) -> None:
    assert main(["parse-report", str(shared_data / "llm_outputs"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    totals = report["totals"]
    assert totals["files"] == 1403
    assert totals["failed"] == 0
    by = {(r["model"], r["pass"]): r for r in report["by_model_pass"]}
    assert by[("openai-gpt-oss-120b-1-0", 1)]["partial"] == 15
    assert by[("minimax-minimax-m2", 1)]["no_json"] == 23
    complete_json = totals["files"] - totals["partial"] - totals["no_json"]
    assert totals["complete"] / complete_json >= 0.995
    entry = report["files"][0]
    assert set(entry) >= {"path", "model", "pass", "status", "error_class", "coerced_fields"}


@pytest.mark.parametrize("wrap", ["{}", "```json\n{}\n```", "Here it is:\n{}"])
def test_markup_quoted_from_the_posting_stays_inside_its_string(wrap: str) -> None:
    """A posting holding a code fence or a reasoning tag, quoted verbatim in the answer, is
    text: it opens no fence and no reasoning block, so the answer stays complete."""
    quote = 'Paste ```json {"ok": true}``` and write <think> in the subject'
    body = json.dumps({"extraction": {"context": {"team_info_text": quote},
                                      "work_model": {"work_model_stated": "remote"}}})
    answer = parse_answer(wrap.replace("{}", body), 1)
    assert answer.status == "complete", answer.error
    assert answer.output.extraction.context.team_info_text == quote


def test_a_truncated_answer_quoting_a_fence_is_salvaged_from_the_real_json() -> None:
    body = json.dumps({"extraction": {"work_model": {"work_model_stated": "remote"},
                                      "context": {"team_info_text": "x ```json {\"a\": 1}``` y"},
                                      "compensation": {"salary_min": 100000}}})
    answer = parse_answer(body[:-40], 1)
    assert answer.status == "partial"
    assert answer.output.extraction.work_model.work_model_stated == "remote"
