"""run_pass end to end: real boto3 BedrockBackend against the fake Bedrock server."""

from __future__ import annotations

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import BatchSummary, EngineConfig, Pacer, PassContext, run_pass
from enrichment_dagster.engine.calls import REASK_TEMPLATE
from enrichment_dagster.llm.parsing import parse_answer
from enrichment_dagster.llm.prices import get_model
from enrichment_dagster.llm.types import ConfigurationError
from enrichment_dagster_tests.engine.answers import full_answer
from enrichment_dagster_tests.engine.conftest import make_records
from enrichment_dagster_tests.fakes.fake_bedrock import MALFORMED_TEXT, FakeBedrock

MODEL = "openai.gpt-oss-120b-1:0"


def _max_tokens(fake: FakeBedrock, record_id: str) -> list[int]:
    return [
        r.body["inferenceConfig"]["maxTokens"]
        for r in fake.stats.requests
        if r.record_id == record_id
    ]


def _user_texts(fake: FakeBedrock, record_id: str) -> list[str]:
    return [
        "\n".join(block["text"] for m in r.body["messages"] for block in m["content"])
        for r in fake.stats.requests
        if r.record_id == record_id
    ]


def test_every_record_succeeds_and_results_keep_input_order(fake, backend):
    fake.configure(latency_s=0.02, latency_jitter=1.0, seed=3)  # completions arrive shuffled
    records = make_records(16)
    results = run_pass(records, 1, backend, EngineConfig(concurrency=4))
    assert [r.record_id for r in results] == [r.job_posting_id for r in records]
    assert all(r.success and r.output is not None for r in results)
    assert fake.stats.calls == 16
    assert fake.stats.max_in_flight <= 4
    first = results[0]
    assert first.calls == first.attempts == 1 and first.input_tokens > 0 and first.cost_usd > 0
    assert first.model_id == MODEL and first.prompt_version.startswith("p1-")
    assert first.evidence_checked > 0 and first.evidence_grounded == first.evidence_checked


def test_throttles_are_retried_by_the_engine_and_counted(fake, backend):
    fake.fail_next("throttle", "throttle")
    [result] = run_pass(make_records(1), 1, backend, EngineConfig(concurrency=1))
    assert result.success
    assert result.calls == 3 and result.attempts == 3
    assert fake.stats.throttled == 2 and fake.stats.calls == 3


def test_botocore_throttle_retries_are_counted_as_attempts(fake, backend_factory, botocore_delays):
    fake.fail_next("throttle", "throttle")
    [result] = run_pass(make_records(1), 1, backend_factory(4), EngineConfig(concurrency=1))
    assert result.success
    assert result.calls == 1 and result.attempts == 3  # botocore absorbed both throttles
    assert len(botocore_delays) == 2


def test_throttles_beyond_the_retry_bound_fail_only_that_record(fake, backend):
    fake.configure(fail_records={"r0": "always_throttle"})
    config = EngineConfig(concurrency=2, max_throttle_retries=2, throttle_backoff_s=0.01)
    results = run_pass(make_records(3), 1, backend, config)
    assert [r.success for r in results] == [False, True, True]
    assert results[0].error_class == "throttled" and results[0].attempts == 3


def test_truncation_leads_to_one_retry_with_a_larger_budget(fake, backend):
    fake.configure(fail_records={"r0": "truncated"})
    config = EngineConfig(concurrency=1, max_output_tokens={1: 4000})
    [result] = run_pass(make_records(1), 1, backend, config)
    assert result.success and result.truncation_retried and not result.reasked
    assert _max_tokens(fake, "r0") == [4000, 8000]
    stats = fake.stats
    assert result.calls == 2
    assert result.input_tokens == stats.input_tokens and result.output_tokens == stats.output_tokens
    spec = get_model(MODEL)
    assert result.cost_usd == pytest.approx(spec.cost_usd(stats.input_tokens, stats.output_tokens))


def test_answer_still_truncated_after_the_retry_is_kept_as_partial(fake, backend, cache):
    fake.configure(fail_records={"r0": "always_truncated"})
    [result] = run_pass(make_records(1), 1, backend, EngineConfig(concurrency=1), cache)
    assert not result.success and result.partial
    assert result.error_class == "truncated"
    assert result.output is not None and result.raw_text_of_failure
    assert result.calls == 2 and not result.cache_stored
    # the kept raw text re-parses to the same partial answer, for free
    assert parse_answer(result.raw_text_of_failure, 1).status == "partial"


def test_malformed_answer_leads_to_one_reask_with_the_error(fake, backend):
    fake.configure(fail_records={"r0": "malformed"})
    [result] = run_pass(make_records(1), 1, backend, EngineConfig(concurrency=1))
    assert result.success and result.reasked and result.calls == 2
    first, second = _user_texts(fake, "r0")
    prefix = REASK_TEMPLATE.split("{error}")[0]
    assert prefix not in first and prefix in second


def test_a_record_that_always_fails_does_not_fail_the_batch(fake, backend):
    fake.configure(fail_records={"r1": "always_malformed", "r3": "always_validation"})
    results = run_pass(make_records(5), 1, backend, EngineConfig(concurrency=3))
    assert [r.success for r in results] == [True, False, True, False, True]
    malformed, invalid = results[1], results[3]
    assert malformed.error_class == "no_json" and malformed.calls == 2
    assert malformed.raw_text_of_failure == MALFORMED_TEXT
    assert invalid.error_class == "invalid_request" and invalid.calls == 1
    assert "ValidationException" in (invalid.error_message or "")
    summary = BatchSummary.from_results(results)
    assert summary.successes == 3
    assert summary.failures_by_class == {"invalid_request": 1, "no_json": 1}


def test_rerunning_the_same_batch_makes_zero_calls(fake, backend, cache):
    records = make_records(6)
    first = run_pass(records, 1, backend, EngineConfig(), cache)
    assert fake.stats.calls == 6 and all(r.cache_stored for r in first)
    fake.reset_stats()
    second = run_pass(records, 1, backend, EngineConfig(), cache)
    assert fake.stats.calls == 0
    assert all(r.success and r.cache_hit and r.cost_usd == 0 and r.calls == 0 for r in second)
    assert [r.original_cost_usd for r in second] == [r.cost_usd for r in first]
    assert second[0].output == first[0].output


def test_failures_are_not_cached_so_a_rerun_retries_exactly_them(fake, backend, cache):
    fake.configure(fail_records={"r2": ["malformed", "malformed"]})  # fails run 1 only
    records = make_records(4)
    first = run_pass(records, 1, backend, EngineConfig(), cache)
    assert [r.success for r in first] == [True, True, False, True]
    fake.reset_stats()
    second = run_pass(records, 1, backend, EngineConfig(), cache)
    assert all(r.success for r in second)
    assert fake.stats.per_record_calls == {"r2": 1}
    assert second[2].prior_failed_runs == 1


def test_eight_copies_of_one_posting_are_sent_once(fake, backend):
    text = make_records(1)[0].job_description_text
    records = [
        SilverRecord(job_posting_id=f"copy{i}", job_title="Senior Data Engineer",
                     job_description_text=text)
        for i in range(8)
    ]
    results = run_pass(records, 1, backend, EngineConfig())
    assert fake.stats.calls == 1
    assert all(r.success for r in results)
    assert [r.record_id for r in results] == [f"copy{i}" for i in range(8)]
    assert [r.deduplicated for r in results] == [False] + [True] * 7
    assert sum(r.cost_usd > 0 for r in results) == 1


def test_the_budget_stops_calls_at_the_cap(fake, backend):
    fake.configure(input_tokens=1000, output_tokens=1000)
    per_call = get_model(MODEL).cost_usd(1000, 1000)  # 0.00075
    config = EngineConfig(concurrency=1, budget_usd=per_call * 3.9)
    results = run_pass(make_records(10), 1, backend, config)
    assert fake.stats.calls == 4
    assert [r.success for r in results] == [True] * 4 + [False] * 6
    assert {r.error_class for r in results[4:]} == {"budget_exceeded"}
    assert sum(r.cost_usd for r in results) == pytest.approx(per_call * 4)


def test_the_budget_bounds_the_overshoot_with_concurrent_workers(fake, backend):
    fake.configure(input_tokens=1000, output_tokens=1000, latency_s=0.02)
    per_call = get_model(MODEL).cost_usd(1000, 1000)
    cap = per_call * 5.5
    results = run_pass(make_records(30), 1, backend, EngineConfig(concurrency=8, budget_usd=cap))
    spent = sum(r.cost_usd for r in results)
    assert cap <= spent <= cap + per_call
    assert sum(r.error_class == "budget_exceeded" for r in results) == 30 - fake.stats.calls


def test_an_unknown_model_fails_fast_with_a_clear_message(fake, backend):
    config = EngineConfig(models={1: "acme.no-such-model-v1"})
    with pytest.raises(ConfigurationError, match="unknown model 'acme.no-such-model-v1'"):
        run_pass(make_records(3), 1, backend, config)
    assert fake.stats.calls == 0


def test_the_attempts_cap_gives_permanently_failed(fake, backend, cache):
    fake.configure(fail_records={"r0": "always_malformed"})
    config = EngineConfig(max_attempts_per_record=2)
    records = make_records(2)
    for run in range(2):
        results = run_pass(records, 1, backend, config, cache)
        assert results[0].error_class == "no_json" and results[0].prior_failed_runs == run
    fake.reset_stats()
    results = run_pass(records, 1, backend, config, cache)
    assert fake.stats.calls == 0
    failed = results[0]
    assert failed.error_class == "permanently_failed" and not failed.success
    assert failed.raw_text_of_failure == MALFORMED_TEXT and failed.prior_failed_runs == 2
    assert results[1].success and results[1].cache_hit
    # a "force" sends it again
    forced = run_pass(records, 1, backend, EngineConfig(ignore_attempts_ledger=True), cache)
    assert forced[0].error_class == "no_json" and fake.stats.calls == 2


def test_throttle_failures_do_not_count_against_the_record(fake, backend, cache):
    fake.configure(fail_records={"r0": "always_throttle"})
    config = EngineConfig(max_attempts_per_record=1, max_throttle_retries=0)
    for _ in range(2):
        [result] = run_pass(make_records(1), 1, backend, config, cache)
        assert result.error_class == "throttled" and result.prior_failed_runs == 0


def test_dry_run_makes_zero_calls_and_estimates_the_batch(fake, backend, cache):
    records = make_records(5)
    run_pass(records[:1], 1, backend, EngineConfig(), cache)  # r0 is cached
    fake.reset_stats()
    results = run_pass(records, 1, backend, EngineConfig(dry_run=True), cache)
    assert fake.stats.calls == 0
    assert all(not r.success and r.error_class == "dry_run" for r in results)
    assert results[0].cache_hit and results[0].estimated_cost_usd == 0
    assert all(r.estimated_input_tokens > 0 and r.estimated_cost_usd > 0 for r in results[1:])
    summary = BatchSummary.from_results(results)
    assert summary.estimated_cost_usd == pytest.approx(sum(r.estimated_cost_usd for r in results))
    assert summary.cost_usd == 0 and summary.calls == 0


def test_a_record_without_posting_text_is_not_sent(fake, backend):
    record = SilverRecord(job_posting_id="empty", job_title="Data Engineer",
                          job_description_text="")
    [result] = run_pass([record], 1, backend, EngineConfig())
    assert result.calls == 0 and not result.success
    assert result.error_class == "no_posting_text"
    assert not _user_texts(fake, "empty")


def test_pass2_needs_pass1_output_and_sends_it(fake, backend):
    records = make_records(2)
    pass1 = run_pass(records, 1, backend, EngineConfig())
    previous = {"r0": PassContext(pass1=pass1[0].output)}  # r1 has no pass-1 output
    results = run_pass(records, 2, backend, EngineConfig(), previous=previous)
    assert results[0].success and results[0].evidence_checked > 0
    assert results[1].error_class == "upstream_failed" and results[1].calls == 0
    assert "Pass-1 facts" in _user_texts(fake, "r0")[-1]


def test_ungrounded_evidence_downgrades_confidence(fake, backend):
    answer = full_answer(2, "a sentence that is nowhere in the posting at all")
    fake.configure(default_answers={**fake.config.default_answers, 2: answer})
    records = make_records(1)
    previous = {"r0": PassContext(pass1=run_pass(records, 1, backend).pop().output)}
    [result] = run_pass(records, 2, backend, previous=previous)
    assert result.success and result.evidence_grounded == 0
    assert result.confidence_downgraded == result.evidence_checked > 0
    inferred = result.output.inference.seniority_and_role.seniority_level  # type: ignore[union-attr]
    assert inferred.confidence == pytest.approx(0.4)  # 0.8 x 0.5


def test_a_saturated_quota_is_used_not_hammered(fake, backend):
    fake.configure(rpm_limit=5, rpm_window_s=1.0)  # 5 requests per second, server side
    pacer = Pacer()
    results = run_pass(make_records(15), 1, backend, EngineConfig(concurrency=8), pacer=pacer)
    assert all(r.success for r in results)
    stats = fake.stats
    assert stats.ok == 15
    assert pacer.governor.stats.pauses > 0
    # measured: ~27 throttles here; per-worker backoff alone (no shared pause) ~50 and slower
    assert stats.throttled <= 3 * 15
    assert sum(r.attempts for r in results) == stats.calls


def test_a_known_quota_configured_client_side_is_never_hit(fake, backend):
    fake.configure(rpm_limit=10, rpm_window_s=1.0)
    config = EngineConfig(concurrency=8, requests_per_minute=300)  # 5/s, burst of 5
    results = run_pass(make_records(12), 1, backend, config)
    assert all(r.success for r in results)
    assert fake.stats.throttled == 0
