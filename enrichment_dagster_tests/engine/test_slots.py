"""Model slots: requests open at the model stay within ``concurrency``, a worker gives its
slot back while it validates and stores an answer, and slots are handed out in turn."""

from __future__ import annotations

import threading
import time

import pytest

from enrichment_dagster.engine.config import EngineConfig
from enrichment_dagster.engine.ratelimit import ModelSlots
from enrichment_dagster.engine.runner import WORKERS_PER_SLOT, _GroupRunner, run_pass
from enrichment_dagster.llm.backend import BaseBackend
from enrichment_dagster.llm.types import LLMRequest, LLMResponse
from enrichment_dagster_tests.engine.answers import full_answer
from enrichment_dagster_tests.engine.conftest import make_records

WAIT_S = 10.0


class CountingBackend(BaseBackend):
    """Answers at once with a complete answer; counts requests, open and in all."""

    name = "counting"

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent = 0
        self.open = 0
        self.max_open = 0
        self.more_sent = threading.Condition(self.lock)

    def complete(self, request: LLMRequest) -> LLMResponse:
        with self.lock:
            self.sent += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
            self.more_sent.notify_all()
        time.sleep(0.005)
        with self.lock:
            self.open -= 1
        return LLMResponse(full_answer(request.pass_number), "end_turn", 1000, 500, 0.005,
                           model_id=request.model_id)

    def wait_sent(self, count: int) -> bool:
        with self.more_sent:
            return self.more_sent.wait_for(lambda: self.sent >= count, timeout=WAIT_S)


def test_answers_are_validated_and_stored_outside_the_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """While every slot's first answer is still being validated, the next records are sent:
    with one worker per slot, the work after the answer kept the slot idle."""
    concurrency = 2
    backend = CountingBackend()
    unblocked: list[bool] = []
    after_answer = _GroupRunner._from_answer

    def slow_from_answer(self: _GroupRunner, *args: object) -> object:
        # Held until ``concurrency`` more requests went out than there are answers in hand.
        unblocked.append(backend.wait_sent(2 * concurrency))
        return after_answer(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(_GroupRunner, "_from_answer", slow_from_answer)
    results = run_pass(make_records(4 * concurrency), 1, backend, EngineConfig(concurrency=concurrency))
    assert all(result.success for result in results)
    assert unblocked and all(unblocked)
    assert backend.max_open <= concurrency
    assert backend.sent == 4 * concurrency


@pytest.mark.parametrize("concurrency", [1, 3, 8])
def test_requests_open_at_once_never_exceed_the_concurrency(concurrency: int) -> None:
    backend = CountingBackend()
    results = run_pass(make_records(40), 1, backend, EngineConfig(concurrency=concurrency))
    assert all(result.success for result in results)
    assert backend.sent == 40
    assert backend.max_open <= concurrency < WORKERS_PER_SLOT * concurrency


def _acquire_in_order(slots: ModelSlots, names: list[str], taken: list[str]) -> list[threading.Thread]:
    """Start one waiter per name, each only once the one before is waiting."""
    threads = []
    for name in names:
        waiting = len(slots._waiters)

        def take(name: str = name) -> None:
            with slots:
                taken.append(name)

        thread = threading.Thread(target=take)
        thread.start()
        deadline = time.monotonic() + WAIT_S
        while len(slots._waiters) == waiting and time.monotonic() < deadline:
            time.sleep(0.001)
        threads.append(thread)
    return threads


def test_a_freed_slot_goes_to_the_longest_waiter_not_to_whoever_asks_next() -> None:
    slots = ModelSlots(1)
    taken: list[str] = []
    slots.__enter__()
    threads = _acquire_in_order(slots, ["first", "second", "third"], taken)
    slots.__exit__(None, None, None)
    with slots:  # asks again at once, as a worker that just finished a record does
        taken.append("again")
    for thread in threads:
        thread.join(WAIT_S)
    assert taken == ["first", "second", "third", "again"]


def test_slots_are_taken_without_waiting_while_free() -> None:
    slots = ModelSlots(3)
    with slots, slots, slots:
        assert slots._free == 0
    assert slots._free == 3
    with pytest.raises(ValueError, match="size"):
        ModelSlots(0)
