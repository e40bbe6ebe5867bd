"""The generator of the demo's Silver sample (``build.py``) and its hand-written source
(``postings.yaml``): development tools, kept out of the runtime package, which ships only the
built Parquet files (``enrichment_dagster/sample_data/silver``)."""
