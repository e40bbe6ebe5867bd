"""ReplayBackend on synthetic folders and on the real recorded outputs in shared data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enrichment_dagster.llm.replay import ReplayBackend, looks_truncated, model_slug
from enrichment_dagster.llm.types import (
    LLMRequest,
    Message,
    MissingAnswerError,
)

GPT_OSS = "openai.gpt-oss-120b-1:0"
GEMMA = "google.gemma-3-27b-it"
MINIMAX = "minimax.minimax-m2"


def make_request(record_id: str, pass_number: int = 1, model_id: str = GPT_OSS) -> LLMRequest:
    return LLMRequest(
        record_id=record_id,
        pass_number=pass_number,  # type: ignore[arg-type]
        messages=(Message("user", "posting"),),  # replay reads record_id, not the prompt
        model_id=model_id,
        max_output_tokens=1000,
    )


def test_model_slug() -> None:
    assert model_slug(GPT_OSS) == "openai-gpt-oss-120b-1-0"
    assert model_slug("a/b.c:d") == "a-b-c-d"


@pytest.mark.parametrize(
    ("text", "truncated"),
    [
        ('{"a": {"b": 1}}', False),
        ('```json\n{"a": 1}\n```', False),
        ('{"a": {"b": 1', True),
        ('{"a": "text with } brace', True),
        ('{"a": "escaped \\" quote and } brace"}', False),
        ("<reasoning>{ unbalanced thoughts</reasoning>no json at all", False),
        ('<reasoning>think { { </reasoning>{"a": 1}', False),
        ("<reasoning>still thinking when the budget ran out", True),
        ("", False),
    ],
)
def test_truncation_detection(text: str, truncated: bool) -> None:
    assert looks_truncated(text) is truncated


def test_replays_a_synthetic_folder(tmp_path: Path) -> None:
    record = tmp_path / "42"
    record.mkdir()
    (record / "pass2-openai-gpt-oss-120b-1-0-raw.txt").write_text(
        '<reasoning>why</reasoning>{"inference": {}}', encoding="utf-8"
    )
    (record / "pass2-openai-gpt-oss-120b-1-0.json").write_text(
        json.dumps({"result": {"input_tokens": 10, "output_tokens": 7, "tokens": 17}})
    )
    backend = ReplayBackend(tmp_path, GPT_OSS)

    response = backend.complete(make_request("42", 2, model_id="whatever.asked-for"))

    assert response.text == '<reasoning>why</reasoning>{"inference": {}}'
    assert response.reasoning_text == "why"
    assert (response.input_tokens, response.output_tokens) == (10, 7)
    assert response.stop_reason == "end_turn" and response.model_id == GPT_OSS


def test_missing_answer_names_the_path(tmp_path: Path) -> None:
    backend = ReplayBackend(tmp_path)
    with pytest.raises(MissingAnswerError) as caught:
        backend.complete(make_request("nope", 3, model_id=GEMMA))
    assert str(tmp_path / "nope" / "pass3-google-gemma-3-27b-it-raw.txt") in str(caught.value)


def test_record_ids_cannot_escape_the_folder(tmp_path: Path) -> None:
    """A hostile id names an escaped folder inside the replay folder: an answer planted
    outside it under the id's literal path is never read."""
    folder = tmp_path / "replay"
    folder.mkdir()
    backend = ReplayBackend(folder, GPT_OSS)
    planted = backend.answer_path("etc", 1, GPT_OSS).name
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / planted).write_text('{"planted": true}')
    assert backend.answer_path("../etc", 1, GPT_OSS).parent.parent == folder
    with pytest.raises(MissingAnswerError):
        backend.complete(make_request("../etc"))


# ------------------------------------------------------------------ real recorded outputs
@pytest.fixture
def llm_outputs(shared_data: Path) -> Path:
    return shared_data / "llm_outputs"


def test_real_answer_with_pass1_token_keys(llm_outputs: Path) -> None:
    response = ReplayBackend(llm_outputs, GEMMA).complete(make_request("4201877691", 1, GEMMA))
    raw = (llm_outputs / "4201877691" / "pass1-google-gemma-3-27b-it-raw.txt").read_text()
    assert response.text == raw
    assert (response.input_tokens, response.output_tokens) == (5772, 1086)
    assert response.stop_reason == "end_turn"


def test_real_answer_with_pass2_token_keys(llm_outputs: Path) -> None:
    response = ReplayBackend(llm_outputs, GEMMA).complete(make_request("4201877691", 2, GEMMA))
    assert (response.input_tokens, response.output_tokens) == (6942, 1622)


def test_the_15_truncated_gpt_oss_pass1_answers_are_flagged(llm_outputs: Path) -> None:
    backend = ReplayBackend(llm_outputs, GPT_OSS)
    records = sorted(
        path.parent.name for path in llm_outputs.glob("*/pass1-openai-gpt-oss-120b-1-0-raw.txt")
    )
    truncated = [r for r in records if backend.complete(make_request(r)).truncated]

    assert len(truncated) == 15
    for record in truncated:
        # The old parser failed on them, so there is no result file and no token count.
        assert not (llm_outputs / record / "pass1-openai-gpt-oss-120b-1-0.json").exists()
        assert backend.complete(make_request(record)).input_tokens == 0


def test_minimax_reasoning_only_answers_are_not_truncation(llm_outputs: Path) -> None:
    backend = ReplayBackend(llm_outputs, MINIMAX)
    reasoning_only = [
        path.parent.name
        for path in llm_outputs.glob("*/pass1-minimax-minimax-m2-raw.txt")
        if "{" not in path.read_text(encoding="utf-8").split("</reasoning>")[-1]
    ]
    assert reasoning_only
    response = backend.complete(make_request(reasoning_only[0], 1, MINIMAX))
    assert response.stop_reason == "end_turn"
    assert response.reasoning_text


def test_missing_real_answer(llm_outputs: Path) -> None:
    backend = ReplayBackend(llm_outputs, "deepseek.r1-v1:0")
    with pytest.raises(MissingAnswerError, match="pass1-deepseek-r1-v1-0-raw.txt"):
        backend.complete(make_request("4201877691", 1))
