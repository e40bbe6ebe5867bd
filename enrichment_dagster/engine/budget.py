"""A USD cap per batch that stops *new* records, never a record already being answered.

Admission rule: a record may start while ``spent + reserved < cap``, where ``reserved`` is
the estimated cost of the records in flight. Without the reservation, eight workers would
all start at ``spent = cap - epsilon`` and overshoot by eight answers. When only the
reservations stand in the way, the record waits for the in-flight ones to settle (their
real cost is usually below the estimate) instead of giving up early. Once ``spent``
reaches the cap every remaining record is refused (``budget_exceeded``). Retries,
truncation retries and re-asks of an admitted record are always allowed: stopping them
would waste what that record has already cost.

Records are admitted in the order they ask: a waiting record is not overtaken by one that
asks later and happens to fit (without the queue, a worker that finished a record and asked
for the next one at once was admitted ahead of one already waiting, again and again, so the
records cut off at the cap were not the last ones).
"""

from __future__ import annotations

import threading
from collections import deque


class BudgetGuard:
    """Thread-safe spend tracking; ``cap_usd=None`` admits everything."""

    def __init__(self, cap_usd: float | None) -> None:
        self.cap_usd = cap_usd
        self.spent_usd = 0.0
        self._reserved = 0.0
        self._in_flight = 0
        self._cond = threading.Condition()
        #: Records waiting to be admitted, first asked first.
        self._queue: deque[object] = deque()

    def admit(self, estimate_usd: float) -> bool:
        """Reserve ``estimate_usd`` and return True, or False once the cap is reached."""
        with self._cond:
            if self.cap_usd is None:
                self._in_flight += 1
                return True
            turn = object()
            self._queue.append(turn)
            try:
                while True:
                    if self.spent_usd >= self.cap_usd:
                        return False
                    if self._queue[0] is turn and (
                        self.spent_usd + self._reserved < self.cap_usd or self._in_flight == 0
                    ):
                        self._reserved += estimate_usd
                        self._in_flight += 1
                        return True
                    self._cond.wait()
            finally:
                self._queue.remove(turn)
                self._cond.notify_all()

    def spend(self, cost_usd: float) -> None:
        """Add the cost of one call as soon as it is known (others see it immediately)."""
        with self._cond:
            self.spent_usd += cost_usd
            self._cond.notify_all()

    def release(self, estimate_usd: float) -> None:
        """The admitted record is done: drop its reservation."""
        with self._cond:
            self._in_flight -= 1
            if self.cap_usd is not None:
                self._reserved = max(0.0, self._reserved - estimate_usd)
            self._cond.notify_all()
