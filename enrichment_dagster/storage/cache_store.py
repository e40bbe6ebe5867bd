"""Content-addressed store for LLM answers, under ``{root}/_cache/``: few large objects.

Why it exists: an LLM answer is paid for once. The engine keys each answer by a hex digest
of everything that determines it (model, prompt version, input) and stores it here; a rerun,
a backfill or another partition with the same posting finds it and does not pay again.

Why segments: one fsynced file per answer cost 150,000 files and 1 GB at 50,000 records
(fsync alone 22% of a pass's worker time) and made a fully cached rerun a third of a fresh
one. Answers are now appended to **segments**, one per writer session (a ``run_pass`` of
one run: ``close`` ends it), under ``_cache/segments/``:

* ``<stamp>-<id>.seg``: frames ``magic | key (32 bytes) | raw length | stored length |
  crc32 | zstd payload``. Each frame is compressed on its own, so one answer is read with
  one ranged read, and a torn frame is recognised by its length or checksum.
* ``<stamp>-<id>.idx``: the keys and offsets of a sealed segment (written by ``close``).
  A reader lists ``_cache/segments/`` once and loads every index; a segment without its
  index (its writer was killed) is scanned frame by frame instead, up to the first bad one.

Crash safety. Locally a frame is appended with one ``write`` to the open segment, so a
SIGKILL keeps every answer written before it (the page cache survives the process); the
segment is fsynced at ``close``, not per answer. After each append the segment's path is
checked to be still the open file (a folder replaced or removed would otherwise swallow
answers unseen), and any failure raises :class:`StorageUnwritableError`. S3 objects are
immutable, so there a session buffers frames and PUTs a new segment (then its index) every
``flush_entries`` answers or ``flush_s`` seconds and at ``close``; a failed PUT keeps the
buffer for the next try and raises. Lookups are by key across all segments, partitions and
runs; the newest segment wins for a key written twice. ``get_many`` reads the answers of
many keys with one open (S3: one GET) per segment, for a rerun that reads them all.

Answers of the former layout (``_cache/ab/cd/<key>.json``) are still read on a miss, so a
cache built before segments is not paid again. :class:`BlobStore` is that layout, kept for
the small per-key attempts ledger.

Thread-safe: one lock guards the index and the open segment. No Dagster import.
"""

from __future__ import annotations

import logging
import os
import posixpath
import re
import struct
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from enrichment_dagster.storage.filesystem import StorageRoot

log = logging.getLogger(__name__)

CACHE_DIR = "_cache"
SEGMENT_DIR = "segments"
SEGMENT_SUFFIX = ".seg"
INDEX_SUFFIX = ".idx"
_KEY_RE = re.compile(r"^[0-9a-f]{8,128}$")

FRAME_MAGIC = b"EAC1"
INDEX_MAGIC = b"EAI1"
#: magic, key (32 bytes: a sha256 digest; shorter keys are right-padded), raw length,
#: stored length, crc32 of the stored bytes.
_FRAME = struct.Struct("<4s32sIII")
_INDEX_ENTRY = struct.Struct("<32sQI")
_CODEC = pa.Codec("zstd")
#: S3 sessions PUT a segment after this many answers or seconds, whichever comes first.
DEFAULT_FLUSH_ENTRIES = 32
DEFAULT_FLUSH_S = 5.0
#: Whole S3 segments kept in memory for reads (one GET per segment, not per answer).
_S3_SEGMENTS_KEPT = 4
#: S3 segments fetched at once by ``get_many``.
DEFAULT_READ_THREADS = 8


class StorageUnwritableError(OSError):
    """An answer could not be made durable: the storage root refuses writes."""


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY_RE.match(key):
        raise ValueError(f"cache key must be a lowercase hex digest (8-128 chars): {key!r}")
    return key


def _key_bytes(key: str) -> bytes:
    raw = bytes.fromhex(key if len(key) % 2 == 0 else key + "0")
    if len(raw) > 32:
        raise ValueError(f"segment keys are at most 64 hex characters: {key!r}")
    return raw.ljust(32, b"\x00")


def encode_frame(key: str, data: bytes) -> bytes:
    """One frame: header + zstd payload (see module docstring)."""
    stored = _CODEC.compress(data, asbytes=True)
    header = _FRAME.pack(FRAME_MAGIC, _key_bytes(key), len(data), len(stored),
                         zlib.crc32(stored))
    return header + stored


def decode_frame(frame: bytes, key: str | None = None) -> bytes:
    """The payload of ``frame``; ValueError when it is torn, corrupt or holds another key."""
    if len(frame) < _FRAME.size:
        raise ValueError("frame shorter than its header")
    magic, stored_key, raw_len, stored_len, crc = _FRAME.unpack_from(frame)
    if magic != FRAME_MAGIC:
        raise ValueError("not a cache frame")
    if key is not None and stored_key != _key_bytes(key):
        raise ValueError(f"frame holds key {stored_key.hex()[:16]}…, not {key[:16]}…")
    stored = frame[_FRAME.size : _FRAME.size + stored_len]
    if len(stored) != stored_len or zlib.crc32(stored) != crc:
        raise ValueError("frame payload torn or corrupt (length or crc32)")
    return _CODEC.decompress(stored, decompressed_size=raw_len, asbytes=True)


def scan_frames(data: bytes) -> tuple[list[tuple[bytes, int, int]], int]:
    """(key bytes, offset, frame length) of every whole frame, and the offset where the
    scan stopped (``len(data)`` when the segment is whole)."""
    entries: list[tuple[bytes, int, int]] = []
    offset = 0
    while offset + _FRAME.size <= len(data):
        magic, stored_key, _raw, stored_len, crc = _FRAME.unpack_from(data, offset)
        end = offset + _FRAME.size + stored_len
        if magic != FRAME_MAGIC or end > len(data):
            break
        if zlib.crc32(data[offset + _FRAME.size : end]) != crc:
            break
        entries.append((stored_key, offset, end - offset))
        offset = end
    return entries, offset


def _encode_index(entries: list[tuple[bytes, int, int]]) -> bytes:
    body = b"".join(_INDEX_ENTRY.pack(k, off, length) for k, off, length in entries)
    return INDEX_MAGIC + struct.pack("<I", len(entries)) + _CODEC.compress(body, asbytes=True) \
        + struct.pack("<I", len(body))


def _decode_index(data: bytes) -> list[tuple[bytes, int, int]]:
    if data[:4] != INDEX_MAGIC:
        raise ValueError("not a cache index")
    (count,) = struct.unpack_from("<I", data, 4)
    (raw_len,) = struct.unpack_from("<I", data, len(data) - 4)
    body = _CODEC.decompress(data[8:-4], decompressed_size=raw_len, asbytes=True)
    if len(body) != count * _INDEX_ENTRY.size:
        raise ValueError("cache index length does not match its count")
    return [_INDEX_ENTRY.unpack_from(body, i * _INDEX_ENTRY.size) for i in range(count)]


@dataclass(frozen=True)
class _Location:
    segment: str  # fs path of the .seg
    offset: int
    length: int


class BlobStore:
    """``get``/``put`` of one small file per key: ``_cache/ab/cd/<key><suffix>``.

    The layout answers had before segments (still read on a miss) and the attempts ledger's
    (failures only, so few files). Writes are atomic (temp file + rename, or one PUT).
    """

    def __init__(self, root: StorageRoot, suffix: str = ".json") -> None:
        self.root = root
        self.suffix = suffix

    def path(self, key: str) -> str:
        """The ``fs`` path of ``key``; ``ValueError`` if it is not a lowercase hex digest
        (keys become object names: anything else could escape the cache)."""
        _check_key(key)
        return self.root.path(CACHE_DIR, key[:2], key[2:4], key + self.suffix)

    def uri(self, key: str) -> str:
        return self.root.display(self.path(key))

    def get(self, key: str) -> bytes | None:
        try:
            return self.root.read_bytes(self.path(key))
        except FileNotFoundError:
            return None

    def put(self, key: str, data: bytes) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"put wants bytes, got {type(data).__name__}")
        self.root.write_bytes_atomic(self.path(key), bytes(data))

    def exists(self, key: str) -> bool:
        return self.root.exists(self.path(key))

    def report_corrupt(self, key: str, reason: str) -> None:
        """Log an entry that is not the answer of ``key`` (it becomes a miss)."""
        log.warning("corrupt cache entry %s ignored (treated as a miss): %s", self.uri(key), reason)


class CacheStore:
    """Answers by hex-digest key in append-only, indexed segments on a ``StorageRoot``."""

    def __init__(
        self,
        root: StorageRoot,
        *,
        flush_entries: int = DEFAULT_FLUSH_ENTRIES,
        flush_s: float = DEFAULT_FLUSH_S,
        read_legacy: bool = True,
        read_threads: int = DEFAULT_READ_THREADS,
    ) -> None:
        self.root = root
        self.legacy = BlobStore(root)
        self.flush_entries = max(1, flush_entries)
        self.flush_s = flush_s
        self.read_legacy = read_legacy
        self.read_threads = max(1, read_threads)
        #: Entries found unreadable or holding another key (each is reported and a miss).
        self.corrupt = 0
        self._lock = threading.RLock()
        self._index: dict[bytes, _Location] | None = None
        self._segments_kept: OrderedDict[str, bytes] = OrderedDict()
        # The open writer session.
        self._seg_path: str | None = None
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        self._size = 0
        self._written: list[tuple[bytes, int, int]] = []
        self._buffer = bytearray()  # S3: frames not yet PUT
        self._buffer_entries: list[tuple[bytes, int, int]] = []
        self._buffer_since = 0.0
        self._pending: dict[bytes, bytes] = {}  # S3: key -> frame, readable before the PUT

    # -- naming -----------------------------------------------------------------------------
    @property
    def folder(self) -> str:
        return self.root.path(CACHE_DIR, SEGMENT_DIR)

    def uri(self, key: str) -> str:
        """Where ``key`` lives, for logs."""
        with self._lock:
            location = self._load().get(_key_bytes(_check_key(key)))
        if location is None:
            return self.legacy.uri(key)
        return f"{self.root.display(location.segment)}@{location.offset}"

    # -- reads ------------------------------------------------------------------------------
    def _load(self) -> dict[bytes, _Location]:
        """The index of every segment, built by one listing (on first use)."""
        if self._index is not None:
            return self._index
        index: dict[bytes, _Location] = {}
        files = {e.path: e for e in self.root.list_files(self.folder, recursive=False)}
        segments = sorted(p for p in files if p.endswith(SEGMENT_SUFFIX)
                          and not posixpath.basename(p).startswith("."))
        for segment in segments:  # oldest first: a newer entry of a key replaces an older
            for key, offset, length in self._segment_entries(segment, files):
                index[key] = _Location(segment, offset, length)
        self._index = index
        return index

    def _segment_entries(self, segment: str, files: dict) -> list[tuple[bytes, int, int]]:
        idx = segment[: -len(SEGMENT_SUFFIX)] + INDEX_SUFFIX
        if idx in files:
            try:
                return _decode_index(self.root.read_bytes(idx))
            except Exception as exc:  # fall back to scanning the segment itself
                log.warning("cache index %s unreadable (%s): scanning its segment",
                            self.root.display(idx), exc)
        try:
            data = self.root.read_bytes(segment)
        except FileNotFoundError:
            return []
        entries, stopped = scan_frames(data)
        if stopped != len(data):
            log.warning("cache segment %s: %d byte(s) after the last whole frame ignored "
                        "(a write cut short)", self.root.display(segment), len(data) - stopped)
        return entries

    def _read_frame(self, location: _Location) -> bytes:
        return self._read_frames(location.segment, [location])[0]

    def _read_frames(self, segment: str, locations: list[_Location],
                     data: bytes | None = None) -> list[bytes]:
        """The frames at ``locations`` of one segment: one open and a ranged read each
        locally; on S3 slices of the whole segment (``data`` if already fetched)."""
        if not self.root.is_s3:
            with open(segment, "rb") as handle:
                return [os.pread(handle.fileno(), loc.length, loc.offset) for loc in locations]
        if data is None:
            data = self._segments_kept.get(segment)
        if data is None:
            data = self.root.read_bytes(segment)
            self._segments_kept[segment] = data
            while len(self._segments_kept) > _S3_SEGMENTS_KEPT:
                self._segments_kept.popitem(last=False)
        elif segment in self._segments_kept:
            self._segments_kept.move_to_end(segment)
        return [data[loc.offset : loc.offset + loc.length] for loc in locations]

    def _decoded(self, key: str, frame: bytes) -> bytes | None:
        try:
            return decode_frame(frame, key)
        except ValueError as exc:
            self.report_corrupt(key, str(exc))
            return None

    def get(self, key: str) -> bytes | None:
        """The stored bytes, or None on a miss (a corrupt or foreign frame is a miss,
        counted in ``corrupt`` and logged). Raises when the storage cannot be read."""
        raw_key = _key_bytes(_check_key(key))
        with self._lock:
            frame = self._pending.get(raw_key)
            location = None if frame is not None else self._load().get(raw_key)
        if frame is None and location is not None:
            frame = self._read_frame(location)
        if frame is not None:
            return self._decoded(key, frame)
        return self.legacy.get(key) if self.read_legacy else None

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes | None]:
        """:meth:`get` of every key held in a segment, each segment opened (on S3: fetched,
        up to ``read_threads`` at once) once for all its keys.

        Why: a cached rerun reads every answer of a pass; one open, or one request, per
        key was a fixed cost on each of them. Keys in no segment are left out of the
        result: only ``get`` looks a key up in the former layout, one request each, which
        a caller may spread over threads. Raises when the storage cannot be read.
        """
        found: dict[str, bytes | None] = {}
        wanted: dict[str, list[tuple[str, _Location]]] = {}
        with self._lock:
            index = self._load()
            for key in keys:
                raw_key = _key_bytes(_check_key(key))
                frame = self._pending.get(raw_key)
                if frame is not None:
                    found[key] = self._decoded(key, frame)
                elif (location := index.get(raw_key)) is not None:
                    wanted.setdefault(location.segment, []).append((key, location))
        fetched = self._fetch_segments(list(wanted)) if self.root.is_s3 else {}
        for segment, entries in wanted.items():
            frames = self._read_frames(segment, [loc for _, loc in entries], fetched.get(segment))
            for (key, _), frame in zip(entries, frames, strict=True):
                found[key] = self._decoded(key, frame)
        return found

    def _fetch_segments(self, segments: list[str]) -> dict[str, bytes]:
        """The S3 segments not kept in memory, fetched in parallel (one GET each)."""
        missing = [s for s in segments if s not in self._segments_kept]
        if len(missing) < 2:
            return {}
        with ThreadPoolExecutor(max_workers=min(self.read_threads, len(missing)),
                                thread_name_prefix="cache-read") as pool:
            return dict(zip(missing, pool.map(self.root.read_bytes, missing), strict=True))

    def report_corrupt(self, key: str, reason: str) -> None:
        """Count and log an entry that is not the answer of ``key`` (it becomes a miss)."""
        with self._lock:
            self.corrupt += 1
        log.warning("corrupt cache entry for key %s ignored (treated as a miss): %s",
                    key, reason)

    def exists(self, key: str) -> bool:
        raw_key = _key_bytes(_check_key(key))
        with self._lock:
            if raw_key in self._pending or raw_key in self._load():
                return True
        return self.read_legacy and self.legacy.exists(key)

    # -- writes -----------------------------------------------------------------------------
    def put(self, key: str, data: bytes) -> None:
        """Append ``data`` under ``key``; StorageUnwritableError when it cannot be stored."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"CacheStore.put wants bytes, got {type(data).__name__}")
        raw_key = _key_bytes(_check_key(key))
        frame = encode_frame(key, bytes(data))
        with self._lock:
            self._load()
            if self.root.is_s3:
                self._put_s3(raw_key, frame)
            else:
                self._put_local(raw_key, frame)

    def _new_stem(self) -> str:
        return f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:12]}"

    def _put_local(self, raw_key: bytes, frame: bytes) -> None:
        try:
            if self._fd is None:
                os.makedirs(self.folder, exist_ok=True)
                self._seg_path = posixpath.join(self.folder, self._new_stem() + SEGMENT_SUFFIX)
                self._fd = os.open(self._seg_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
                info = os.fstat(self._fd)
                self._ino, self._size, self._written = (info.st_dev, info.st_ino), 0, []
            written = os.write(self._fd, frame)
            if written != len(frame):
                raise OSError(f"short write to the cache segment ({written} of {len(frame)})")
            info = os.stat(self._seg_path)  # the path must still be the file we write
            if (info.st_dev, info.st_ino) != self._ino:
                raise OSError("the cache segment was replaced or removed while being written")
        except OSError as exc:
            self._abandon_local()
            raise StorageUnwritableError(f"cannot append to the answer cache under "
                                         f"{self.root.display(self.folder)}: {exc}") from exc
        assert self._seg_path is not None
        entry = (raw_key, self._size, len(frame))
        self._size += len(frame)
        self._written.append(entry)
        assert self._index is not None
        self._index[raw_key] = _Location(self._seg_path, entry[1], entry[2])

    def _abandon_local(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
        self._fd = None

    def _put_s3(self, raw_key: bytes, frame: bytes) -> None:
        if not self._buffer_entries:
            self._buffer_since = time.monotonic()
        self._buffer_entries.append((raw_key, len(self._buffer), len(frame)))
        self._buffer += frame
        self._pending[raw_key] = frame
        if (len(self._buffer_entries) >= self.flush_entries
                or time.monotonic() - self._buffer_since >= self.flush_s):
            self._flush_s3()

    def _flush_s3(self) -> None:
        if not self._buffer_entries:
            return
        stem = self._new_stem()
        segment = self.root.path(CACHE_DIR, SEGMENT_DIR, stem + SEGMENT_SUFFIX)
        try:
            self.root.write_bytes_atomic(segment, bytes(self._buffer))
            self.root.write_bytes_atomic(segment[: -len(SEGMENT_SUFFIX)] + INDEX_SUFFIX,
                                         _encode_index(self._buffer_entries))
        except Exception as exc:  # the buffer is kept: close() tries again
            raise StorageUnwritableError(
                f"cannot write an answer-cache segment to {self.root.display(segment)}: {exc}"
            ) from exc
        assert self._index is not None
        for key, offset, length in self._buffer_entries:
            self._index[key] = _Location(segment, offset, length)
            self._pending.pop(key, None)
        self._segments_kept[segment] = bytes(self._buffer)
        self._buffer, self._buffer_entries = bytearray(), []

    def flush(self) -> None:
        """Make every answer put so far durable where it is not yet (S3: PUT the buffer)."""
        with self._lock:
            if self.root.is_s3:
                self._flush_s3()
            elif self._fd is not None:
                try:
                    os.fsync(self._fd)
                except OSError as exc:
                    raise StorageUnwritableError(f"cannot fsync the cache segment: {exc}") from exc

    def close(self) -> None:
        """End the writer session: flush, then seal the segment with its index. A later
        ``put`` starts a new segment. Raises StorageUnwritableError when that fails."""
        with self._lock:
            self.flush()
            if self._fd is None:
                return
            seg_path, entries = self._seg_path, self._written
            self._abandon_local()
            self._seg_path, self._written = None, []
            assert seg_path is not None
            try:
                self.root.write_bytes_atomic(seg_path[: -len(SEGMENT_SUFFIX)] + INDEX_SUFFIX,
                                             _encode_index(entries))
            except OSError as exc:  # the segment itself is whole and is scanned instead
                log.warning("could not write the index of %s (%s): readers will scan it",
                            seg_path, exc)

    def __enter__(self) -> CacheStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def segment_files(self) -> list[str]:
        """The ``fs`` paths of every segment (for tests, tools and reports)."""
        return sorted(e.path for e in self.root.list_files(self.folder, recursive=False)
                      if e.path.endswith(SEGMENT_SUFFIX))
