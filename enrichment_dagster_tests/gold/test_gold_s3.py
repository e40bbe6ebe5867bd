"""Gold on S3 (moto on loopback): the same tables as from the local folder, written atomically."""

from __future__ import annotations

from enrichment_dagster.gold.build import GOLD_ASSETS, build_gold
from enrichment_dagster.gold.store import gold_days, read_gold
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster_tests.gold.conftest import DAY, GoldRun


def test_gold_on_s3_equals_gold_on_a_local_folder(gold_run: GoldRun, moto_s3) -> None:
    root = StorageRoot(moto_s3.storage_uri("gold"), endpoint_url=moto_s3.endpoint_url)
    for file in sorted((gold_run.root / "silver_ai").rglob("*.parquet")):
        relative = file.relative_to(gold_run.root).as_posix()
        root.write_bytes_atomic(root.path(relative), file.read_bytes())
    local = StorageRoot(str(gold_run.root))
    for asset in GOLD_ASSETS:
        built = build_gold(root, asset, DAY)
        assert built.uri.startswith("s3://") and built.uri.endswith(
            f"/gold/{asset}/day={DAY}/part-00000.parquet")
        assert read_gold(root, asset, DAY).equals(read_gold(local, asset, DAY)), asset
        assert gold_days(root, asset) == [DAY]
