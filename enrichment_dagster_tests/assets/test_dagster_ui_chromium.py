"""The Dagster UI tells the truth, as a person sees it in Debian's chromium.

``dagster dev`` runs on a fresh Postgres instance (``deploy/dagster.local.yaml``) with the
Silver sensor on, as ``make dev`` starts it, and the offline heuristic backend:

1. Silver hour 19 is in storage: the sensor's first tick requests its run and records the
   partition on ``silver``. The sensor ticks once in this test (interval 600 s), so the
   hours copied after it are the backfill's alone.
2. Hours 20 and 21 are backfilled from the real *Materialize all…* dialog of the
   ``enrichment`` group, exactly as the README tells: *Show all partitions*, then the range
   typed in brackets. ``BackfillPolicy.multi_run`` makes that one run of two partitions.
3. The pages then show, and the test asserts: silver_ai's column table (from the contracts,
   with the data dictionary's meaning) and its description with no Markdown symbols, in the
   asset page and in the catalog; ``silver``'s partitions recorded by the sensor (the hour
   in storage at its tick); the range on the range run's row of the Runs list.
   GraphQL says every table asset carries its contract's column count, and the
   ``dagster dev`` log holds no Beta/Preview warning.

Screenshots are kept under ``build/artifacts/dagster-ui-*.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance, RunsFilter

from enrichment_dagster.assets.passes import PARTITION_RANGE_TAG
from enrichment_dagster.contracts.output import silver_ai_columns
from enrichment_dagster.demo import SAMPLE_SILVER
from enrichment_dagster.storage.partition_keys import partition_key_to_path
from enrichment_dagster_tests.benchmarks.bench_backfill import (
    DONE_STATUSES,
    UNSET_ENV,
    Webserver,
    dagster_dev,
    wait_for,
    write_instance_yaml,
)
from enrichment_dagster_tests.gold.test_report_chromium import ARGS, ARTIFACTS, CHROMIUM
from enrichment_dagster_tests.test_defs import CONTRACTS

pytestmark = pytest.mark.slow

SENSOR_HOUR = "2025-12-10-19:00"
RANGE = ("2025-12-10-20:00", "2025-12-10-21:00")
RANGE_TEXT = f"{RANGE[0]}...{RANGE[-1]}"
LOCATION = "enrichment_dagster.definitions"
COLUMN_SCHEMAS = """{ assetNodes { assetKey { path } description metadataEntries { label
    ... on TableSchemaMetadataEntry { schema { columns { name type description } } } } } }"""
SILVER_PARTITIONS = """{ assetNodeOrError(assetKey: {path: ["silver"]}) {
    ... on AssetNode { partitionStats { numMaterialized } } } }"""
BACKFILLS = """{ partitionBackfillsOrError { ... on PartitionBackfills { results { id } } } }"""


@dataclass
class DevServer:
    web: Webserver
    storage: Path
    instance: DagsterInstance
    log: Path


def _copy_hour(storage: Path, key: str) -> None:
    """One sample Silver hour into the storage root, as Spark lands it."""
    relative = partition_key_to_path(key)
    shutil.copytree(SAMPLE_SILVER / relative, storage / "silver" / relative)


@pytest.fixture()
def dev_server(tmp_path: Path, fresh_database: str) -> Iterator[DevServer]:
    """``dagster dev`` as ``make dev`` runs it, on the fresh database, Silver hour 19 stored."""
    home, storage = tmp_path / "home", tmp_path / "data"
    home.mkdir()
    storage.mkdir()
    write_instance_yaml(home, pool=2)  # the sensor's run and the backfill's run side by side
    _copy_hour(storage, SENSOR_HOUR)
    env = {k: v for k, v in os.environ.items() if k not in UNSET_ENV}
    env.update({"ENRICHMENT_STORAGE_URI": str(storage), "ENRICHMENT_LLM_BACKEND": "heuristic",
                "ENRICHMENT_SENSORS_RUNNING": "1", "ENRICHMENT_SENSOR_INTERVAL_S": "600"})
    log = tmp_path / "dagster-dev.log"
    with dagster_dev(home, env, log) as web, DagsterInstance.from_config(str(home)) as instance:
        web.graphql("mutation { setNuxSeen }")  # the community pop-up would cover every page
        yield DevServer(web, storage, instance, log)


def _runs_done(instance: DagsterInstance, tags: dict[str, str]) -> list[Any]:
    runs = instance.get_runs(RunsFilter(tags=tags))
    return runs if runs and all(r.is_finished for r in runs) else []


def test_the_ui_shows_columns_descriptions_partitions_and_ranges(dev_server: DevServer) -> None:
    if not CHROMIUM.exists():
        pytest.fail("Debian chromium is missing: apt-get install -y chromium (.ci/run does)")
    from playwright.sync_api import Page, sync_playwright

    web, instance = dev_server.web, dev_server.instance
    sensor_tags = {"dagster/sensor_name": "new_silver_partitions"}
    sensor_run = wait_for(lambda: instance.get_runs(RunsFilter(tags=sensor_tags)), 120,
                          "the sensor's run")[0]
    assert sensor_run.tags["dagster/partition"] == SENSOR_HOUR
    for key in RANGE:
        _copy_hour(dev_server.storage, key)

    def shot(page: Page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"dagster-ui-{name}.png"), full_page=False)

    def visit(page: Page, path: str, ready: str) -> str:
        page.goto(f"{web.url}{path}")
        page.get_by_text(ready, exact=False).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1_500)  # live data (health, partitions) arrives after the frame
        return page.inner_text("body")

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})

            # The README's backfill steps, in the real dialog.
            visit(page, f"/locations/{LOCATION}/asset-groups/enrichment", "Materialize all")
            page.get_by_text("Materialize all").first.click()
            dialog = page.get_by_role("dialog").filter(has_text="Launch runs to materialize 4 assets")
            dialog.get_by_text("Show all partitions").click()
            selection = dialog.locator("input[type=text]").first
            selection.fill(f"[{RANGE_TEXT}]")
            selection.press("Enter")
            dialog.get_by_text("2 partitions", exact=True).wait_for(timeout=10_000)
            shot(page, "backfill-dialog")
            dialog.get_by_role("button", name="Launch backfill").click()
            backfill_id = wait_for(lambda: web.graphql(BACKFILLS)["partitionBackfillsOrError"]["results"],
                                   60, "the backfill")[0]["id"]
            status = wait_for(lambda: (s if (s := web.backfill_status(backfill_id)) in DONE_STATUSES else None),
                              300, f"backfill {backfill_id}")
            assert status == "COMPLETED_SUCCESS", status
            assert all(r.status.value == "SUCCESS"
                       for r in wait_for(lambda: _runs_done(instance, sensor_tags), 120, "the sensor's run"))
            range_runs = _runs_done(instance, {"dagster/backfill": backfill_id})
            assert [r.tags.get(PARTITION_RANGE_TAG) for r in range_runs] == [RANGE_TEXT]

            # silver_ai: the contract's columns, described, and a description with no Markdown symbols.
            text = visit(page, "/assets/silver_ai", "Column name")
            description = next(n["description"] for n in web.graphql(COLUMN_SCHEMAS)["assetNodes"]
                               if n["assetKey"]["path"] == ["silver_ai"])
            assert description in text and not re.search(r"[`*]", description)
            assert "job_posting_id" in text
            page.get_by_placeholder("Filter columns").fill("ext_salary_min")
            meaning = dict((n, m) for n, _, m, _ in silver_ai_columns())["ext_salary_min"]
            row = page.get_by_role("row").filter(has_text="ext_salary_min")
            row.get_by_text(meaning, exact=True).wait_for(timeout=10_000)
            assert row.count() == 1 and "double" in row.inner_text()
            assert page.get_by_role("row").filter(has_text="job_posting_id").count() == 0
            page.get_by_placeholder("Filter columns").scroll_into_view_if_needed()
            shot(page, "silver_ai-columns")

            # The catalog lists descriptions as written: nothing to render there.
            text = visit(page, "/assets", "silver_ai")
            assert description in text
            shot(page, "catalog")

            # silver: what the sensor's one tick saw in storage (hour 19; 20 and 21 were
            # copied after it). That it records every listed partition, requested or not, is
            # test_sensors.py::test_every_listed_partition_is_recorded_once_per_version.
            text = visit(page, "/assets/silver?view=partitions", "Materialized (")
            shown = int(re.search(r"Materialized \((\d+)\)", text).group(1))  # type: ignore[union-attr]
            stats = web.graphql(SILVER_PARTITIONS)["assetNodeOrError"]["partitionStats"]
            assert shown == stats["numMaterialized"] == 1
            page.get_by_placeholder("Filter by name").fill(SENSOR_HOUR[:11])
            page.get_by_text(SENSOR_HOUR, exact=True).first.wait_for(timeout=10_000)
            shot(page, "silver-partitions")

            # Runs: the range run's row names its range.
            visit(page, "/runs", "Show runs within backfills")
            page.get_by_text("Show runs within backfills").click()
            page.get_by_text(f"{PARTITION_RANGE_TAG}: {RANGE_TEXT}").wait_for(timeout=30_000)
            page.get_by_text(f"partition: {SENSOR_HOUR}").wait_for(timeout=10_000)
            shot(page, "runs")
        finally:
            browser.close()

    # Every table asset carries its contract's columns in its definition metadata.
    counts = {}
    for node in web.graphql(COLUMN_SCHEMAS)["assetNodes"]:
        schemas = [e["schema"] for e in node["metadataEntries"] if e["label"] == "dagster/column_schema"]
        if schemas:
            counts[node["assetKey"]["path"][-1]] = len(schemas[0]["columns"])
    assert counts == {name: len(schema) for name, schema in CONTRACTS.items()}

    log = dev_server.log.read_text(errors="replace")
    assert "BetaWarning" not in log and "PreviewWarning" not in log
