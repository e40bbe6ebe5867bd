"""The engine's parts on their own: pacing, budget, cache payloads, and worker isolation."""

from __future__ import annotations

import threading

import pytest

from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.engine import EngineConfig, Pacer, ThrottleGovernor, TokenBucket, run_pass
from enrichment_dagster.engine.budget import BudgetGuard
from enrichment_dagster.engine.cache import (
    CachedAnswer,
    answer_key,
    content_hash,
    read_answer,
    record_input_hash,
)
from enrichment_dagster.engine.prepare import prepare_record
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.parsing import parse_answer
from enrichment_dagster.llm.types import (
    ConfigurationError,
    LLMRequest,
    LLMResponse,
    Message,
    TransientError,
)
from enrichment_dagster.prompts.render import PromptBudget
from enrichment_dagster_tests.engine.answers import full_answer
from enrichment_dagster_tests.engine.conftest import make_records


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class CannedBackend(BaseBackend):
    """In-process backend: a complete answer, or a scripted failure per record id."""

    name = "canned"

    def __init__(self, failures: dict[str, BaseException] | None = None) -> None:
        self.failures = failures or {}
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self._lock:
            self.calls.append(request.record_id)
        failure = self.failures.get(request.record_id)
        if failure is not None:
            raise failure
        return LLMResponse(full_answer(request.pass_number), "end_turn", 100, 50, 0.0)


def test_token_bucket_spaces_calls_at_the_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2.0, capacity=1.0, clock=clock)
    waits = [bucket.reserve(1.0) for _ in range(4)]
    assert waits == [0.0, 0.5, 1.0, 1.5]
    clock.sleep(10)
    assert bucket.reserve(1.0) == 0.0  # refilled, but never above capacity
    assert bucket.reserve(1.0) == 0.5


def test_governor_pause_grows_with_a_burst_and_decays_with_successes():
    clock = FakeClock()
    governor = ThrottleGovernor(base_pause_s=0.1, max_pause_s=5.0, clock=clock)
    assert governor.on_throttle() == governor.on_throttle() == 0.0  # sparse ones: no pause
    pauses = [governor.on_throttle() for _ in range(7)]
    assert pauses == sorted(pauses) and pauses[0] > 0 and pauses[-1] == 5.0
    for _ in range(20):
        governor.on_success()
    assert governor.level == 0.0
    clock.sleep(10)
    assert governor.wait_time() == 0.0


def test_governor_ignores_sparse_random_throttles():
    governor = ThrottleGovernor(clock=FakeClock())
    for _ in range(50):  # one throttle in five calls: fewer throttles than successes
        governor.on_throttle()
        for _ in range(4):
            governor.on_success()
    assert governor.stats.pauses == 0


def test_governor_counts_one_congestion_event_once_and_probes_after_a_pause():
    clock = FakeClock()
    governor = ThrottleGovernor(base_pause_s=1.0, clock=clock)
    for _ in range(2):  # two separate events: levels 1 and 2, no pause yet
        clock.sleep(0.01)
        governor.on_throttle(clock() - 0.005)
    clock.sleep(0.001)
    sent = clock()
    clock.sleep(0.01)
    governor.on_throttle(sent)  # sent after the last escalation: level 3, pause 1 s
    for _ in range(7):  # the other workers' calls, sent together with it
        governor.on_throttle(sent)
    assert governor.stats.echoes == 7 and governor.level == pytest.approx(3.0, abs=0.01)
    assert governor.recovering and governor.wait_time() == pytest.approx(1.0, abs=0.01)
    governor.wait_turn(clock.sleep)  # sleeps the pause, then goes as the probe
    assert governor.stats.probes == 1 and governor.recovering
    clock.sleep(1.0)  # the probe was not throttled for a whole pause: quota has room
    governor.wait_turn(clock.sleep)
    assert not governor.recovering


def test_pacer_waits_for_the_governor_and_the_quota():
    clock = FakeClock()
    pacer = Pacer(requests_per_minute=60, clock=clock, sleep=clock.sleep,
                  governor=ThrottleGovernor(base_pause_s=1.0, clock=clock))
    pacer.before_call(10)
    pacer.before_call(10)
    assert clock.now == pytest.approx(100.0 + 60 / 59)  # 1 request/s, less the burst's share
    for _ in range(3):
        pacer.on_throttle()  # level 3: one base pause for everyone
    start = clock.now
    pacer.before_call(10)
    assert clock.now - start >= 1.0


def _sliding_window_refusals(sent: list[float], limit: int, window_s: float,
                             jitter_s: float) -> int:
    """Requests a provider's sliding window (``limit`` per ``window_s``, as the fake Bedrock
    server counts it) would refuse if each arrived up to ``jitter_s`` late or early."""
    admitted: list[float] = []
    refused = 0
    for index, at in enumerate(sent):
        # Every other block of ``limit`` requests arrives late, the next early: request k
        # and request k - limit then meet the window in the worst order.
        arrival = at + (jitter_s if (index // limit) % 2 == 0 else -jitter_s)
        if sum(1 for t in admitted if arrival - t < window_s) >= limit:
            refused += 1
        else:
            admitted.append(arrival)
    return refused


@pytest.mark.parametrize(("per_minute", "window_s"), [(60, 60.0), (600, 60.0), (600, 6.0)])
def test_pacer_never_exceeds_a_windowed_quota_even_after_a_quiet_period(
    per_minute: int, window_s: float
) -> None:
    """Regression: the request bucket ran at the quota's own rate with a burst on top, so
    any window starting after a quiet moment got quota + burst requests (610 in the first
    minute at 600/min), and a saturated client had no margin against arrival jitter."""
    clock = FakeClock()
    pacer = Pacer(requests_per_minute=per_minute, clock=clock, sleep=clock.sleep,
                  window_s=window_s, burst_s=window_s / 60.0)
    quota = round(per_minute * window_s / 60.0)
    sent: list[float] = []
    for burst in range(3):  # saturate, fall quiet, saturate again
        for _ in range(int(quota * 1.5)):
            sent.append(pacer.before_call(10))
        clock.sleep(window_s * (0.5 + burst))
    # 10 ms of arrival jitter either way on a one-minute window (1 ms on the 6 s one)
    assert _sliding_window_refusals(sent, quota, window_s, jitter_s=window_s / 6000) == 0
    span = sent[int(quota * 1.5) - 1] - sent[0]  # the first saturated stretch
    assert (int(quota * 1.5) - 1) / span * window_s >= 0.95 * quota  # the quota is still used


def test_budget_guard_refuses_once_spent_and_waits_for_reservations():
    guard = BudgetGuard(1.0)
    assert guard.admit(0.6)
    assert guard.admit(0.3)  # 0.6 reserved < 1.0
    admitted: list[bool] = []
    waiter = threading.Thread(target=lambda: admitted.append(guard.admit(0.5)))
    waiter.start()  # 0.9 reserved: waits for the in-flight records
    guard.spend(0.2)
    guard.release(0.6)
    waiter.join(timeout=5)
    assert admitted == [True]
    guard.spend(0.9)
    assert not guard.admit(0.1)


def test_content_hash_is_the_messages_as_sent():
    one = (Message("system", "rules"), Message("user", "posting"))
    same = (Message("system", "rules"), Message("user", "posting"))
    other = (Message("system", "rules"), Message("user", "another"))
    moved = (Message("system", "rulesposting"), Message("user", ""))
    assert content_hash(one) == content_hash(same) != content_hash(other)
    assert content_hash(one) != content_hash(moved)  # message boundaries count
    # Nothing is stripped: a line that looks like the old routing line is content too.
    assert content_hash(one) != content_hash(
        (Message("system", "rules"), Message("user", "RECORD_ID: 1\nposting")))
    key = answer_key(1, "bedrock", "m", "p1-x", content_hash(one))
    assert key != answer_key(1, "bedrock", "m", "p1-y", content_hash(one))
    assert key != answer_key(1, "heuristic", "m", "p1-x", content_hash(one))


def test_two_ids_with_identical_content_share_one_key_unless_answers_are_by_record():
    text = "Remote. 5+ years of Python and SQL. Salary 120k."
    one, two = (SilverRecord(job_posting_id=i, job_title="Data Engineer",
                             job_description_text=text) for i in ("4001", "4002"))
    first = prepare_record(0, one, 1, "bedrock", "m", None, PromptBudget())
    second = prepare_record(1, two, 1, "bedrock", "m", None, PromptBudget())
    assert first.rendered.messages == second.rendered.messages  # the id is not in the input
    assert first.key == second.key and first.input_hash == content_hash(first.rendered.messages)
    # A backend whose answer depends on the id (replay) binds it into the key instead.
    by_one = prepare_record(0, one, 1, "replay", "m", None, PromptBudget(), by_record=True)
    by_two = prepare_record(1, two, 1, "replay", "m", None, PromptBudget(), by_record=True)
    assert by_one.key != by_two.key
    assert by_one.input_hash == record_input_hash("4001", by_one.rendered.messages)


def test_cached_answer_round_trips_and_a_corrupt_entry_is_a_miss(cache):
    parsed = parse_answer(full_answer(3), 3)
    assert parsed.output is not None
    stored = CachedAnswer(3, "m", "p3-x", "4.0", "h", full_answer(3), parsed.output, 10, 20,
                          0.5, 1, 1, 0.1, "end_turn", {"coerced": 1})
    cache.put("ab" * 32, stored.to_bytes())
    loaded = read_answer(cache, "ab" * 32)
    assert loaded is not None and loaded.output == parsed.output and loaded.cost_usd == 0.5
    cache.put("cd" * 32, b"{not json")
    assert read_answer(cache, "cd" * 32) is None


def test_an_unexpected_exception_fails_only_its_record():
    backend = CannedBackend({"r1": RuntimeError("boom"), "r2": TransientError("503")})
    config = EngineConfig(concurrency=2, max_transient_retries=1, transient_backoff_s=0.001)
    results = run_pass(make_records(4), 1, backend, config)
    assert [r.success for r in results] == [True, False, False, True]
    assert results[1].error_class == "internal" and "boom" in (results[1].error_message or "")
    assert results[2].error_class == "transient" and results[2].calls == 2


def test_a_configuration_error_from_the_backend_stops_the_rest_of_the_batch():
    backend = CannedBackend({"r0": ConfigurationError("no credentials")})
    results = run_pass(make_records(5), 1, backend, EngineConfig(concurrency=1))
    assert {r.error_class for r in results} == {"configuration"}
    assert backend.calls == ["r0"]


def test_a_record_that_cannot_be_rendered_fails_alone():
    good = make_records(2)
    # model_construct skips validation: a description that is not text breaks rendering
    bad = SilverRecord.model_construct(job_posting_id="bad", job_description_text=123)
    results = run_pass([good[0], bad, good[1]], 1, CannedBackend(), EngineConfig())
    assert [r.success for r in results] == [True, False, True]
    assert results[1].error_class == "internal" and results[1].record_id == "bad"


def test_invalid_settings_are_rejected_before_any_call():
    backend = CannedBackend()
    with pytest.raises(ConfigurationError, match="concurrency"):
        run_pass(make_records(1), 1, backend, EngineConfig(concurrency=0))
    assert backend.calls == []
