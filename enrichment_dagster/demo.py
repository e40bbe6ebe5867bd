"""``make demo``: enrich the bundled sample Silver data end to end, offline.

Copies the sample Silver partitions into the storage root (``./data`` by default),
materializes every sample partition through ``enrich_job`` on the configured backend
(the offline heuristic unless ``ENRICHMENT_LLM_BACKEND`` says otherwise), and prints one
line per partition computed from the silver_ai files themselves, with the check results
Dagster recorded. Runs are stored in ``$DAGSTER_HOME`` (default ``.dagster_home``) so
``make dev`` shows them in the UI afterwards.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

from dagster import DagsterInstance, Definitions

from enrichment_dagster.sample_data import SAMPLE_PARTITIONS, SAMPLE_SILVER
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import partition_folder, read_partition


def copy_sample(root: StorageRoot) -> int:
    """Put the sample Silver files under ``{root}/silver`` (local or S3); returns files copied."""
    copied = 0
    for file in sorted(SAMPLE_SILVER.rglob("*.parquet")):
        relative = file.relative_to(SAMPLE_SILVER).as_posix()
        target = root.path("silver", relative)
        if not root.exists(target):
            root.write_bytes_atomic(target, file.read_bytes())
            copied += 1
    return copied


def _mean(values: list[float | None]) -> str:
    present = [v for v in values if v is not None]
    return f"{sum(present) / len(present):.2f}" if present else "-"


def partition_line(root: StorageRoot, key: str, checks: dict[str, bool]) -> str:
    table = read_partition(root, "silver_ai", key)
    success = [sum(table.column(f"pass{n}_success").to_pylist()) for n in (1, 2, 3)]
    cost = sum(table.column("enrichment_cost_usd").to_pylist())
    passed = sum(checks.values())
    failed = [name for name, ok in checks.items() if not ok]
    return (f"{key:<18}{table.num_rows:>8}{success[0]:>7}{success[1]:>7}{success[2]:>7}"
            f"{_mean(table.column('avg_confidence_pass2').to_pylist()):>8}"
            f"{_mean(table.column('avg_confidence_pass3').to_pylist()):>8}{cost:>10.4f}"
            f"   {passed}/{len(checks)} passed" + (f" (failed: {', '.join(failed)})" if failed else ""))


def sample_days() -> list[str]:
    """The days the sample partitions cover (Gold partition keys)."""
    return sorted({key[:10] for key in SAMPLE_PARTITIONS})


def build_gold_and_report(defs: Definitions, instance: DagsterInstance,
                          root: StorageRoot) -> Path | None:
    """Materialize the Gold tables of every sample day, then write the offline report.

    Returns the report's path (``./build/report.html``), or None when a Gold run failed.
    """
    from enrichment_dagster.gold.report import build_report

    job = defs.resolve_job_def("gold_job")
    for day in sample_days():
        result = job.execute_in_process(
            partition_key=day, instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            print(f"gold {day}: run {result.run_id} failed", file=sys.stderr)
            return None
        print(f"gold {day}: {len(result.get_asset_materialization_events())} tables under "
              f"{root.uri('gold')}")
    days = sample_days()
    out = Path(os.environ.get("ENRICHMENT_REPORT_PATH", "build/report.html")).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(build_report(root, date.fromisoformat(days[0]), date.fromisoformat(days[-1])),
                   encoding="utf-8")
    return out


def main() -> int:
    os.environ.setdefault("DAGSTER_HOME", str(Path(".dagster_home").resolve()))
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    from enrichment_dagster.definitions import defs  # after DAGSTER_HOME is set
    root = StorageRoot.from_env()
    print(f"storage root: {root.root_uri}; copied {copy_sample(root)} sample Silver files")
    job = defs.resolve_job_def("enrich_job")
    instance = DagsterInstance.get()
    lines = []
    for key in SAMPLE_PARTITIONS:
        result = job.execute_in_process(
            partition_key=key, instance=instance, raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        if not result.success:
            print(f"partition {key}: run {result.run_id} failed", file=sys.stderr)
            return 1
        checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
        lines.append(partition_line(root, key, checks))
    print(f"\n{'partition':<18}{'records':>8}{'pass1':>7}{'pass2':>7}{'pass3':>7}{'conf2':>8}"
          f"{'conf3':>8}{'cost $':>10}   checks")
    print("\n".join(lines))
    print(f"\nsilver_ai written under {root.uri('silver_ai')} "
          f"(e.g. {root.display(partition_folder(root, 'silver_ai', SAMPLE_PARTITIONS[0]))})")
    report = build_gold_and_report(defs, instance, root)
    if report is None:
        return 1
    print(f"Gold report: {report}")
    print("Open the UI with `make dev` to browse runs, metadata and check results.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
