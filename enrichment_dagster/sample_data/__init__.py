"""Our own Silver sample: hand-written postings (``postings.yaml``) and the Parquet built from them.

The real Silver files in ``../shared/data`` may not be copied into the repository, so the demo
and the tests run on this dataset instead. ``build`` turns the YAML into Parquet files with the
exact schema Spark writes upstream; the generated files are committed under ``silver/``.
"""
