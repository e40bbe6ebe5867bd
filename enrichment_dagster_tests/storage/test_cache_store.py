"""CacheStore: content-addressed LLM results, locally and on moto S3."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from enrichment_dagster.storage.cache_store import CacheStore
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


def test_keys_are_sharded_under_underscore_cache(storage_root: StorageRoot) -> None:
    cache = CacheStore(storage_root)
    key = _key("x")
    cache.put(key, b"{}")
    assert cache.uri(key) == storage_root.uri("_cache", key[:2], key[2:4], f"{key}.json")
    assert storage_root.exists(storage_root.path("_cache", key[:2], key[2:4], f"{key}.json"))


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
    files = storage_root.list_files(storage_root.path("_cache"))
    assert len(files) == len(payloads)  # no temp files left behind
    assert all(entry.name.endswith(".json") for entry in files)
