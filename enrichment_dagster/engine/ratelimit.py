"""Pacing shared by all workers: client-side quotas and an adaptive throttle governor.

Why both: token buckets keep a *known* quota (requests/min, tokens/min) from being hit at
all; the governor reacts to throttles nobody configured (the account quota is lower than
believed, other jobs share it, the on-demand pool is busy). A quota is then used, not
hammered: the old system had each call back off on its own, so eight callers kept
knocking on a full quota in lock-step.

Governor model: a "pressure" level that rises by 1 on every throttle and falls by
``success_relief`` on every success (and decays with a half-life of ``half_life_s``
seconds, except during a pause). Once the level reaches 3 (three throttles more than
successes), a throttle imposes a shared pause of ``base_pause_s * 2 ** (level - 3)``
seconds (capped at ``max_pause_s``) on all new calls.
With the default relief of 1 the level only builds up when throttles outnumber successes,
the signature of a saturated quota; random throttles below that rate (a busy on-demand
pool) cost only the throttled call its own short, jittered retry.

Two rules keep a saturated quota from being hammered:

* one congestion event raises the level once: a throttle of a call sent before the last
  escalation is an echo of that event (eight workers that fired together come back
  throttled together) and changes nothing, as TCP shrinks its window once per round trip;
* after a pause, one probe call goes first (a circuit breaker's half-open state). Its
  throttle doubles the pause; a success anywhere, or the probe staying unthrottled for as
  long as the last pause (throttles come back fast, answers slowly), releases everyone.
  A per-minute quota that is exhausted for 50 seconds thus sees about ten probes, not
  eight workers knocking, and a slow model never holds the batch for a whole answer.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class TokenBucket:
    """Reservation-style token bucket: callers take tokens now and sleep off any debt.

    Reserving first and sleeping outside the lock keeps waiters in arrival order and never
    holds the lock while sleeping. ``capacity`` is the burst allowed after a quiet period.
    """

    def __init__(self, rate_per_s: float, capacity: float, clock: Clock = time.monotonic):
        if rate_per_s <= 0 or capacity <= 0:
            raise ValueError("rate and capacity must be > 0")
        self.rate = rate_per_s
        self.capacity = capacity
        self._clock = clock
        self._level = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def reserve(self, cost: float) -> float:
        """Take ``cost`` tokens; return the seconds the caller must wait before using them."""
        with self._lock:
            now = self._clock()
            self._level = min(self.capacity, self._level + (now - self._stamp) * self.rate)
            self._stamp = now
            self._level -= cost
            return 0.0 if self._level >= 0 else -self._level / self.rate


@dataclass
class GovernorStats:
    throttles: int = 0
    echoes: int = 0
    successes: int = 0
    pauses: int = 0
    paused_s: float = 0.0
    probes: int = 0
    max_level: float = 0.0


class ThrottleGovernor:
    """Shared reaction to throttles: a pause for everyone that grows and decays."""

    def __init__(
        self,
        base_pause_s: float = 0.05,
        max_pause_s: float = 30.0,
        success_relief: float = 1.0,
        half_life_s: float = 10.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self.base_pause_s = base_pause_s
        self.max_pause_s = max_pause_s
        self.success_relief = success_relief
        self.half_life_s = half_life_s
        self.last_pause_s = 0.0
        self._clock = clock
        self._level = 0.0
        self._stamp = clock()
        self._pause_until = float("-inf")
        self._last_escalation = float("-inf")
        self._recovering = False
        self._probe_sent_at: float | None = None
        self._cond = threading.Condition(threading.Lock())
        self.stats = GovernorStats()

    @property
    def level(self) -> float:
        with self._cond:
            self._decay(self._clock())
            return self._level

    @property
    def recovering(self) -> bool:
        with self._cond:
            return self._recovering

    def _decay(self, now: float) -> None:
        """Forget pressure over quiet time, but not during a pause: that quiet is ours."""
        if self.half_life_s > 0 and now > self._stamp and not self._recovering:
            self._level *= 0.5 ** ((now - self._stamp) / self.half_life_s)
        self._stamp = now

    def pause_for(self, level: float) -> float:
        """The shared pause imposed at pressure ``level``."""
        if level < 2.5:  # three net throttles, tolerant of the decay between them
            return 0.0
        return min(self.max_pause_s, self.base_pause_s * 2.0 ** max(level - 3.0, 0.0))

    def on_throttle(self, sent_at: float | None = None) -> float:
        """Register a throttle of a call sent at ``sent_at`` (clock time; None: unknown,
        treated as new); returns the shared pause now in force (seconds from now)."""
        with self._cond:
            now = self._clock()
            self._decay(now)
            self.stats.throttles += 1
            if sent_at is not None and sent_at <= self._last_escalation:
                self.stats.echoes += 1
                return max(0.0, self._pause_until - now)
            self._last_escalation = now
            self._level += 1.0
            self.stats.max_level = max(self.stats.max_level, self._level)
            pause = self.pause_for(self._level)
            if pause > 0:
                self.last_pause_s = pause
                self.stats.pauses += 1
                self.stats.paused_s += pause
                self._pause_until = max(self._pause_until, now + pause)
                self._recovering = True
            self._probe_sent_at = None
            self._cond.notify_all()
            return max(0.0, self._pause_until - now)

    def on_success(self) -> None:
        with self._cond:
            self._decay(self._clock())
            self._level = max(0.0, self._level - self.success_relief)
            self.stats.successes += 1
            if self._recovering:
                self._recovering = False
                self._probe_sent_at = None
                self._cond.notify_all()

    def on_other_outcome(self) -> None:
        """A call ended in neither success nor throttle: let another probe go."""
        with self._cond:
            if self._probe_sent_at is not None:
                self._probe_sent_at = None
                self._cond.notify_all()

    def wait_time(self) -> float:
        with self._cond:
            return max(0.0, self._pause_until - self._clock())

    def wait_turn(self, sleep: Sleep) -> None:
        """Block until this worker may call: the pause is over and, while recovering from
        it, no other probe is out."""
        while True:
            with self._cond:
                now = self._clock()
                remaining = self._pause_until - now
                if remaining <= 0:
                    if not self._recovering:
                        return
                    probe = self._probe_sent_at
                    if probe is None:
                        self._probe_sent_at = now
                        self.stats.probes += 1
                        return
                    if now - probe >= self.last_pause_s:  # not throttled: quota has room
                        self._recovering = False
                        self._probe_sent_at = None
                        self._cond.notify_all()
                        return
                    self._cond.wait(timeout=min(0.05, self.last_pause_s))
                    continue
            sleep(remaining)  # outside the lock; loop: another throttle may extend it


class Pacer:
    """Everything a worker waits for before a call; one instance shared by a batch (or by
    several batches, to pace them against one account quota)."""

    def __init__(
        self,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        governor: ThrottleGovernor | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        rng: random.Random | None = None,
        burst_s: float = 1.0,
        window_s: float = 60.0,
    ) -> None:
        """``burst_s``: seconds of quota a bucket may spend at once after a quiet period
        (kept short so a per-minute quota is never met with one big burst).
        ``window_s``: the window over which the provider counts the quota (Bedrock: a
        minute); the buckets never let more than ``per_minute * window_s / 60`` through in
        any such window (see :func:`_bucket`). Tests that run a quota faster shrink it."""
        if burst_s < 0 or window_s <= 0:
            raise ValueError("burst_s must be >= 0 and window_s > 0")
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()
        self.governor = governor or ThrottleGovernor(clock=clock)
        self.requests = _bucket(requests_per_minute, burst_s, window_s, clock)
        self.tokens = _bucket(tokens_per_minute, burst_s, window_s, clock)
        self.waited_s = 0.0
        self._waited_lock = threading.Lock()

    def before_call(self, estimated_tokens: int) -> float:
        """Block until the governor lets this worker call and the quotas allow one more
        call; returns the clock time the call is sent (hand it to :meth:`on_throttle`)."""
        self.governor.wait_turn(self._pause)
        wait = 0.0
        if self.requests is not None:
            wait = max(wait, self.requests.reserve(1.0))
        if self.tokens is not None:
            wait = max(wait, self.tokens.reserve(float(max(estimated_tokens, 1))))
        self._pause(wait)
        return self._clock()

    def on_throttle(self, sent_at: float | None = None) -> None:
        self.governor.on_throttle(sent_at)

    def on_success(self) -> None:
        self.governor.on_success()

    def on_other_outcome(self) -> None:
        self.governor.on_other_outcome()

    def backoff(self, base_s: float, retry_number: int, cap_s: float = 30.0) -> None:
        """Sleep a random ("full jitter") time up to ``base_s * 2^(n-1)`` seconds: jitter
        spreads the retries of workers that failed together."""
        ceiling = min(cap_s, base_s * (2.0 ** max(retry_number - 1, 0)))
        with self._rng_lock:
            delay = self._rng.uniform(0.0, ceiling)
        self._pause(delay)

    def _pause(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._waited_lock:
            self.waited_s += seconds
        self._sleep(seconds)


class ModelSlots:
    """At most ``size`` holders at once, served in the order they asked.

    A pass's conversations hold a slot while their requests are open (``CallEnv.slots``),
    and more workers than slots prepare records around them. ``threading.Semaphore`` lets a
    worker that just gave a slot back take it again ahead of one already waiting, so a
    record could wait for a whole pass; here a freed slot is handed to the longest waiter.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self._free = size
        self._lock = threading.Lock()
        self._waiters: deque[threading.Event] = deque()

    def __enter__(self) -> ModelSlots:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return self
            turn = threading.Event()
            self._waiters.append(turn)
        turn.wait()  # set by the holder that hands its slot over
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        with self._lock:
            if self._waiters:
                self._waiters.popleft().set()
            else:
                self._free += 1


def _bucket(
    per_minute: float | None, burst_s: float, window_s: float, clock: Clock
) -> TokenBucket | None:
    """A bucket that lets at most the quota through in *any* ``window_s`` seconds.

    A bucket of rate r and capacity C lets up to C + r*W through in W seconds. Sized at the
    quota's own rate, it overshot a windowed quota by its burst in every window that began
    after a quiet moment (at 600/min, 610 requests in the first minute), and once saturated
    it sent at exactly the quota with no margin, so the jitter between our send times and
    the provider's arrival times put request N+1 inside the provider's window: throttles
    the client had been told how to avoid. The burst is therefore paid for out of the
    rate (C + r*W = quota): 1/60 of the throughput for a per-minute quota and a 1 s burst,
    and a saturated client keeps one request interval of margin per window.
    """
    if per_minute is None:
        return None
    quota = per_minute * window_s / 60.0
    capacity = min(max(1.0, per_minute / 60.0 * burst_s), quota / 2.0)
    return TokenBucket((quota - capacity) / window_s, capacity=capacity, clock=clock)
