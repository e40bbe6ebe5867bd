"""Partition key ↔ Hive folder mapping, and the hourly partitions definition."""

from __future__ import annotations

import os

import pytest

from enrichment_dagster.partitions import build_hourly_partitions, hourly_partitions
from enrichment_dagster.storage.partition_keys import partition_key_to_path, path_to_partition_key


def test_key_to_path_is_zero_padded() -> None:
    assert partition_key_to_path("2025-12-10-19:00") == "year=2025/month=12/day=10/hour=19"
    assert partition_key_to_path("2026-01-02-03:00") == "year=2026/month=01/day=02/hour=03"


@pytest.mark.parametrize(
    "key", ["2025-12-10-19:30", "2025-12-10T19:00", "2025-13-01-00:00", "2025-02-30-00:00", ""]
)
def test_key_to_path_rejects_non_hourly_keys(key: str) -> None:
    with pytest.raises(ValueError):
        partition_key_to_path(key)


def test_every_key_of_the_definition_round_trips() -> None:
    keys = build_hourly_partitions("2025-12-31-20:00").get_partition_keys()[:30]
    assert keys[0] == "2025-12-31-20:00"
    for key in keys:
        assert path_to_partition_key(partition_key_to_path(key)) == key


@pytest.mark.parametrize(
    ("path", "key"),
    [
        ("year=2025/month=12/day=10/hour=19", "2025-12-10-19:00"),
        ("silver/year=2025/month=12/day=10/hour=19/", "2025-12-10-19:00"),
        ("s3://b/p/silver/year=2025/month=12/day=10/hour=19/part-0.parquet", "2025-12-10-19:00"),
        ("/data/silver/year=2025/month=1/day=2/hour=3/x.parquet", "2025-01-02-03:00"),
        ("C:\\data\\year=2025\\month=01\\day=02\\hour=03", "2025-01-02-03:00"),
    ],
)
def test_path_to_key_accepts_segments_anywhere(path: str, key: str) -> None:
    assert path_to_partition_key(path) == key


@pytest.mark.parametrize(
    "path",
    [
        "",
        "silver/",
        "year=2025/month=12/day=10",  # no hour
        "year=2025/month=12/day=10/hour=24",
        "year=2025/month=13/day=10/hour=01",
        "year=2025/month=02/day=30/hour=01",
        "year=2025/month=12/day=10/hour=19x/part.parquet",
        "xyear=2025/month=12/day=10/hour=19",
        "year=2025/day=10/month=12/hour=19",
    ],
)
def test_path_to_key_returns_none_for_anything_else(path: str) -> None:
    assert path_to_partition_key(path) is None


def test_hourly_partitions_are_utc_from_the_configured_start() -> None:
    expected = os.environ.get("ENRICHMENT_PARTITIONS_START") or "2025-12-01-00:00"
    assert hourly_partitions.timezone == "UTC"
    assert hourly_partitions.get_first_partition_key() == expected


def test_start_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENRICHMENT_PARTITIONS_START", "2026-03-08-00:00")
    definition = build_hourly_partitions()
    keys = definition.get_partition_keys()[:4]
    # 2026-03-08 is a US DST switch; UTC keeps every hour.
    assert keys == ["2026-03-08-00:00", "2026-03-08-01:00", "2026-03-08-02:00", "2026-03-08-03:00"]

