"""Throttling storm: pass 1 over a partition against a small, flaky Bedrock quota.

The fake Bedrock server enforces a sliding-window requests-per-minute quota (``rpm_limit``
over ``rpm_window_s``) with real ``ThrottlingException`` answers, and on top of it throttles
30% of the admitted requests at random and answers 5% with a 5xx. The real
:class:`~enrichment_dagster.llm.bedrock.BedrockBackend` (botocore ``max_attempts=1``, as
:class:`~enrichment_dagster.resources.LLMResource` builds it: the engine owns the retries)
runs through :func:`~enrichment_dagster.engine.run_pass` with the client-side quota set to
the server's. What must hold:

* every record ends enriched or with a recorded error (class and message): a storm never
  fails the partition and never loses a record;
* the quota is used, not hammered: the requests the quota admitted per minute are within
  30% of it, and the quota itself refuses (almost) nothing;
* attempts per record stay within the configured retries, and the telemetry accounts for
  every request the server received.

Random throttles and 5xx answers use up quota too (the fake admits a request into its
window before deciding its fate), so the best possible rate of *enriched records* is about
``(1 - 0.30 - 0.05) x quota``; the figures report it beside the request rate.

The full form (200 records at 60/min, over five minutes) runs with
``ENRICHMENT_FULL_FAULTS=1`` and builds everything from ``EngineConfig`` as production does.
The default suite runs the same storm ten times faster (40 records at 600/min): every time
constant is scaled by 1/10, the fake's window (6 s for the same 60 requests), its latency,
and on the client the pacer's quota window and burst, the throttle governor's pauses and
half-life, and the retry backoffs, so the dynamics are those of the full form.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, Pacer, ThrottleGovernor, run_pass
from enrichment_dagster.llm.bedrock import BedrockBackend
from enrichment_dagster.resources import LLMResource
from enrichment_dagster.storage.cache_store import CacheStore
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.engine.answers import DESCRIPTION, answer_by_pass
from enrichment_dagster_tests.fakes.fake_bedrock import FakeBedrock

FULL = os.environ.get("ENRICHMENT_FULL_FAULTS") == "1"
THROTTLE_RATE = 0.30
SERVER_ERROR_RATE = 0.05
CONCURRENCY = 8
LATENCY_S = 0.2
#: Share of the quota the admitted requests must reach ("within 30% of the quota").
MIN_QUOTA_USE = 0.70


@dataclass(frozen=True)
class Storm:
    """One size of the storm: ``records`` through a quota of ``rpm_limit`` requests per
    ``window_s`` seconds (the client is told the same quota, per minute); ``time_scale``
    multiplies every time constant (1.0: the real thing, built as production builds it)."""

    records: int
    rpm_limit: int
    window_s: float
    time_scale: float = 1.0

    @property
    def quota_per_minute(self) -> float:
        return self.rpm_limit * 60.0 / self.window_s


SCALED = Storm(records=40, rpm_limit=60, window_s=6.0, time_scale=0.1)  # 600/min
FULL_SIZE = Storm(records=200, rpm_limit=60, window_s=60.0)  # 60/min


def make_records(n: int) -> list[SilverRecord]:
    """``n`` postings with distinct content, so the cache and dedup send every one."""
    return [
        SilverRecord(
            job_posting_id=f"storm-{i:04d}",
            job_title="Senior Data Engineer",
            job_description_text=f"{DESCRIPTION} Reference storm-{i:04d}.",
        )
        for i in range(n)
    ]


def storm_config(storm: Storm) -> EngineConfig:
    """The engine settings ``LLMResource`` gives a step (retry counts included), with the
    storm's quota and the backoffs at the storm's time scale."""
    production = LLMResource(backend="bedrock", concurrency=CONCURRENCY).engine_config()
    return replace(
        production,
        requests_per_minute=storm.quota_per_minute,
        throttle_backoff_s=production.throttle_backoff_s * storm.time_scale,
        transient_backoff_s=production.transient_backoff_s * storm.time_scale,
    )


def storm_pacer(storm: Storm) -> Pacer | None:
    """None at full scale (run_pass builds the pacer from the config, as in production);
    otherwise the default pacer and governor with every time constant scaled."""
    if storm.time_scale == 1.0:
        return None
    scale, governor = storm.time_scale, ThrottleGovernor()
    return Pacer(
        storm.quota_per_minute,
        window_s=storm.window_s,
        burst_s=1.0 * scale,
        governor=ThrottleGovernor(
            base_pause_s=governor.base_pause_s * scale,
            max_pause_s=governor.max_pause_s * scale,
            success_relief=governor.success_relief,
            half_life_s=governor.half_life_s * scale,
        ),
    )


def run_storm(storm: Storm, tmp_path: Path) -> dict[str, object]:
    """Run pass 1 through the storm; assert the invariants; return the figures."""
    config = storm_config(storm)
    with FakeBedrock(
        latency_s=LATENCY_S * storm.time_scale,
        default_answers=dict(answer_by_pass()),
        rpm_limit=storm.rpm_limit,
        rpm_window_s=storm.window_s,
        throttle_rate=THROTTLE_RATE,
        server_error_rate=SERVER_ERROR_RATE,
        seed=20251210,
    ) as fake:
        backend = BedrockBackend(
            endpoint_url=fake.endpoint_url,
            max_attempts=LLMResource().botocore_max_attempts,
            max_concurrency=CONCURRENCY,
        )
        cache = CacheStore(StorageRoot(str(tmp_path / "store")))
        started = time.monotonic()
        results = run_pass(make_records(storm.records), 1, backend, config, cache,
                           pacer=storm_pacer(storm))
        elapsed = time.monotonic() - started
        stats = fake.stats

    assert [r.record_id for r in results] == [f"storm-{i:04d}" for i in range(storm.records)]
    for result in results:  # enriched, or failed with a recorded error
        assert result.success or (result.error_class and result.error_message), result

    attempts = [r.attempts for r in results]
    # One conversation per record (answers are valid: no truncation retry, no re-ask), each
    # call retried at most max_throttle_retries times on throttles and
    # max_transient_retries times on 5xx; botocore adds no attempt of its own.
    bound = 1 + config.max_throttle_retries + config.max_transient_retries
    assert max(attempts) <= bound
    assert not any(r.reasked or r.truncation_retried for r in results)
    assert sum(attempts) == stats.calls, "telemetry must account for every request sent"

    admitted = stats.calls - stats.quota_throttled
    admitted_per_min = admitted / elapsed * 60.0
    enriched = sum(r.success for r in results)
    figures: dict[str, object] = {
        "records": storm.records,
        "quota_per_min": storm.quota_per_minute,
        "elapsed_s": round(elapsed, 1),
        "requests": stats.calls,
        "quota_throttled": stats.quota_throttled,
        "injected_throttles": stats.throttled - stats.quota_throttled,
        "server_errors": stats.errors,
        "admitted_per_min": round(admitted_per_min, 1),
        "quota_use": round(admitted_per_min / storm.quota_per_minute, 3),
        "enriched": enriched,
        "enriched_per_min": round(enriched / elapsed * 60.0, 1),
        "enriched_per_min_ceiling": round(
            storm.quota_per_minute * (1 - THROTTLE_RATE) * (1 - SERVER_ERROR_RATE), 1
        ),
        "attempts_max": max(attempts),
        "attempts_mean": round(sum(attempts) / len(attempts), 2),
        "attempts_bound": bound,
        "errors_by_class": dict(Counter(r.error_class for r in results if not r.success)),
        "server_max_in_flight": stats.max_in_flight,
    }
    print("throttling-storm figures:", json.dumps(figures, sort_keys=True))

    assert MIN_QUOTA_USE * storm.quota_per_minute <= admitted_per_min, figures
    assert admitted_per_min <= 1.05 * storm.quota_per_minute, figures
    # Pacing that meets the quota, not the quota's refusals, must set the rate: a client
    # that overshoots a sliding window loses requests to it at every window edge.
    assert stats.quota_throttled <= math.ceil(0.02 * stats.calls), figures
    return figures


def test_throttling_storm_scaled(tmp_path: Path) -> None:
    """40 records at 600/min (about seven seconds): the default suite's storm."""
    run_storm(SCALED, tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not FULL, reason="set ENRICHMENT_FULL_FAULTS=1 (takes over five minutes)")
def test_throttling_storm_full(tmp_path: Path) -> None:
    """200 records at 60/min, the storm at its real size."""
    run_storm(FULL_SIZE, tmp_path)


def test_two_5xx_in_a_row_do_not_fail_a_record_with_the_production_settings(
    fake_bedrock: FakeBedrock,
) -> None:
    """Regression: LLMResource turns botocore's retries off (``botocore_max_attempts=1``, so
    the engine alone paces throttles), but the engine kept one transient retry, sized for a
    backend that had already retried the 5xx itself. A 5xx then got two tries instead of
    botocore's three: a blip of two 5xx failed the record, to be paid for again in a rerun
    the users have no budget for (the scaled storm lost one record of forty this way)."""
    fake_bedrock.configure(
        default_answers=dict(answer_by_pass()),
        fail_records={"storm-0000": ["internal", "unavailable"]},
    )
    llm = LLMResource(backend="bedrock", bedrock_endpoint_url=fake_bedrock.endpoint_url,
                      aws_region="us-east-1", concurrency=2)
    config = replace(llm.engine_config(), transient_backoff_s=0.01)
    results = run_pass(make_records(2), 1, llm.make_backend(), config)
    assert [r.success for r in results] == [True, True], results[0].error_message
    assert results[0].attempts == fake_bedrock.stats.per_record_calls["storm-0000"] == 3
