"""A real S3 endpoint on loopback: moto in server mode, one per test session.

Why server mode: in-process ``mock_aws`` patches botocore only, so pyarrow's C++ S3 client
would go to the real network. A ``ThreadedMotoServer`` speaks HTTP, and boto3, pyarrow and
anything else reach it through ``endpoint_url`` exactly as they reach S3.

Why one per session: ``stop()`` costs ~0.5 s. Tests isolate themselves with a fresh bucket
from ``moto_s3.new_bucket()`` instead.

Register with ``pytest_plugins = ["enrichment_dagster_tests.fakes.s3"]`` in ``conftest.py``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # Never ask an instance metadata service for credentials or region (slow timeouts).
    "AWS_EC2_METADATA_DISABLED": "true",
}


@dataclass
class MotoS3:
    """Handle on the session's moto server."""

    endpoint_url: str
    client: Any  # a boto3 S3 client bound to endpoint_url

    def new_bucket(self, prefix: str = "test") -> str:
        """Create a bucket with a unique name and return the name (isolates one test)."""
        name = f"{prefix}-{uuid.uuid4().hex[:16]}".lower()
        self.client.create_bucket(Bucket=name)
        return name

    def storage_uri(self, prefix: str = "test", path: str = "root") -> str:
        """``s3://<fresh bucket>/<path>``: a ready storage root for one test."""
        return f"s3://{self.new_bucket(prefix)}/{path}".rstrip("/")


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """Start moto on 127.0.0.1 (free port) with fake credentials; stop it at session end."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in FAKE_AWS_ENV.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            patch.delenv(name, raising=False)
        patch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint_url = f"http://{host}:{port}"
            client = boto3.session.Session().client("s3", endpoint_url=endpoint_url)
            yield MotoS3(endpoint_url=endpoint_url, client=client)
        finally:
            server.stop()


@pytest.fixture(params=["local", "s3"])
def storage_root(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    """A fresh, empty ``StorageRoot``: ``tmp_path/root`` or ``s3://<fresh bucket>/root``, so
    one test runs against a local folder and against moto S3."""
    from enrichment_dagster.storage.filesystem import StorageRoot

    if request.param == "local":
        return StorageRoot(str(tmp_path / "root"))
    moto_s3: MotoS3 = request.getfixturevalue("moto_s3")
    return StorageRoot(moto_s3.storage_uri(), endpoint_url=moto_s3.endpoint_url)
