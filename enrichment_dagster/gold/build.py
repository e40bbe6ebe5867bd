"""Build one Gold table for one day: aggregate, write the partition, describe it.

Shared by the Dagster assets (``assets/gold.py``) and by anything that builds Gold without a
Dagster instance, so both write exactly the same files.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from enrichment_dagster.gold.queries import BUILDERS, GoldResult
from enrichment_dagster.gold.report import CHARTS
from enrichment_dagster.gold.store import write_gold
from enrichment_dagster.storage.filesystem import StorageRoot

GOLD_ASSETS: tuple[str, ...] = tuple(BUILDERS)


@dataclass(frozen=True)
class BuiltGold:
    asset: str
    day: dt.date
    result: GoldResult
    uri: str
    chart_svg: str


def build_gold(root: StorageRoot, asset: str, day: dt.date) -> BuiltGold:
    """Aggregate ``asset`` for ``day`` from silver_ai and write its partition atomically."""
    result = BUILDERS[asset](root, day)
    uri = write_gold(root, asset, day, result.table)
    return BuiltGold(asset, day, result, uri, CHARTS[asset](result.table, day))
