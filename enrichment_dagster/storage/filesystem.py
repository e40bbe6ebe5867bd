"""The storage root: a local folder or ``s3://bucket/prefix``, behind one small class.

Everything that touches storage goes through :class:`StorageRoot`, so the Parquet reader,
the IO manager and the LLM cache behave the same on a laptop and on S3:

* **Reads** use a ``pyarrow.fs.FileSystem`` (``fs``): pyarrow reads Parquet footers and
  column chunks with range requests, which boto3 would not do for us.
* **Writes** are atomic. Locally: a hidden temp file in the destination folder, ``fsync``,
  then ``os.replace`` (a rename within one file system is atomic on POSIX). On S3: one
  ``PutObject`` through boto3. A PUT is atomic (S3 never exposes a partly written object
  and readers see either the old or the new object). We do not write through pyarrow on S3
  because pyarrow always uses a multipart upload, even for 100 bytes: three requests
  instead of one, and an aborted upload leaves billable parts behind.
* **Listings** return a per-file ``version``: ``mtime_ns`` locally; the ETag on S3, because
  S3's ``LastModified`` has one-second resolution and an object rewritten within the same
  second with the same size would otherwise look unchanged. S3 listings go through boto3
  (pyarrow's ``FileInfo`` has no ETag); both backends list a whole tree in one flat
  recursive call (one ``ListObjectsV2`` page per 1,000 keys on S3).

Configuration (see DESIGN.md): ``ENRICHMENT_STORAGE_URI`` (default ``./data``),
``S3_ENDPOINT_URL`` (tests point it at a loopback moto server), ``AWS_REGION`` /
``AWS_DEFAULT_REGION`` and the standard AWS credential chain. No Dagster import here.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

STORAGE_URI_ENV = "ENRICHMENT_STORAGE_URI"
S3_ENDPOINT_ENV = "S3_ENDPOINT_URL"
DEFAULT_STORAGE_URI = "./data"


@dataclass(frozen=True)
class FileEntry:
    """One file of a listing: its full ``fs`` path, size, a change-detecting version and
    when it was last written (epoch seconds)."""

    path: str
    size: int
    version: str
    modified: float = 0.0

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def _region_from_env() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def _split_endpoint(endpoint_url: str) -> tuple[str, str]:
    """``http://127.0.0.1:5000`` → (``http``, ``127.0.0.1:5000``), as pyarrow wants them."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"S3 endpoint must be http(s)://host[:port], got {endpoint_url!r}")
    if parts.path not in ("", "/"):
        raise ValueError(f"S3 endpoint must not have a path, got {endpoint_url!r}")
    return parts.scheme, parts.netloc


class StorageRoot:
    """A storage root resolved to a pyarrow file system, a base path and (on S3) boto3.

    ``path(*parts)`` gives the path to hand to ``fs``; ``uri(*parts)`` the human/tool form
    (an absolute local path or ``s3://bucket/key``) for messages and Dagster metadata.
    Instances are safe to share between threads: pyarrow file systems and boto3 clients are
    thread-safe, and the lazily built client is guarded by a lock.
    """

    def __init__(self, uri: str, endpoint_url: str | None = None) -> None:
        self.root_uri = uri
        self.is_s3 = uri.startswith("s3://")
        self._client: Any = None
        self._client_lock = threading.Lock()
        if self.is_s3:
            self._init_s3(uri, endpoint_url or os.environ.get(S3_ENDPOINT_ENV) or None)
        else:
            self._init_local(uri)

    @classmethod
    def from_env(cls) -> StorageRoot:
        """The root named by ``ENRICHMENT_STORAGE_URI`` (default ``./data``)."""
        from enrichment_dagster import env  # checks the value, naming the variable

        return cls(env.storage_uri())

    def _init_local(self, uri: str) -> None:
        raw = uri[len("file://") :] if uri.startswith("file://") else uri
        if "://" in raw:
            raise ValueError(f"unsupported storage URI {uri!r}: use a local folder or s3://")
        self.endpoint_url: str | None = None
        self.bucket: str | None = None
        self.base = Path(raw).expanduser().resolve().as_posix()
        self.fs: pafs.FileSystem = pafs.LocalFileSystem()

    def _init_s3(self, uri: str, endpoint_url: str | None) -> None:
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"S3 storage URI needs a bucket: {uri!r}")
        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.base = posixpath.join(bucket, prefix.strip("/")).rstrip("/")
        options: dict[str, Any] = {"region": _region_from_env()}
        if endpoint_url:
            options["scheme"], options["endpoint_override"] = _split_endpoint(endpoint_url)
        self.fs = pafs.S3FileSystem(**options)

    def __repr__(self) -> str:
        return f"StorageRoot({self.uri()!r})"

    # -- naming ---------------------------------------------------------------------------

    def path(self, *parts: str) -> str:
        """The ``fs`` path of ``parts`` under the root (``bucket/prefix/...`` on S3)."""
        clean = [part.strip("/") for part in parts if part and part.strip("/")]
        for part in clean:
            if ".." in part.split("/"):
                raise ValueError(f"path parts must not contain '..': {parts!r}")
        return posixpath.join(self.base, *clean) if clean else self.base

    def uri(self, *parts: str) -> str:
        """``parts`` as a URI a person or another tool understands."""
        fs_path = self.path(*parts)
        return f"s3://{fs_path}" if self.is_s3 else fs_path

    def display(self, fs_path: str) -> str:
        """An ``fs`` path (as returned by listings) as a URI, for error messages."""
        return f"s3://{fs_path}" if self.is_s3 else fs_path

    def _s3_key(self, fs_path: str) -> str:
        assert self.bucket is not None
        return fs_path[len(self.bucket) + 1 :]

    @property
    def s3_client(self) -> Any:
        """A boto3 S3 client on the same endpoint and region as ``fs`` (built once)."""
        if not self.is_s3:
            raise RuntimeError("s3_client is only available for an s3:// root")
        with self._client_lock:
            if self._client is None:
                import boto3
                from botocore.config import Config

                self._client = boto3.session.Session().client(
                    "s3",
                    endpoint_url=self.endpoint_url,
                    region_name=_region_from_env(),
                    config=Config(retries={"mode": "standard", "max_attempts": 5}),
                )
            return self._client

    # -- operations -----------------------------------------------------------------------

    def read_bytes(self, fs_path: str) -> bytes:
        """The whole file; ``FileNotFoundError`` if it does not exist."""
        with self.fs.open_input_stream(fs_path) as stream:
            return stream.read()

    def exists(self, fs_path: str) -> bool:
        return self.fs.get_file_info(fs_path).type == pafs.FileType.File

    def delete(self, fs_path: str) -> None:
        """Remove one file; a file that is already gone is not an error."""
        try:
            self.fs.delete_file(fs_path)
        except FileNotFoundError:
            pass

    def delete_folder(self, fs_path: str) -> None:
        """Remove a folder and everything under it; a folder that is not there is not an
        error. On S3 a "folder" is its keys, deleted one by one (a run folder holds few)."""
        if self.is_s3:
            for entry in self.list_files(fs_path):
                self.delete(entry.path)
            return
        try:
            self.fs.delete_dir(fs_path)
        except FileNotFoundError:
            pass

    def write_bytes_atomic(self, fs_path: str, data: bytes) -> None:
        """Write ``data`` so that readers see the old file or the whole new one, never a part."""
        if self.is_s3:
            assert self.bucket is not None
            self.s3_client.put_object(Bucket=self.bucket, Key=self._s3_key(fs_path), Body=data)
        else:
            _write_local_atomic(fs_path, data)

    def staging_path(self, fs_path: str) -> str:
        """A new local file path where a large file for ``fs_path`` is built before
        :meth:`promote`: hidden beside the target on a local root (so the promotion is a
        rename, and readers skip it meanwhile), in the machine's temp folder for S3."""
        if self.is_s3:
            hidden = _hidden_temp_name(posixpath.basename(fs_path))
            return os.path.join(tempfile.gettempdir(), hidden)
        return _local_staging_path(fs_path)

    def promote(self, staging: str, fs_path: str) -> None:
        """Make the finished file at ``staging`` the file ``fs_path`` at once (readers see the
        old file or the whole new one), and remove ``staging``. On S3 the upload goes in
        parts when large (an object appears only when its upload completes)."""
        if not self.is_s3:
            _replace_local(staging, fs_path)
            return
        assert self.bucket is not None
        try:
            self.s3_client.upload_file(staging, self.bucket, self._s3_key(fs_path))
        finally:
            discard_staging(staging)

    def list_files(self, fs_path: str, recursive: bool = True,
                   start_after: str | None = None) -> list[FileEntry]:
        """Files under the folder ``fs_path``; empty when it does not exist.

        One flat listing for the whole tree; ``recursive=False`` keeps only direct children.
        ``start_after`` (an ``fs`` path): only paths that sort after it. On S3 the listing
        itself starts there (``StartAfter``), so a sensor that only needs the newest
        ``year=/month=/day=`` folders does not page through years of older keys.
        """
        if self.is_s3:
            return self._list_s3(fs_path, recursive, start_after)
        entries = self._list_local(fs_path, recursive)
        return [e for e in entries if start_after is None or e.path > start_after]

    def _list_local(self, fs_path: str, recursive: bool) -> list[FileEntry]:
        selector = pafs.FileSelector(fs_path, recursive=recursive, allow_not_found=True)
        return [
            FileEntry(info.path, info.size or 0, f"{info.size}:{info.mtime_ns}",
                      (info.mtime_ns or 0) / 1e9)
            for info in self.fs.get_file_info(selector)
            if info.type == pafs.FileType.File
        ]

    def _list_s3(self, fs_path: str, recursive: bool, start_after: str | None) -> list[FileEntry]:
        assert self.bucket is not None
        prefix = self._s3_key(fs_path.rstrip("/") + "/") if fs_path != self.bucket else ""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        if not recursive:
            kwargs["Delimiter"] = "/"
        if start_after is not None:
            kwargs["StartAfter"] = self._s3_key(start_after)
        entries = []
        for page in self.s3_client.get_paginator("list_objects_v2").paginate(**kwargs):
            for obj in page.get("Contents", []):
                if obj["Key"].endswith("/"):  # a "folder marker", not a file
                    continue
                etag = obj["ETag"].strip('"')
                version = f"{obj['Size']}:{etag}"
                modified = obj["LastModified"].timestamp() if "LastModified" in obj else 0.0
                entries.append(FileEntry(f"{self.bucket}/{obj['Key']}", obj["Size"], version,
                                         modified))
        return entries


def _write_local_atomic(fs_path: str, data: bytes) -> None:
    """Temp file beside the target (hidden, so readers skip it), fsync, then ``os.replace``.

    The temp name is unique per call, so concurrent writers of different (or even the same)
    targets never share a temp file; the last ``os.replace`` wins as a whole.
    """
    tmp = _local_staging_path(fs_path)
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
    except BaseException:
        discard_staging(tmp)
        raise
    _replace_local(tmp, fs_path)


def _hidden_temp_name(name: str) -> str:
    """``.<name>.<unique hex>.tmp``: hidden, so every reader of the folder skips it."""
    return f".{name}.{uuid.uuid4().hex}.tmp"


def _local_staging_path(fs_path: str) -> str:
    """A fresh hidden temp path beside ``fs_path`` (its folder created), for a rename."""
    folder, name = os.path.split(fs_path)
    os.makedirs(folder, exist_ok=True)
    return os.path.join(folder, _hidden_temp_name(name))


def _replace_local(staging: str, fs_path: str) -> None:
    """fsync the finished ``staging`` file, then rename it over ``fs_path``; on any failure
    ``staging`` is removed and the old file stays."""
    try:
        with open(staging, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(staging, fs_path)
    except BaseException:
        discard_staging(staging)
        raise


def discard_staging(staging: str) -> None:
    """Remove a staging file (see :meth:`StorageRoot.staging_path`); gone already is fine."""
    try:
        os.unlink(staging)
    except FileNotFoundError:
        pass
