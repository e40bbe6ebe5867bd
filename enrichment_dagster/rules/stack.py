"""Pass-2 rules about the stack: primary and secondary cloud, paradigm, orchestrator, storage.

Cloud. Providers named in an enumeration ("AWS, GCP, or Azure", "(AWS/Azure/GCP)") are
alternatives and point to ``multi``; a provider named on its own ("Azure Data Factory",
"our AWS environment") counts for that provider. One provider named on its own, or one
named at least twice as often as any other, is the primary cloud; otherwise ``multi``.
Provider-specific products (Redshift, BigQuery) decide only when no provider is named.
The other processing fields read the catalog hits of pass 1's analysis.
"""

from __future__ import annotations

import re
from typing import Any

from enrichment_dagster.contracts import vocab
from enrichment_dagster.rules.claims import absent, claim
from enrichment_dagster.rules.pass1 import Facts
from enrichment_dagster.rules.skills import Hit
from enrichment_dagster.rules.text import Rule

# ------------------------------------------------------------------ cloud

_CLOUDS = {
    "AWS": "aws",
    "Azure": "azure",
    "GCP": "gcp",
    "OCI": "oracle",
    "IBM Cloud": "ibm",
    "Alibaba Cloud": "alibaba",
}
_VENDOR_PREFIX = (
    ("aws ", "aws"),
    ("amazon ", "aws"),
    ("azure ", "azure"),
    ("microsoft azure", "azure"),
    ("google cloud", "gcp"),
    ("gcp ", "gcp"),
)
_PRODUCT_CLOUD = {
    "S3": "aws",
    "EC2": "aws",
    "Lambda": "aws",
    "Glue": "aws",
    "EMR": "aws",
    "EMR Serverless": "aws",
    "Redshift": "aws",
    "Athena": "aws",
    "Kinesis": "aws",
    "RDS": "aws",
    "DynamoDB": "aws",
    "Step Functions": "aws",
    "SageMaker": "aws",
    "CloudFormation": "aws",
    "QuickSight": "aws",
    "Azure Data Factory": "azure",
    "Azure Synapse": "azure",
    "ADLS": "azure",
    "Cosmos DB": "azure",
    "Event Hubs": "azure",
    "Microsoft Fabric": "azure",
    "Bicep": "azure",
    "Azure ML": "azure",
    "BigQuery": "gcp",
    "Dataflow": "gcp",
    "Dataproc": "gcp",
    "Pub/Sub": "gcp",
    "Cloud Composer": "gcp",
    "Vertex AI": "gcp",
    "GKE": "gcp",
    "GCS": "gcp",
}
_LIST_GAP = re.compile(
    r"^[\s,/()&+|:-]*(?:(?:and|or|y|et|ou|e\.g\.|and/or)[\s,/()&+:-]*)?$", re.IGNORECASE
)
_ON_PREM = Rule(
    r"\bon[- ]?prem(?:ise|ises)?\b|\bonpremise\b|\bself[- ]hosted\s+data\s+cent",
    "prem",
    "onprem",
    "self",
)
_CLOUD_ORDER = ("aws", "azure", "gcp", "oracle", "ibm", "alibaba", "on_prem")
_PRIMARY_VOCAB = frozenset(vocab.CLOUD)


def _cloud_mentions(facts: Facts) -> list[tuple[str, Hit]]:
    """Hits that name a cloud provider (the provider itself or a provider-prefixed product)."""
    mentions = []
    for hit in facts.skills.hits:
        cloud = _CLOUDS.get(hit.canonical)
        if cloud is None:
            text = facts.doc.lower[hit.start : hit.end]
            cloud = next((c for prefix, c in _VENDOR_PREFIX if text.startswith(prefix)), None)
        if cloud is not None:
            mentions.append((cloud, hit))
    return mentions


def _cloud_lists(
    facts: Facts, mentions: list[tuple[str, Hit]]
) -> tuple[list[list[tuple[str, Hit]]], dict[str, int]]:
    """Group adjacent mentions ("AWS, GCP, or Azure") and count the ones outside such lists."""
    groups: list[list[tuple[str, Hit]]] = []
    for cloud, hit in mentions:
        if groups and _LIST_GAP.match(facts.doc.text[groups[-1][-1][1].end : hit.start]):
            groups[-1].append((cloud, hit))
        else:
            groups.append([(cloud, hit)])
    lists = [g for g in groups if len({c for c, _ in g}) >= 2]
    standalone: dict[str, int] = {}
    for group in groups:
        if len({c for c, _ in group}) < 2:
            for cloud, _ in group:
                standalone[cloud] = standalone.get(cloud, 0) + 1
    return lists, standalone


def primary_cloud(facts: Facts) -> tuple[dict[str, Any], list[str]]:
    doc = facts.doc
    mentions = _cloud_mentions(facts)
    named = sorted({c for c, _ in mentions}, key=_CLOUD_ORDER.index)
    if not mentions:
        products = [(c, h) for h in facts.skills.hits if (c := _PRODUCT_CLOUD.get(h.canonical))]
        clouds = sorted({c for c, _ in products}, key=_CLOUD_ORDER.index)
        if len(clouds) == 1:
            hit = products[0][1]
            return claim(clouds[0], 0.6, doc.quote(hit.start, hit.end, 60, 80), "inferred"), []
        on_prem = _ON_PREM.search(doc)
        if on_prem is not None and not clouds:
            return claim(
                "on_prem", 0.6, doc.quote(on_prem.start(), on_prem.end(), 60, 80), "explicit"
            ), []
        return absent(), []
    lists, standalone = _cloud_lists(facts, mentions)
    ranked = sorted(standalone.items(), key=lambda kv: (-kv[1], _CLOUD_ORDER.index(kv[0])))
    if ranked and (len(ranked) == 1 or ranked[0][1] >= 2 * ranked[1][1]):
        primary = ranked[0][0]
        listed = {id(h) for group in lists for _, h in group}
        hit = next(h for c, h in mentions if c == primary and id(h) not in listed)
        if primary not in _PRIMARY_VOCAB:  # IBM/Oracle/Alibaba: only secondary_clouds can say so
            return absent(), named
        confidence = 0.9 if not lists and len(ranked) == 1 else 0.7
        return claim(primary, confidence, doc.quote(hit.start, hit.end, 60, 100), "explicit"), [
            c for c in named if c != primary
        ]
    first = lists[0][0][1] if lists else mentions[0][1]
    last = lists[0][-1][1] if lists else mentions[0][1]
    evidence = doc.text[slice(*doc.clause_bounds(first.start, last.end, 60, 80))]
    return claim("multi", 0.8 if lists else 0.65, evidence, "explicit"), named


# ------------------------------------------------------------------ stack

#: Streaming tools: the skills that also make a role ``streaming_realtime`` in roles.py.
STREAMING_SKILLS = frozenset(
    {
        "Stream Processing",
        "Kafka",
        "Flink",
        "Kinesis",
        "Pub/Sub",
        "Event Hubs",
        "Redpanda",
        "Kafka Streams",
        "Azure Stream Analytics",
        "Confluent",
    }
)
_ORCHESTRATORS = {
    "Airflow": "airflow_like",
    "Cloud Composer": "airflow_like",
    "Luigi": "airflow_like",
    "Oozie": "airflow_like",
    "Control-M": "airflow_like",
    "Autosys": "airflow_like",
    "Argo Workflows": "airflow_like",
    "Dagster": "dagster_prefect",
    "Prefect": "dagster_prefect",
    "Azure Data Factory": "cloud_native",
    "Step Functions": "cloud_native",
    "Logic Apps": "cloud_native",
    "Databricks Workflows": "spark_native",
    "Delta Live Tables": "spark_native",
    "dbt": "dbt_core",
}
_WAREHOUSE = frozenset(
    {
        "Data Warehousing",
        "Snowflake",
        "Redshift",
        "BigQuery",
        "Azure Synapse",
        "Teradata",
        "Vertica",
        "ClickHouse",
        "Greenplum",
        "Netezza",
        "Firebolt",
    }
)
_LAKE = frozenset({"Data Lake", "ADLS", "HDFS", "S3", "GCS"})
_LAKEHOUSE = frozenset({"Lakehouse", "Delta Lake", "Iceberg", "Hudi"})


def _first_hit(facts: Facts, names: frozenset[str] | set[str]) -> Hit | None:
    return next((h for h in facts.skills.hits if h.canonical in names), None)


def paradigm(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    streaming = _first_hit(facts, STREAMING_SKILLS)
    batch = _first_hit(facts, {"Batch Processing"})
    etl = _first_hit(facts, {"ETL", "ELT"})
    if streaming and (batch or etl):
        other = batch or etl
        assert other is not None
        lo, hi = min(streaming.start, other.start), max(streaming.end, other.end)
        evidence = (
            doc.quote(lo, hi, 40, 60)
            if hi - lo < 200
            else doc.quote(streaming.start, streaming.end, 60, 80)
        )
        return claim("hybrid", 0.75 if batch else 0.6, evidence, "explicit")
    if streaming:
        return claim(
            "streaming", 0.65, doc.quote(streaming.start, streaming.end, 60, 80), "explicit"
        )
    if batch:
        return claim("batch", 0.75, doc.quote(batch.start, batch.end, 60, 80), "explicit")
    if etl:
        return claim("batch", 0.55, doc.quote(etl.start, etl.end, 60, 80), "explicit")
    return absent()


def orchestrator(facts: Facts) -> dict[str, Any]:
    counts: dict[str, list[Hit]] = {}
    for hit in facts.skills.hits:
        category = _ORCHESTRATORS.get(hit.canonical)
        if category is not None:
            counts.setdefault(category, []).append(hit)
    if not counts:
        return absent()
    non_dbt = {k: v for k, v in counts.items() if k != "dbt_core"} or counts
    category, hits = min(non_dbt.items(), key=lambda kv: (-len(kv[1]), kv[1][0].start))
    return claim(category, 0.8, facts.doc.quote(hits[0].start, hits[0].end, 60, 80), "explicit")


def storage(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    lakehouse, warehouse, lake = (_first_hit(facts, s) for s in (_LAKEHOUSE, _WAREHOUSE, _LAKE))
    if lakehouse is not None:
        return claim(
            "lakehouse", 0.75, doc.quote(lakehouse.start, lakehouse.end, 60, 80), "explicit"
        )
    if warehouse is not None and lake is not None:
        return claim("mixed", 0.6, doc.quote(warehouse.start, warehouse.end, 60, 80), "explicit")
    if warehouse is not None:
        return claim(
            "warehouse", 0.7, doc.quote(warehouse.start, warehouse.end, 60, 80), "explicit"
        )
    if lake is not None:
        return claim("lake", 0.6, doc.quote(lake.start, lake.end, 60, 80), "explicit")
    return absent()


def secondary_clouds(facts: Facts, secondary: list[str]) -> dict[str, Any]:
    """The other clouds named (all of them for ``multi``), quoted at the first of them."""
    if not secondary:
        return absent([])
    first = next(h for c, h in _cloud_mentions(facts) if c in secondary)
    return claim(secondary, 0.8, facts.doc.quote(first.start, first.end, 60, 100), "explicit")
