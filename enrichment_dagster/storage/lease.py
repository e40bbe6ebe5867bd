"""A cross-process lease in storage: one owner at a time for a named piece of work.

Why: two materializations of the same partition at once (two processes, one storage root)
each found the cache empty and paid for every record: 455 calls for 252 answers. The pass
assets hold a lease on ``(pass, partition)`` while they run, so a second run of the same
pass and partition waits for the first to finish (then takes its answers from the cache)
or, after ``wait_s``, refuses clearly with :class:`LeaseHeldError`.

The lease is one small JSON object, ``_leases/<name>.json``: owner (host, pid, a token),
when it was taken and when it expires. It is *created* exclusively: locally with
``O_CREAT | O_EXCL``, on S3 with a conditional PUT (``If-None-Match: *``, which S3 and the
moto server honour), so exactly one of two racing takers wins. The holder renews it on a
heartbeat thread; a lease whose holder is gone stops blocking:

* expired (its holder did not renew for ``ttl_s``: killed, host lost) -> taken over;
* on the same host with a dead pid (a SIGKILLed run) -> taken over at once, so a rerun
  right after a crash is not held up for ``ttl_s``.

Take-over removes the stale object and creates a new one exclusively, so of two processes
taking over at once one wins and the other waits again. No Dagster import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from enrichment_dagster.storage.filesystem import StorageRoot

log = logging.getLogger(__name__)

LEASE_DIR = "_leases"
DEFAULT_TTL_S = 120.0
DEFAULT_WAIT_S = 900.0
_POLL_S = 0.5
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")


class LeaseHeldError(RuntimeError):
    """Another live process holds the lease (the work is already running)."""


@dataclass(frozen=True)
class Holder:
    token: str
    host: str
    pid: int
    taken_at: float
    expires_at: float

    def to_bytes(self) -> bytes:
        return json.dumps(self.__dict__).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Holder:
        payload: dict[str, Any] = json.loads(data)
        return cls(str(payload["token"]), str(payload["host"]), int(payload["pid"]),
                   float(payload["taken_at"]), float(payload["expires_at"]))

    def describe(self) -> str:
        taken = dt.datetime.fromtimestamp(self.taken_at, dt.UTC).isoformat(timespec="seconds")
        return f"pid {self.pid} on {self.host} since {taken}"

    def stale(self, now: float) -> bool:
        if now >= self.expires_at:
            return True
        return self.host == socket.gethostname() and not _pid_alive(self.pid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lease_name(*parts: str) -> str:
    """A file-safe lease name from its parts (e.g. ``pass1``, ``2025-12-11-08:00``)."""
    return "__".join(_UNSAFE.sub("_", part) for part in parts)


class Lease:
    """``with Lease(root, name): ...``: hold ``name`` for the duration of the block."""

    def __init__(self, root: StorageRoot, name: str, *, ttl_s: float = DEFAULT_TTL_S,
                 wait_s: float = DEFAULT_WAIT_S) -> None:
        if not name or _UNSAFE.search(name):
            raise ValueError(f"lease name must be file-safe, got {name!r} (use lease_name)")
        self.root = root
        self.name = name
        self.ttl_s = ttl_s
        self.wait_s = wait_s
        self.path = root.path(LEASE_DIR, name + ".json")
        self.token = uuid.uuid4().hex
        self.waited_s = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- storage primitives -------------------------------------------------------------------
    def _holder(self) -> Holder:
        now = time.time()
        return Holder(self.token, socket.gethostname(), os.getpid(), now, now + self.ttl_s)

    def _create(self) -> bool:
        """Create the lease object if none exists; False when one does."""
        data = self._holder().to_bytes()
        if self.root.is_s3:
            from botocore.exceptions import ClientError

            assert self.root.bucket is not None
            try:
                self.root.s3_client.put_object(
                    Bucket=self.root.bucket, Key=self.path[len(self.root.bucket) + 1 :],
                    Body=data, IfNoneMatch="*",
                )
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (
                    409, 412,
                ):
                    return False
                raise
            return True
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _read(self) -> Holder | None:
        try:
            return Holder.from_bytes(self.root.read_bytes(self.path))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError):  # half-written by a killed creator
            return Holder("?", "?", -1, 0.0, 0.0)

    # -- the lease --------------------------------------------------------------------------
    def acquire(self) -> Lease:
        started = time.monotonic()
        announced = False
        while True:
            if self._create():
                break
            holder = self._read()
            if holder is None:
                continue  # released between our create and read: try again at once
            if holder.stale(time.time()):
                log.warning("lease %s: taking over from %s (expired or its process is gone)",
                            self.name, holder.describe())
                if self._read() == holder:
                    self.root.delete(self.path)
                continue
            waited = time.monotonic() - started
            if waited >= self.wait_s:
                raise LeaseHeldError(
                    f"{self.name} is already running ({holder.describe()}); waited "
                    f"{waited:.0f}s. Try again when it has finished."
                )
            if not announced:
                log.warning("lease %s is held by %s: waiting up to %.0fs for it",
                            self.name, holder.describe(), self.wait_s)
                announced = True
            time.sleep(_POLL_S)
        self.waited_s = time.monotonic() - started
        self._thread = threading.Thread(target=self._renew_loop, name=f"lease-{self.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            try:
                holder = self._read()
                if holder is None or holder.token != self.token:
                    log.error("lease %s was taken over while held", self.name)
                    return
                self.root.write_bytes_atomic(self.path, self._holder().to_bytes())
            except Exception as exc:  # the next beat tries again; expiry is the bound
                log.warning("lease %s could not be renewed: %r", self.name, exc)

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        try:
            holder = self._read()
            if holder is not None and holder.token == self.token:
                self.root.delete(self.path)
        except Exception as exc:  # an unreleased lease expires after ttl_s
            log.warning("lease %s could not be released: %r", self.name, exc)

    def __enter__(self) -> Lease:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


LEASE_WAIT_ENV = "ENRICHMENT_LEASE_WAIT_S"


@contextlib.contextmanager
def hold_partitions(root: StorageRoot, work: str, partition_keys: Iterable[str]) -> Iterator[None]:
    """Hold the lease of ``work`` (e.g. ``pass1``) on every partition, in sorted order (so
    two runs of overlapping ranges never wait on each other in a cycle)."""
    wait_s = float(os.environ.get(LEASE_WAIT_ENV) or DEFAULT_WAIT_S)
    with contextlib.ExitStack() as stack:
        for key in sorted(set(partition_keys)):
            stack.enter_context(Lease(root, lease_name(work, key), wait_s=wait_s))
        yield
