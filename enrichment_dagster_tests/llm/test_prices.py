"""The price table is data, complete for the supported models, and never guesses a price."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrichment_dagster.llm import prices
from enrichment_dagster.llm.prices import cost_usd, get_model, known_models
from enrichment_dagster.llm.types import ConfigurationError

#: USD per 1M tokens (input, output): the figures the project was asked to use.
LIST_PRICES = {
    "openai.gpt-oss-120b-1:0": (0.15, 0.60),
    "minimax.minimax-m2": (0.30, 1.20),
    "qwen.qwen3-vl-235b-a22b": (0.22, 0.88),
    "google.gemma-3-27b-it": (0.23, 0.38),
    "deepseek.r1-v1:0": (1.35, 5.40),
    "mistral.mistral-large-3-675b-instruct": (2.00, 6.00),
    "anthropic.claude-3-haiku-20240307-v1:0": (0.25, 1.25),
}


@pytest.fixture(autouse=True)
def _packaged_table_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(prices.MODELS_FILE_ENV, raising=False)


@pytest.mark.parametrize(("model_id", "expected"), sorted(LIST_PRICES.items()))
def test_list_prices_and_batch_half_price(model_id: str, expected: tuple[float, float]) -> None:
    spec = get_model(model_id)
    assert (spec.input_per_1m, spec.output_per_1m) == pytest.approx(expected)
    assert spec.batch_input_per_1m == pytest.approx(expected[0] / 2)
    assert spec.batch_output_per_1m == pytest.approx(expected[1] / 2)


def test_table_lists_exactly_the_supported_models() -> None:
    assert set(known_models()) == set(LIST_PRICES)


def test_cost_of_one_million_tokens_each_way() -> None:
    assert cost_usd("openai.gpt-oss-120b-1:0", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd("openai.gpt-oss-120b-1:0", 1_000_000, 1_000_000, batch=True) == pytest.approx(
        0.375
    )


def test_cost_of_a_median_gpt_oss_pass1_call() -> None:
    # 5,037 in / 3,537 out (measured median) at $0.15/$0.60 per 1M.
    expected = 5037 * 0.15 / 1e6 + 3537 * 0.60 / 1e6
    assert cost_usd("openai.gpt-oss-120b-1:0", 5037, 3537) == pytest.approx(expected)
    assert cost_usd("mistral.mistral-large-3-675b-instruct", 0, 0) == 0.0


def test_negative_tokens_are_rejected() -> None:
    with pytest.raises(ValueError):
        cost_usd("google.gemma-3-27b-it", -1, 0)


def test_unknown_model_has_no_default_price() -> None:
    with pytest.raises(ConfigurationError) as caught:
        cost_usd("meta.llama-9-huge", 100, 100)
    message = str(caught.value)
    assert "meta.llama-9-huge" in message
    assert "openai.gpt-oss-120b-1:0" in message and "google.gemma-3-27b-it" in message
    assert prices.MODELS_FILE_ENV in message


def test_per_model_settings() -> None:
    gpt_oss = get_model("openai.gpt-oss-120b-1:0")
    assert gpt_oss.additional_model_request_fields == {"reasoning_effort": "low"}
    assert gpt_oss.output_format == "json_prompt"
    assert gpt_oss.reasoning is True
    claude = get_model("anthropic.claude-3-haiku-20240307-v1:0")
    assert claude.output_format == "tool_use"
    assert claude.reasoning is False
    assert claude.default_max_output_tokens == 4096
    assert get_model("minimax.minimax-m2").reasoning is True


PRICED = 'models:\n  "x.y":\n    input_per_1m: 1\n    output_per_1m: 1\n'


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_extra_models_file_adds_and_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(
        tmp_path,
        """
models:
  "acme.tiny-1:0":
    input_per_1m: 1.0
    output_per_1m: 3.0
  "google.gemma-3-27b-it":
    default_max_output_tokens: 2048
""",
    )
    monkeypatch.setenv(prices.MODELS_FILE_ENV, str(path))
    tiny = get_model("acme.tiny-1:0")
    assert (tiny.batch_input_per_1m, tiny.batch_output_per_1m) == (0.5, 1.5)
    assert tiny.output_format == "json_prompt"
    gemma = get_model("google.gemma-3-27b-it")
    assert gemma.default_max_output_tokens == 2048
    assert gemma.input_per_1m == pytest.approx(0.23)  # untouched fields survive the merge
    assert "openai.gpt-oss-120b-1:0" in known_models()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('models:\n  "x.y":\n    output_per_1m: 1.0\n', "no input_per_1m price"),
        (PRICED + "    output_format: xml\n", "output_format"),
        ('models:\n  "x.y":\n    input_per_1m: -1\n    output_per_1m: 1\n', "input_per_1m"),
        (PRICED + "    colour: red\n", "colour"),
        ('models:\n  "x.y":\n    input_per_1m: true\n    output_per_1m: 1\n', "input_per_1m"),
        (PRICED + "    default_max_output_tokens: 0\n", "default_max_output_tokens"),
        (PRICED + "    additional_model_request_fields: [1]\n", "additional_model_request_fields"),
        ("just: text\n", "models"),
    ],
)
def test_bad_extra_models_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, fragment: str
) -> None:
    monkeypatch.setenv(prices.MODELS_FILE_ENV, str(_write(tmp_path, text)))
    with pytest.raises(ConfigurationError, match=fragment):
        get_model("openai.gpt-oss-120b-1:0")


def test_missing_extra_models_file_is_a_configuration_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(prices.MODELS_FILE_ENV, str(tmp_path / "absent.yaml"))
    with pytest.raises(ConfigurationError, match="absent.yaml"):
        known_models()
