"""Backends are chosen by name; wrong names and settings fail as configuration errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from enrichment_dagster.llm import registry
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.llm.openai_compat import OpenAICompatibleBackend
from enrichment_dagster.llm.registry import available_backends, make_backend
from enrichment_dagster.llm.replay import ReplayBackend
from enrichment_dagster.llm.types import ConfigurationError, LLMBackend


def test_named_backends(tmp_path: Path) -> None:
    bedrock = make_backend("bedrock", endpoint_url="http://127.0.0.1:9", region_name="eu-west-1")
    openai = make_backend("openai", base_url="http://127.0.0.1:9/v1")
    replay = make_backend(" Replay ", folder=tmp_path, model_id="google.gemma-3-27b-it")
    assert isinstance(bedrock, BedrockBackend) and bedrock.region_name == "eu-west-1"
    assert isinstance(openai, OpenAICompatibleBackend)
    assert isinstance(replay, ReplayBackend)
    for backend in (bedrock, openai, replay):
        assert isinstance(backend, LLMBackend)
    assert available_backends() == ["bedrock", "heuristic", "openai", "replay"]


def test_unknown_backend_name() -> None:
    with pytest.raises(ConfigurationError, match="choose one of bedrock, heuristic, openai"):
        make_backend("gpt5")


def test_bad_settings_are_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="replay"):
        make_backend("replay", folder=tmp_path, colour="red")


def test_unknown_model_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="no-such.model"):
        make_backend("bedrock", endpoint_url="http://127.0.0.1:9", models=["no-such.model"])


def test_missing_heuristic_module_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        registry.BACKENDS,
        "heuristic",
        ("enrichment_dagster.llm.no_such_heuristic", "HeuristicBackend"),
    )
    with pytest.raises(ConfigurationError, match="heuristic"):
        make_backend("heuristic")


def test_llm_package_imports_nothing_from_dagster() -> None:
    code = (
        "import sys\n"
        "import enrichment_dagster.llm.bedrock, enrichment_dagster.llm.openai_compat\n"
        "import enrichment_dagster.llm.replay, enrichment_dagster.llm.registry\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('dagster', 'dagster_aws')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
