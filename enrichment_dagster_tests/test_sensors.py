"""The Silver sensor stays bounded as the lake ages: a look-back window per tick, a periodic
full scan for old hours that were rewritten or arrived late, a cursor that follows the
window, not the number of partitions ever seen."""

from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster import DagsterInstance, build_sensor_context

from enrichment_dagster import sensors
from enrichment_dagster.resources import StorageResource
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import list_partition_states
from enrichment_dagster.storage.partition_keys import partition_key_to_path

START = datetime(2025, 12, 1)
DAYS = 20


def _key(hours: int) -> str:
    return f"{START + timedelta(hours=hours):%Y-%m-%d-%H}:00"


def _write(root: Path, dataset: str, key: str, mtime: float | None = None) -> Path:
    folder = root / dataset / partition_key_to_path(key)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "part-00000.parquet"
    pq.write_table(pa.table({"job_posting_id": ["1"]}), path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


class Ticks:
    """The sensor evaluated tick after tick with its cursor, as the daemon would."""

    def __init__(self, root: Path) -> None:
        self.storage = StorageResource(storage_uri=str(root))
        self.cursor: str | None = None
        self.instance = DagsterInstance.ephemeral()

    def __call__(self) -> list[str]:
        context = build_sensor_context(instance=self.instance, cursor=self.cursor,
                                       resources={"storage": self.storage})
        result = sensors.new_silver_partitions(context)
        self.cursor = result.cursor
        return [r.partition_key for r in result.run_requests]

    @property
    def requested(self) -> dict[str, str]:
        return json.loads(self.cursor or "{}")["requested"]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A Silver partition every 6 hours over 20 days, each already enriched."""
    monkeypatch.setattr(sensors, "LOOKBACK_HOURS", 24)
    old = time.time() - 3600
    for hours in range(0, DAYS * 24, 6):
        _write(tmp_path, "silver", _key(hours), old)
        _write(tmp_path, "silver_ai", _key(hours), old + 60)
    return tmp_path


def test_ticks_list_the_window_and_the_cursor_follows_it(lake: Path) -> None:
    tick = Ticks(lake)
    assert tick() == []  # first tick: a full scan; everything is enriched already
    newest = _key((DAYS * 24) - 6)
    assert json.loads(tick.cursor or "{}")["newest"] == newest
    assert tick.requested == {}
    _write(lake, "silver", _key(DAYS * 24))  # a new hour
    assert tick() == [_key(DAYS * 24)]
    assert set(tick.requested) == {_key(DAYS * 24)}
    # Within the window the listing starts at the window's day folder, not at the lake's start.
    since = f"{datetime(2025, 12, 1) + timedelta(hours=DAYS * 24 - 24):%Y-%m-%d-%H}:00"
    seen = list_partition_states(StorageRoot(str(lake)), "silver", since)
    assert min(seen) >= since[:10] and len(seen) <= 9


def test_an_old_hour_rewritten_or_late_is_caught_by_the_full_scan(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tick = Ticks(lake)
    tick()
    _write(lake, "silver", _key(6))  # rewritten after its enrichment, days before the window
    _write(lake, "silver", _key(7))  # a late hour, as old
    assert tick() == []  # not in the window: not listed
    monkeypatch.setattr(sensors, "FULL_SCAN_HOURS", 1e-9)
    assert tick() == [_key(6), _key(7)]
    monkeypatch.setattr(sensors, "FULL_SCAN_HOURS", 24.0)
    assert tick() == []  # requested once


def test_a_full_scan_forgets_what_was_enriched_and_keeps_what_waits(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tick = Ticks(lake)
    tick()
    _write(lake, "silver", _key(6))
    _write(lake, "silver", _key(12))
    monkeypatch.setattr(sensors, "FULL_SCAN_HOURS", 1e-9)
    assert tick() == [_key(6), _key(12)]
    _write(lake, "silver_ai", _key(6))  # its run wrote silver_ai; 12's run has not yet
    tick()
    assert set(tick.requested) == {_key(12)}
    for hours in range(DAYS * 24, (DAYS + 30) * 24, 6):  # a month more of hours, enriched
        _write(lake, "silver", _key(hours))
        tick()
        _write(lake, "silver_ai", _key(hours))
    tick()
    window = int(24 / 6) + 1
    assert len(tick.requested) <= window + 1  # the window and the hour still waiting


def test_the_former_cursor_is_read(lake: Path) -> None:
    tick = Ticks(lake)
    tick.cursor = json.dumps({_key(0): "old-version"})
    assert tick() == [_key(0)]  # its Silver version differs from the one requested then


def test_s3_listing_starts_at_the_window(moto_s3) -> None:
    root = StorageRoot(moto_s3.storage_uri("window"), endpoint_url=moto_s3.endpoint_url)
    keys = [_key(h) for h in range(0, 10 * 24, 12)]
    table = pa.table({"job_posting_id": ["1"]})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    for key in keys:
        root.write_bytes_atomic(root.path("silver", *partition_key_to_path(key).split("/"),
                                          "part-0.parquet"), sink.getvalue().to_pybytes())
    since = _key(8 * 24 + 5)
    listed = root.list_files(root.path("silver"), start_after=root.path(
        "silver", *partition_key_to_path(since).split("/")[:3]))
    assert len(listed) == 4  # two days of two partitions, not ten days
    states = list_partition_states(root, "silver", since)
    assert list(states) == [k for k in keys if k >= since]
    assert all(s.modified > 0 for s in states.values())


def test_every_listed_partition_is_recorded_once_per_version(lake: Path) -> None:
    """The external silver asset shows what is in storage, requested or not."""
    tick = Ticks(lake)
    context = build_sensor_context(instance=tick.instance, cursor=None,
                                   resources={"storage": tick.storage})
    first = sensors.new_silver_partitions(context)
    recorded = {e.partition for e in first.asset_events}
    assert len(recorded) == DAYS * 4 and not first.run_requests  # all enriched already
    context = build_sensor_context(instance=tick.instance, cursor=first.cursor,
                                   resources={"storage": tick.storage})
    assert not sensors.new_silver_partitions(context).asset_events  # same versions


def test_a_full_scan_records_only_what_changed_since_the_last_one(
        lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tick = Ticks(lake)
    tick()
    _write(lake, "silver", _key(6))  # rewritten, days before the window
    monkeypatch.setattr(sensors, "FULL_SCAN_HOURS", 1e-9)
    context = build_sensor_context(instance=tick.instance, cursor=tick.cursor,
                                   resources={"storage": tick.storage})
    result = sensors.new_silver_partitions(context)
    assert [e.partition for e in result.asset_events] == [_key(6)]
    assert len(json.loads(result.cursor)["recorded"]) <= 6  # the window's, not the lake's
