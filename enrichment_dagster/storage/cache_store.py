"""Content-addressed blob store for LLM results, under ``{root}/_cache/``.

Why it exists: an LLM answer is paid for once. The engine keys each answer by a hex digest
of everything that determines it (model, prompt version, input) and stores it here; a rerun,
a backfill or another partition with the same posting finds it and does not pay again.

Layout: ``_cache/ab/cd/abcdef….json``. Two levels of two hex characters keep any local
folder under ~65k entries × 256 and spread S3 keys across prefixes. The leading underscore
makes Spark/Athena/Hive (and our own ``list_partitions``) skip the whole tree.

Writes are atomic (temp file + ``os.replace`` locally, a single PUT on S3), so a crash never
leaves a half-written answer that a later run would take for a hit. Content-addressing makes
concurrent ``put`` calls safe: different keys touch different files, and two puts of the same
key store the same answer, so whichever lands last is correct. ``StorageRoot`` is thread-safe,
hence so is this class; it is meant to be shared by a thread pool.

No Dagster import.
"""

from __future__ import annotations

import re

from enrichment_dagster.storage.filesystem import StorageRoot

CACHE_DIR = "_cache"
_KEY_RE = re.compile(r"^[0-9a-f]{8,128}$")


class CacheStore:
    """``get``/``put``/``exists`` of opaque bytes by hex-digest key, on a ``StorageRoot``."""

    def __init__(self, root: StorageRoot, suffix: str = ".json") -> None:
        self.root = root
        self.suffix = suffix

    def path(self, key: str) -> str:
        """The ``fs`` path of ``key``; ``ValueError`` if it is not a lowercase hex digest.

        Validated because keys become object names: anything else could escape the cache.
        """
        if not isinstance(key, str) or not _KEY_RE.match(key):
            raise ValueError(f"cache key must be a lowercase hex digest (8-128 chars): {key!r}")
        return self.root.path(CACHE_DIR, key[:2], key[2:4], key + self.suffix)

    def uri(self, key: str) -> str:
        """Where ``key`` lives, for logs and lineage."""
        return self.root.display(self.path(key))

    def get(self, key: str) -> bytes | None:
        """The stored bytes, or None on a miss."""
        try:
            return self.root.read_bytes(self.path(key))
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically; overwrites (same key means same content)."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"CacheStore.put wants bytes, got {type(data).__name__}")
        self.root.write_bytes_atomic(self.path(key), bytes(data))

    def exists(self, key: str) -> bool:
        return self.root.exists(self.path(key))
