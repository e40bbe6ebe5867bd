"""The Gold tests' data: the sample Silver day enriched for real, then Gold built in Dagster.

One session fixture runs ``enrich_job`` on the three sample hours with the offline heuristic
backend, except that the backend refuses pass 1 of one posting (an ``InvalidRequestError``,
as Bedrock's ValidationException becomes), so silver_ai holds an honest pass-1 failure. A
copy of hour 19 is then placed as silver_ai ``2025-12-09-05:00`` (the day before, a
zero-padded hour): the rolling windows and their change see a previous day, the same posting
ids appear twice (older copies are left out) and ``hour=05`` is the folder that makes
DuckDB's hive discovery type ``hour`` as VARCHAR. Finally ``gold_job`` materializes the four
Gold tables of 2025-12-10 on a real (ephemeral) Dagster instance.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, Definitions

from enrichment_dagster.assets.gold import GOLD_ASSET_DEFS, gold_job
from enrichment_dagster.assets.passes import pass1, pass2, pass3
from enrichment_dagster.assets.silver import silver
from enrichment_dagster.assets.silver_ai import silver_ai
from enrichment_dagster.checks import QualityThresholds
from enrichment_dagster.jobs import enrich_job
from enrichment_dagster.llm.heuristic import HeuristicBackend
from enrichment_dagster.llm.types import InvalidRequestError, LLMRequest, LLMResponse
from enrichment_dagster.resources import LLMResource, StorageResource
from enrichment_dagster.sample_data import SAMPLE_PARTITIONS
from enrichment_dagster.storage.io_manager import ParquetIOManager
from enrichment_dagster.storage.partition_keys import partition_key_to_path

SAMPLE = Path(__file__).resolve().parents[2] / "enrichment_dagster" / "sample_data" / "silver"
DAY = dt.date(2025, 12, 10)
PREVIOUS_HOUR = "2025-12-09-05:00"
#: "no pay anywhere" posting (Atlanta): its pass 1 is refused by the backend.
FAILED_ID = "4351055720"


class _RefusingBackend(HeuristicBackend):
    """The heuristic backend, except pass 1 of ``record_id`` raises a backend error."""

    def __init__(self, record_id: str) -> None:
        super().__init__()
        self._record_id = record_id

    def complete(self, request: LLMRequest) -> LLMResponse:
        if request.pass_number == 1 and request.record_id == self._record_id:
            raise InvalidRequestError("ValidationException: Malformed input request.")
        return super().complete(request)


class RefusingLLM(LLMResource):
    """``LLMResource`` whose backend refuses pass 1 of one posting."""

    refuse_record: str = FAILED_ID

    def make_backend(self) -> Any:
        return _RefusingBackend(self.refuse_record)


@dataclass
class GoldRun:
    root: Path
    metadata: dict[str, dict[str, Any]]


def gold_defs(uri: str, endpoint: str | None = None) -> Definitions:
    return Definitions(
        assets=[silver, pass1, pass2, pass3, silver_ai, *GOLD_ASSET_DEFS],
        jobs=[enrich_job, gold_job],
        resources={
            "storage": StorageResource(storage_uri=uri, s3_endpoint_url=endpoint),
            "llm": RefusingLLM(),
            "quality": QualityThresholds(),
            "parquet_io_manager": ParquetIOManager(storage_uri=uri, s3_endpoint_url=endpoint),
        },
    )


def materialize_gold(defs: Definitions, day: dt.date = DAY) -> dict[str, dict[str, Any]]:
    result = defs.resolve_job_def("gold_job").execute_in_process(
        partition_key=day.isoformat(), instance=DagsterInstance.ephemeral())
    assert result.success
    return {e.asset_key.to_user_string(): dict(e.materialization.metadata)
            for e in result.get_asset_materialization_events()}


@pytest.fixture(scope="session")
def gold_run(tmp_path_factory: pytest.TempPathFactory) -> GoldRun:
    root = tmp_path_factory.mktemp("gold")
    shutil.copytree(SAMPLE, root / "silver")
    defs = gold_defs(str(root))
    for key in SAMPLE_PARTITIONS:
        result = defs.resolve_job_def("enrich_job").execute_in_process(
            partition_key=key, instance=DagsterInstance.ephemeral(), raise_on_error=False)
        assert result.success, key
    source = root / "silver_ai" / partition_key_to_path(SAMPLE_PARTITIONS[0])
    shutil.copytree(source, root / "silver_ai" / partition_key_to_path(PREVIOUS_HOUR))
    return GoldRun(root, materialize_gold(defs))
