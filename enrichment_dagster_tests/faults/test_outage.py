"""An outage must not burn the attempt cap (issue 12, class 7).

Bedrock unreachable (a closed loopback port: connection refused) for several runs, then
back. Calls that never reached the model say nothing about the record: they are not
counted in the attempts ledger, a batch that cannot reach the model stops after
``unreachable_stop_after`` failures in a row (the rest ``model_unreachable``, not sent), and
once the model is back every record is sent and answered, none ``permanently_failed``.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from enrichment_dagster.engine import EngineConfig, run_pass
from enrichment_dagster.engine.cache import AttemptsLedger
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.llm.openai_compat import OpenAICompatibleBackend
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.answers import answer_by_pass
from enrichment_dagster_tests.engine.conftest import make_records
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock
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


def closed_port_url() -> str:
    """A loopback URL on which nothing listens (connection refused at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def config(**changes: object) -> EngineConfig:
    settings: dict = dict(concurrency=4, max_attempts_per_record=3, transient_backoff_s=0.001,
                          unreachable_stop_after=6)
    settings.update(changes)
    return EngineConfig(**settings)


@pytest.mark.parametrize("backend_kind", ["bedrock", "openai"])
def test_three_runs_against_a_dead_endpoint_then_every_record_is_answered(
    tmp_path: Path, fake_bedrock: FakeBedrock, backend_kind: str
) -> None:
    records = make_records(30, prefix="out")
    cache = CacheStore(StorageRoot(str(tmp_path / "store")))
    dead = closed_port_url()
    down = (BedrockBackend(endpoint_url=dead, max_attempts=1) if backend_kind == "bedrock"
            else OpenAICompatibleBackend(base_url=f"{dead}/v1", api_key="x"))
    model = {1: "openai.gpt-oss-120b-1:0"}
    for _run in range(3):
        results = run_pass(records, 1, down, config(models=model), cache)
        classes = {r.error_class for r in results}
        assert classes <= {"unreachable", "model_unreachable"}, classes
        # The batch stopped early: most records were never sent, and it said why.
        not_sent = [r for r in results if r.error_class == "model_unreachable"]
        assert len(not_sent) >= 30 - 6 - 4 and all(r.calls == 0 for r in not_sent)
        assert "could not be reached" in (not_sent[0].error_message or "")
        assert sum(r.calls for r in results) <= 2 * (6 + 4)  # a call and its retry per worker
    ledger = AttemptsLedger(cache)
    assert all(ledger.read(r.cache_key).failed_runs == 0 for r in results)

    fake_bedrock.configure(default_answers=dict(answer_by_pass()))
    # The model is back (the fake speaks Bedrock; the cache key names the backend, so
    # the ledger entries above are those this backend reads only for the bedrock case).
    up = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=1)
    back = run_pass(records, 1, up, config(models=model), cache)
    assert all(r.success for r in back), {r.error_class for r in back}
    assert fake_bedrock.stats.calls == 30
    assert not any(r.error_class == "permanently_failed" for r in back)


def test_a_blip_of_refused_connections_does_not_stop_a_healthy_batch(
    tmp_path: Path, fake_bedrock: FakeBedrock
) -> None:
    """Stop only after N failures *in a row*: answers in between reset the count."""
    fake_bedrock.configure(default_answers=dict(answer_by_pass()))
    backend = BedrockBackend(endpoint_url=fake_bedrock.endpoint_url, max_attempts=1)
    dead = BedrockBackend(endpoint_url=closed_port_url(), max_attempts=1)

    class Flaky(BaseBackend):
        """Every third request goes to a dead endpoint."""

        name = "bedrock"
        count = 0

        def complete(self, request):  # noqa: ANN001, ANN201
            Flaky.count += 1
            return (dead if Flaky.count % 3 == 0 else backend).complete(request)

    results = run_pass(make_records(24, prefix="blip"), 1, Flaky(),
                       config(concurrency=1, unreachable_stop_after=3,
                              models={1: "openai.gpt-oss-120b-1:0"}))
    assert all(r.success for r in results), {r.error_class for r in results}


def test_enrich_job_through_an_outage_and_back(tmp_path: Path, fake_bedrock: FakeBedrock) -> None:
    """The real path: three runs of the partition while Bedrock refuses connections."""
    write_silver(tmp_path, silver_table([silver_row(i, text) for i, text in POSTINGS.items()]))
    dead = closed_port_url()
    for _run in range(3):
        run = run_job(defs_for(tmp_path, bedrock_llm(dead, max_attempts_per_record=2)))
        assert run.success
        pass1 = read_output(tmp_path, "pass1")
        assert {row["error_class"] for row in pass1.values()} <= {"unreachable",
                                                                  "model_unreachable"}
        assert all(row["pass1_success"] is False for row in read_output(tmp_path, "silver_ai")
                   .values())
    fake_bedrock.configure(answer=_serve(good_answer))
    run = run_job(defs_for(tmp_path, bedrock_llm(fake_bedrock.endpoint_url,
                                                 max_attempts_per_record=2)))
    assert run.success
    rows = read_output(tmp_path, "silver_ai")
    assert all(row[f"pass{n}_success"] for row in rows.values() for n in (1, 2, 3))
    assert fake_bedrock.stats.calls == 3 * len(POSTINGS)
