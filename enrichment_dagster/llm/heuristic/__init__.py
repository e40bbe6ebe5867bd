"""Offline, rule-based enrichment backend (no model, no network, no Dagster)."""

from enrichment_dagster.llm.heuristic.backend import HeuristicBackend

__all__ = ["HeuristicBackend"]
