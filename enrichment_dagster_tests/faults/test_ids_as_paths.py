"""Ids never become paths unescaped (issue class 8).

Job ids come from Silver rows; a path built from one could leave its folder (``../x``,
an absolute path), fail (a NUL, a 300-digit id past the file-name limit) or name another
id's file. One helper (:func:`~enrichment_dagster.storage.names.path_component`) names
files after ids; model_consensus keeps answers in memory and names no file after an id.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from enrichment_dagster.assets.consensus import model_consensus
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.llm.replay import ReplayBackend
from enrichment_dagster.llm.types import LLMRequest, Message, MissingAnswerError
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.storage.names import ESCAPE_MARK, path_component
from enrichment_dagster_tests.faults.harness import silver_row, silver_table, write_silver

HOSTILE_IDS = [
    "../x",
    "../../outside",
    "/abs/olute",
    "9" * 300,
    "",
    "a\x00b",
    "..",
    ".",
    "résumé-東京",
    "x" * 5000,
    "C:\\windows\\evil",
    "~" + "0" * 64,
]
MODELS = ["openai.gpt-oss-120b-1:0", "qwen.qwen3-vl-235b-a22b", "google.gemma-3-27b-it"]


@pytest.mark.parametrize("identifier", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_path_component_is_one_safe_bounded_component(identifier: str, tmp_path: Path) -> None:
    name = path_component(identifier)
    assert name not in {"", ".", ".."} and len(name) <= 100
    assert "/" not in name and "\\" not in name and "\x00" not in name
    target = tmp_path / name
    target.write_text("ok")  # a real file system accepts it
    assert target.parent == tmp_path


def test_plain_ids_keep_their_names_and_distinct_ids_stay_distinct() -> None:
    assert path_component("4201877691") == "4201877691"
    names = [path_component(i) for i in [*HOSTILE_IDS, "x", "4201877691"]]
    assert len(set(names)) == len(names)
    escaped = path_component("../x")
    assert escaped.startswith(ESCAPE_MARK) and path_component(escaped) != escaped


def test_replay_never_reads_outside_its_folder(tmp_path: Path) -> None:
    folder = tmp_path / "replay"
    folder.mkdir()
    backend = ReplayBackend(folder, MODELS[0])
    for identifier in HOSTILE_IDS:
        path = backend.answer_path(identifier, 1, MODELS[0])
        assert path.parent.parent == folder
        request = LLMRequest(identifier, 1, (Message("user", "x"),), MODELS[0], 64)
        with pytest.raises(MissingAnswerError):
            backend.complete(request)


def test_model_consensus_with_hostile_job_ids_writes_nothing_outside_its_folder(
    tmp_path: Path, fake_bedrock
) -> None:
    """Regression: answers were written to ``<tmp>/<job id>/...``: ``../x`` and absolute
    ids wrote outside the folder, a 300-digit id crashed the asset."""
    root = tmp_path / "storage"
    ids = ["../x", "/abs/olute", "9" * 300, "résumé-東京", "../../outside"]
    write_silver(root, silver_table([silver_row(i) for i in ids]), key="2025-12-10-08:00")
    before = {p for p in tmp_path.rglob("*")}
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake_bedrock.endpoint_url,
                      aws_region="us-east-1", concurrency=2)
    result = materialize(
        [silver, model_consensus],
        selection=[model_consensus],
        partition_key="2025-12-10",
        resources={"storage": StorageResource(storage_uri=str(root)), "llm": llm},
        run_config={"ops": {"model_consensus": {"config": {"models": MODELS,
                                                           "sample_size": len(ids)}}}},
        instance=DagsterInstance.ephemeral(),
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.materialization.metadata["jobs"].value == len(ids)
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(p.is_relative_to(root) for p in created)
    assert not Path("/abs").exists()
    assert not any(p.name.endswith("-raw.txt") for p in created)
