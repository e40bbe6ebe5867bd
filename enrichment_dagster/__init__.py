"""LLM enrichment of hourly job-postings Silver partitions on Dagster and Amazon Bedrock."""

__version__ = "0.1.0"
