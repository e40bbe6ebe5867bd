"""Our own Silver sample: the Parquet files the demo enriches, shaped like upstream's.

The real Silver files in ``../shared/data`` may not be copied into the repository, so the demo
and the tests run on this dataset instead. The files are built from hand-written postings by
``enrichment_dagster_tests/sample_data/build.py`` (a development tool, not shipped) and
committed under ``silver/``.
"""

from pathlib import Path

#: The committed files, ``silver/year=/month=/day=/hour=/part-….parquet``.
SAMPLE_SILVER: Path = Path(__file__).resolve().parent / "silver"
#: Dagster hourly partition keys covered by the sample (``HourlyPartitionsDefinition`` format).
SAMPLE_PARTITIONS: list[str] = ["2025-12-10-19:00", "2025-12-10-20:00", "2025-12-10-21:00"]
