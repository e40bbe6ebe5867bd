"""Changed heuristic rules must not be served answers cached under the old rules."""

from pathlib import Path

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, run_pass
from enrichment_dagster.engine.runner import backend_identity
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.heuristic import HeuristicBackend
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot

RECORDS = [SilverRecord(job_posting_id="1", job_title="Data Engineer",
                        job_description_text="Remote. 5+ years of Python and SQL.")]


def test_identity_includes_the_rules_version() -> None:
    assert backend_identity(HeuristicBackend()).startswith("heuristic-")
    assert backend_identity(HeuristicBackend()) != "heuristic"


def test_new_rules_version_misses_the_cache(tmp_path: Path) -> None:
    cache = CacheStore(StorageRoot(str(tmp_path)))
    backend = HeuristicBackend()
    first = run_pass(RECORDS, 1, backend, EngineConfig(), cache)
    again = run_pass(RECORDS, 1, backend, EngineConfig(), cache)
    assert first[0].success and not first[0].cache_hit and again[0].cache_hit
    backend.cache_identity = "heuristic-newer-rules"
    fresh = run_pass(RECORDS, 1, backend, EngineConfig(), cache)
    assert fresh[0].success and not fresh[0].cache_hit


class _NoCredentials(BaseBackend):
    name = "broken"

    def complete(self, request):  # noqa: ANN001, ANN201 - a minimal backend
        from enrichment_dagster.llm.types import ConfigurationError

        raise ConfigurationError(f"no credentials (record {request.record_id}, pass 1)")

    def cost_usd(self, model_id: str, input_tokens: int, output_tokens: int) -> float:
        return 0.0


def test_a_configuration_error_stops_the_batch_and_says_whose_it_was() -> None:
    records = [SilverRecord(job_posting_id=str(i), job_description_text=f"Posting {i}") for i in range(3)]
    results = run_pass(records, 1, _NoCredentials(), EngineConfig(concurrency=1), None)
    assert [r.error_class for r in results] == ["configuration"] * 3
    assert results[0].error_message.startswith("no credentials (record 0")
    assert all(r.error_message.startswith("not sent: the backend reported") for r in results[1:])
