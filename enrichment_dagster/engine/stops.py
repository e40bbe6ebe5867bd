"""Batch-wide stops: conditions under which sending more records can only waste money.

* :class:`StorageGuard`: a paid answer could not be written to the cache. Every further
  answer would be paid and then lost too (the next run would pay again), so no record is
  sent after the first failed write; records not sent get ``storage_unwritable``. Answers
  already paid stay in the results (and reach the pass table if that can be written).
* :class:`Reachability`: the model cannot be reached at all (connection refused, DNS,
  connect timeout). After ``stop_after`` such failures in a row and no call reaching the
  model in between, the rest of the batch is not sent (``model_unreachable``) instead of
  failing record after record; these failures never count against a record's attempts.
* :class:`StreamClosed`: the pass's caller failed and closed it; records not yet sent are
  not sent (``cancelled``): nobody will collect their results.

All are shared by the workers of one batch and thread-safe.
"""

from __future__ import annotations

import threading


class BatchStop:
    """A one-way switch shared by a batch's workers, with the message that set it.

    ``keep_first``: whether the first message stays (the cause) or the latest replaces it.
    Subclasses say, in ``refusal``, why a record was not sent once it is set.
    """

    keep_first = True

    def __init__(self) -> None:
        self._event = threading.Event()
        self.message = ""

    def trip(self, message: str) -> None:
        if not (self.keep_first and self._event.is_set()):
            self.message = message
        self._event.set()

    @property
    def tripped(self) -> bool:
        return self._event.is_set()

    @property
    def refusal(self) -> str:
        raise NotImplementedError


class StorageGuard(BatchStop):
    @property
    def refusal(self) -> str:
        return (
            "not sent: a paid answer of this batch could not be written to the cache, so "
            f"sending more would pay for answers that are lost: {self.message}"
        )


class StreamClosed(BatchStop):
    @property
    def refusal(self) -> str:
        return "not sent: the pass was stopped (its caller failed) before this record was sent"


class Reachability:
    def __init__(self, stop_after: int) -> None:
        self.stop_after = max(1, stop_after)
        self._lock = threading.Lock()
        self._event = threading.Event()
        self.consecutive = 0
        self.reached = 0
        self.last_error = ""

    def on_reached(self) -> None:
        """Any response from the model's service (an answer, a throttle, a 4xx/5xx)."""
        with self._lock:
            self.consecutive = 0
            self.reached += 1

    def on_unreachable(self, error: str) -> None:
        with self._lock:
            self.consecutive += 1
            self.last_error = error
            if self.consecutive >= self.stop_after:
                self._event.set()

    @property
    def tripped(self) -> bool:
        return self._event.is_set()

    @property
    def refusal(self) -> str:
        return (
            f"not sent: the model could not be reached ({self.consecutive} connection "
            f"failures in a row, {self.reached} call(s) reached it in this batch); the record "
            f"is not charged an attempt and a later run sends it. Last error: {self.last_error}"
        )
