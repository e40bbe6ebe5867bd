"""Shared fixtures.

Real data lives in ``../shared/data`` beside the checkout and is never copied into the repo.
Tests that need it use the ``shared_data`` fixture: they are skipped when
``ENRICHMENT_SHARED_DATA`` is unset (a user's fresh machine) and fail when it is set but the
folder is missing (CI must never silently skip them).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = [
    "enrichment_dagster_tests.fakes.s3",
    "enrichment_dagster_tests.fakes.fake_bedrock",
    "enrichment_dagster_tests.fakes.postgres",
]


def _absolute_shared_data() -> None:
    """Make ``ENRICHMENT_SHARED_DATA`` absolute for the whole session.

    CI and the README give it relative to the checkout (``../shared/data``); tests that run the
    console script or Dagster in a subprocess from a temporary folder must see the same folder.
    """
    value = os.environ.get("ENRICHMENT_SHARED_DATA")
    if value and not Path(value).is_absolute():
        os.environ["ENRICHMENT_SHARED_DATA"] = str(Path(value).resolve())


_absolute_shared_data()


def shared_data_dir() -> Path | None:
    """The shared data folder, or None when the variable is unset."""
    value = os.environ.get("ENRICHMENT_SHARED_DATA")
    if not value:
        return None
    path = Path(value).resolve()
    if not path.is_dir():
        raise RuntimeError(f"ENRICHMENT_SHARED_DATA={value} is set but {path} is not a folder")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        pytest.skip("ENRICHMENT_SHARED_DATA is unset; real-data tests need ../shared/data")
    return path
