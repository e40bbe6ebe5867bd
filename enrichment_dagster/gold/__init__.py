"""Gold: the daily answers silver_ai exists for (skills demand, salary benchmarks, market
signals, career pathways), their charts and the offline HTML report.

Plain Python + DuckDB, no Dagster import: the assets in ``assets/gold.py`` are thin wrappers,
and ``enrichment report`` uses the same code without a Dagster instance.
"""
