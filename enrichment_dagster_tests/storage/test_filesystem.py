"""StorageRoot: resolving the storage URI, atomic writes, listings with versions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.fs as pafs
import pytest

from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.fakes.s3 import MotoS3
from enrichment_dagster_tests.storage.helpers import names_under


def test_local_root_defaults_to_data_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ENRICHMENT_STORAGE_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    root = StorageRoot.from_env()
    assert not root.is_s3
    assert isinstance(root.fs, pafs.LocalFileSystem)
    assert root.path() == (tmp_path / "data").resolve().as_posix()
    assert root.uri("pass1", "x.parquet") == f"{(tmp_path / 'data').resolve()}/pass1/x.parquet"


def test_s3_root_splits_bucket_and_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("S3_ENDPOINT_URL", raising=False)
    root = StorageRoot("s3://my-bucket/some/prefix/")
    assert root.is_s3 and root.bucket == "my-bucket"
    assert isinstance(root.fs, pafs.S3FileSystem)
    assert root.path("silver", "a.parquet") == "my-bucket/some/prefix/silver/a.parquet"
    assert root.uri("silver") == "s3://my-bucket/some/prefix/silver"
    assert StorageRoot("s3://just-bucket").uri("x") == "s3://just-bucket/x"


def test_s3_endpoint_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("S3_ENDPOINT_URL", "http://127.0.0.1:9")
    assert StorageRoot("s3://bucket-a/p").endpoint_url == "http://127.0.0.1:9"
    explicit = StorageRoot("s3://bucket-a/p", endpoint_url="https://minio.local:9000")
    assert explicit.endpoint_url == "https://minio.local:9000"


@pytest.mark.parametrize("uri", ["s3://", "gs://bucket/x", "http://bucket/x"])
def test_unsupported_uris_are_refused(uri: str) -> None:
    with pytest.raises(ValueError):
        StorageRoot(uri)


def test_bad_endpoint_is_refused() -> None:
    with pytest.raises(ValueError, match="endpoint"):
        StorageRoot("s3://bucket-a/p", endpoint_url="127.0.0.1:9000")


def test_path_refuses_parent_segments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        StorageRoot(str(tmp_path)).path("pass1", "../../etc")


def test_atomic_write_read_and_overwrite(storage_root: StorageRoot) -> None:
    target = storage_root.path("folder", "blob.bin")
    storage_root.write_bytes_atomic(target, b"first")
    storage_root.write_bytes_atomic(target, b"second version")
    assert storage_root.read_bytes(target) == b"second version"
    assert storage_root.exists(target)
    assert names_under(storage_root, "folder") == ["blob.bin"]  # no temp file left


def test_failed_local_write_keeps_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = StorageRoot(str(tmp_path))
    target = root.path("blob.bin")
    root.write_bytes_atomic(target, b"old")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        root.write_bytes_atomic(target, b"new")
    assert Path(target).read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blob.bin"]


def test_s3_write_is_one_put_object(moto_s3: MotoS3) -> None:
    root = StorageRoot(moto_s3.storage_uri(), endpoint_url=moto_s3.endpoint_url)
    calls: list[str] = []
    root.s3_client.meta.events.register(
        "before-call.s3", lambda model, **_: calls.append(model.name)
    )
    root.write_bytes_atomic(root.path("x", "blob.bin"), b"payload")
    assert calls == ["PutObject"]
    assert root.read_bytes(root.path("x", "blob.bin")) == b"payload"


def test_listing_is_recursive_or_flat_and_versions_change(storage_root: StorageRoot) -> None:
    storage_root.write_bytes_atomic(storage_root.path("d", "a.bin"), b"a")
    storage_root.write_bytes_atomic(storage_root.path("d", "sub", "b.bin"), b"bb")
    everything = storage_root.list_files(storage_root.path("d"))
    assert sorted(e.path for e in everything) == [
        storage_root.path("d", "a.bin"),
        storage_root.path("d", "sub", "b.bin"),
    ]
    flat = storage_root.list_files(storage_root.path("d"), recursive=False)
    assert [e.name for e in flat] == ["a.bin"]
    assert flat[0].size == 1

    before = flat[0].version
    storage_root.write_bytes_atomic(storage_root.path("d", "a.bin"), b"changed")
    after = storage_root.list_files(storage_root.path("d"), recursive=False)[0].version
    assert after != before


def test_listing_a_missing_folder_is_empty(storage_root: StorageRoot) -> None:
    assert storage_root.list_files(storage_root.path("nothing-here")) == []


def test_plain_storage_modules_do_not_import_dagster() -> None:
    """The engine and CLI use storage without Dagster; only io_manager may import it."""
    code = (
        "import sys\n"
        "import enrichment_dagster.storage.partition_keys, enrichment_dagster.storage.filesystem\n"
        "import enrichment_dagster.storage.parquet, enrichment_dagster.storage.cache_store\n"
        "assert 'dagster' not in sys.modules, 'dagster was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
