"""CacheStore: content-addressed LLM answers in indexed segments, locally and on moto S3."""

from __future__ import annotations

import hashlib
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from enrichment_dagster.storage.cache_store import (
    BlobStore,
    CacheStore,
    StorageUnwritableError,
    encode_frame,
)
from enrichment_dagster.storage.filesystem import StorageRoot


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_miss_put_hit(storage_root: StorageRoot) -> None:
    cache = CacheStore(storage_root)
    key = _key("pass1|model|posting 1")
    assert cache.get(key) is None
    assert not cache.exists(key)

    cache.put(key, b'{"salary_min": 100}')

    assert cache.exists(key)
    assert cache.get(key) == b'{"salary_min": 100}'


def test_answers_live_in_few_segments_under_underscore_cache(storage_root: StorageRoot) -> None:
    cache = CacheStore(storage_root, flush_entries=1000)
    payloads = {_key(f"r{i}"): f'{{"i": {i}}}'.encode() * 200 for i in range(200)}
    for key, data in payloads.items():
        cache.put(key, data)
    cache.close()
    files = storage_root.list_files(storage_root.path("_cache"))
    # One segment and its index, not 200 files; each answer compressed.
    assert sorted(f.name.rsplit(".", 1)[1] for f in files) == ["idx", "seg"]
    assert sum(f.size for f in files) < sum(len(d) for d in payloads.values()) / 2
    reader = CacheStore(storage_root)  # a new process: one listing, then every key
    assert all(reader.get(key) == data for key, data in payloads.items())


def test_a_second_session_writes_a_new_segment_and_the_newest_wins(
    storage_root: StorageRoot,
) -> None:
    key = _key("same")
    for version in (b"old", b"new"):
        with CacheStore(storage_root) as cache:
            cache.put(key, version)
    assert len(CacheStore(storage_root).segment_files()) == 2
    assert CacheStore(storage_root).get(key) == b"new"


def test_an_unsealed_segment_is_scanned_and_a_torn_tail_ignored(tmp_path: Path) -> None:
    """What a SIGKILL leaves: a segment without its index, maybe a frame cut short."""
    root = StorageRoot(str(tmp_path))
    cache = CacheStore(root)
    keys = [_key(f"k{i}") for i in range(5)]
    for key in keys:
        cache.put(key, key.encode())
    (segment,) = cache.segment_files()  # not closed: no index, as after a kill
    with open(segment, "ab") as handle:
        handle.write(encode_frame(_key("torn"), b"x" * 500)[:-7])
    reader = CacheStore(root)
    assert [reader.get(k) for k in keys] == [k.encode() for k in keys]
    assert reader.get(_key("torn")) is None


def _swapped_segment(tmp_path: Path) -> StorageRoot:
    """A root whose one segment holds a's and b's frames, swapped: b's frame where a's was."""
    root = StorageRoot(str(tmp_path))
    with CacheStore(root, read_legacy=False) as cache:
        cache.put(_key("a"), b"answer of a")
        cache.put(_key("b"), b"answer of b")
    (segment,) = CacheStore(root).segment_files()
    data = Path(segment).read_bytes()
    frame_a = len(encode_frame(_key("a"), b"answer of a"))
    Path(segment).write_bytes(data[frame_a:] + data[:frame_a])
    return root


def test_a_frame_of_another_key_is_a_reported_miss(tmp_path: Path) -> None:
    root = _swapped_segment(tmp_path)
    reader = CacheStore(root, read_legacy=False)
    assert reader.get(_key("a")) is None and reader.corrupt == 1


def test_get_many_reads_segments_once_and_leaves_the_former_layout_to_get(
    storage_root: StorageRoot,
) -> None:
    payloads = {_key(f"m{i}"): b"answer %d" % i for i in range(40)}
    for start in (0, 20):  # two segments
        with CacheStore(storage_root, flush_entries=8) as cache:
            for key in list(payloads)[start : start + 20]:
                cache.put(key, payloads[key])
    old = _key("former layout")
    BlobStore(storage_root).put(old, b"old answer")
    reader = CacheStore(storage_root, read_threads=3)
    asked = [*payloads, old, _key("nowhere")]
    assert reader.get_many(asked) == payloads  # the others: get's business
    assert reader.get(old) == b"old answer"
    writer = CacheStore(storage_root, flush_entries=1000)
    writer.put(_key("pending"), b"not yet sealed or PUT")
    assert writer.get_many([_key("pending")]) == {_key("pending"): b"not yet sealed or PUT"}


def test_get_many_reports_a_foreign_frame_as_a_miss(tmp_path: Path) -> None:
    reader = CacheStore(_swapped_segment(tmp_path))
    assert reader.get_many([_key("a"), _key("b")]) == {_key("a"): None, _key("b"): None}
    assert reader.corrupt == 2


def test_entries_of_the_per_file_layout_are_still_read(storage_root: StorageRoot) -> None:
    key = _key("before segments")
    BlobStore(storage_root).put(key, b"old answer")
    assert storage_root.exists(storage_root.path("_cache", key[:2], key[2:4], f"{key}.json"))
    assert CacheStore(storage_root).get(key) == b"old answer"


def test_a_replaced_cache_folder_makes_put_fail_not_lose_answers(tmp_path: Path) -> None:
    root = StorageRoot(str(tmp_path))
    cache = CacheStore(root)
    cache.put(_key("first"), b"kept")
    folder = tmp_path / "_cache"
    shutil.rmtree(folder)
    folder.write_text("not a folder")  # the path is now a file
    with pytest.raises(StorageUnwritableError):
        cache.put(_key("second"), b"lost?")


def test_s3_sessions_put_new_objects_every_flush(moto_s3) -> None:  # noqa: ANN001
    root = StorageRoot(moto_s3.storage_uri(), endpoint_url=moto_s3.endpoint_url)
    cache = CacheStore(root, flush_entries=10)
    for i in range(25):
        cache.put(_key(f"s{i}"), b"v%d" % i)
    assert len(cache.segment_files()) == 2  # two flushes of 10; 5 still buffered
    assert cache.get(_key("s24")) == b"v24"  # readable before its PUT
    cache.close()
    assert len(cache.segment_files()) == 3
    reader = CacheStore(root)
    assert all(reader.get(_key(f"s{i}")) == b"v%d" % i for i in range(25))


@pytest.mark.parametrize("key", ["", "abc", "ABCDEF0123456789", "../../etc/passwd", "g" * 64])
def test_non_digest_keys_are_refused(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError):
        CacheStore(StorageRoot(str(tmp_path))).get(key)


def test_put_wants_bytes(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        CacheStore(StorageRoot(str(tmp_path))).put(_key("x"), "text")  # type: ignore[arg-type]


def test_concurrent_puts_from_a_thread_pool(storage_root: StorageRoot) -> None:
    cache = CacheStore(storage_root)
    payloads = {_key(f"record {i}"): f'{{"i": {i}}}'.encode() for i in range(48)}
    # Every key twice, so some writes of the same key race each other too.
    jobs = list(payloads.items()) * 2
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda item: cache.put(*item), jobs))

    assert all(cache.get(key) == data for key, data in payloads.items())
    cache.close()
    reader = CacheStore(storage_root)
    assert all(reader.get(key) == data for key, data in payloads.items())
    files = storage_root.list_files(storage_root.path("_cache"))
    assert all(entry.name.endswith((".seg", ".idx")) for entry in files)
