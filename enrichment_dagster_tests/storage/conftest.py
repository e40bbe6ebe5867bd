"""Storage fixtures: the same test runs against a local folder and against moto S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.fakes.s3 import MotoS3


@pytest.fixture(params=["local", "s3"])
def storage_root(request: pytest.FixtureRequest, tmp_path: Path) -> StorageRoot:
    """A fresh, empty root: ``tmp_path/root`` or ``s3://<fresh bucket>/root``."""
    if request.param == "local":
        return StorageRoot(str(tmp_path / "root"))
    moto_s3: MotoS3 = request.getfixturevalue("moto_s3")
    return StorageRoot(moto_s3.storage_uri(), endpoint_url=moto_s3.endpoint_url)
