"""Schemas of the stored outputs: the per-pass tables and silver_ai.

Every partition of an asset is written with exactly these Arrow schemas, also when a
column is all null, so Athena, DuckDB and Spark read the whole table at once. The
telemetry columns are the old system's missing bookkeeping: a failed pass is visible as
such, with its error, attempts, tokens and cost, and its raw answer is kept for re-parsing
without paying again.

Two costs are kept apart: what *this run* paid (``input_tokens``/``cost_usd``, summed into
``enrichment_*``: 0 for an answer served from the cache) and what the *answer* cost when it
was bought (``answer_*`` / ``pass{N}_answer_*``, with its ``pricing``): an answer bought by
Bedrock batch inference is served from the cache, so only the second says what a record
cost and at which price list. New columns are appended, so readers by position keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import pyarrow as pa

from enrichment_dagster.contracts.columns import ColumnSpec, pass_columns
from enrichment_dagster.contracts.silver import SILVER_DESCRIPTIONS, SILVER_SCHEMA


@dataclass(frozen=True)
class MetaColumn:
    name: str
    arrow_type: pa.DataType
    description: str
    #: Allowed values, as the data dictionary lists them ("" when any value of the type).
    allowed: str = ""


#: How an answer was bought, i.e. which of a model's two price lists it was billed at.
#: ``on_demand``: a direct call (Converse/InvokeModel, or an offline backend at its own
#: price, usually $0); ``batch``: Bedrock batch inference at the batch prices. Stored with
#: every cached answer and carried into the tables, so a cost can always be told apart.
Pricing = Literal["on_demand", "batch"]
PRICING_VALUES: tuple[Pricing, ...] = get_args(Pricing)
_PRICING_ALLOWED = ", ".join(PRICING_VALUES)
_PRICING_MEANING = (
    "on_demand = a direct model call at on-demand prices (offline backends at their own "
    "price, usually $0); batch = Bedrock batch inference at batch prices"
)
_ANSWER_NOTE = (
    "the same whichever run bought it (a cache hit shows the figure of the run or batch "
    "job that paid); null when there is no complete answer"
)


#: One row per Silver record in every pass table: the key, then the pass's columns, then these.
PASS_TELEMETRY: tuple[MetaColumn, ...] = (
    MetaColumn("status", pa.string(), "complete | partial | failed | skipped"),
    MetaColumn("success", pa.bool_(), "true only for a complete, valid answer"),
    MetaColumn(
        "error_class",
        pa.string(),
        "typed reason of a failure (no_json, throttled, budget_exceeded, ...)",
    ),
    MetaColumn("error_message", pa.string(), "human-readable failure message"),
    MetaColumn(
        "attempts", pa.int64(), "model calls made for this record in this run (0 on a cache hit)"
    ),
    MetaColumn(
        "input_tokens",
        pa.int64(),
        "input tokens billed in this run, all attempts (0 when the answer came from the "
        "cache; what the answer took is answer_input_tokens)",
    ),
    MetaColumn(
        "output_tokens",
        pa.int64(),
        "output tokens billed in this run, all attempts (reasoning included)",
    ),
    MetaColumn(
        "cost_usd",
        pa.float64(),
        "USD of this run's calls for this record (0 when the answer came from the cache, "
        "batch answers included; what the answer cost is answer_cost_usd)",
    ),
    MetaColumn("latency_s", pa.float64(), "wall time of this record's calls"),
    MetaColumn("cache_hit", pa.bool_(), "answer reused from the content-addressed cache (no call)"),
    MetaColumn("model_id", pa.string(), "model that answered"),
    MetaColumn("prompt_version", pa.string(), "hash of the prompt template and schema version"),
    MetaColumn("coerced_values", pa.int64(), "values the contract had to coerce"),
    MetaColumn("nulled_values", pa.int64(), "values the contract rejected and nulled"),
    MetaColumn(
        "evidence_checked", pa.int64(), "non-empty evidence strings checked against the posting"
    ),
    MetaColumn("evidence_grounded", pa.int64(), "evidence strings found verbatim in the posting"),
    MetaColumn(
        "result_json", pa.string(), "the validated answer as JSON (context for later passes)"
    ),
    MetaColumn(
        "raw_text", pa.string(), "raw answer of a failed or partial call, kept for re-parsing"
    ),
    MetaColumn(
        "answer_input_tokens",
        pa.int64(),
        f"input tokens billed for the stored answer when it was bought, all attempts; {_ANSWER_NOTE}",
    ),
    MetaColumn(
        "answer_output_tokens",
        pa.int64(),
        f"output tokens billed for the stored answer when it was bought, all attempts; {_ANSWER_NOTE}",
    ),
    MetaColumn(
        "answer_cost_usd",
        pa.float64(),
        "USD the stored answer cost when it was bought, at answer_pricing (a batch answer "
        f"at batch prices); {_ANSWER_NOTE}",
    ),
    MetaColumn(
        "answer_pricing",
        pa.string(),
        f"how the stored answer was bought: {_PRICING_MEANING}; null when there is no "
        "complete answer",
        _PRICING_ALLOWED,
    ),
)

def _answer_columns(n: int) -> tuple[MetaColumn, ...]:
    """What pass ``n``'s answer cost and how it was bought: silver_ai has the same shape
    whichever path answered, and these columns say which path and at what price."""
    return (
        MetaColumn(
            f"pass{n}_pricing",
            pa.string(),
            f"how pass {n}'s answer was bought: {_PRICING_MEANING}; null when pass {n} has "
            "no complete answer",
            _PRICING_ALLOWED,
        ),
        MetaColumn(
            f"pass{n}_answer_input_tokens",
            pa.int64(),
            f"input tokens billed for pass {n}'s answer when it was bought; {_ANSWER_NOTE}",
        ),
        MetaColumn(
            f"pass{n}_answer_output_tokens",
            pa.int64(),
            f"output tokens billed for pass {n}'s answer when it was bought; {_ANSWER_NOTE}",
        ),
        MetaColumn(
            f"pass{n}_answer_cost_usd",
            pa.float64(),
            f"USD pass {n}'s answer cost when it was bought, at pass{n}_pricing (a batch "
            f"answer at batch prices); a posting sharing an answer with another (same "
            f"content) shows its whole price; {_ANSWER_NOTE}",
        ),
    )


SILVER_AI_METADATA: tuple[MetaColumn, ...] = (
    MetaColumn(
        "enriched_at", pa.timestamp("us", tz="UTC"), "when silver_ai was written for this partition"
    ),
    MetaColumn("enrichment_version", pa.string(), "schema version and prompt version of each pass"),
    MetaColumn("enrichment_model_pass1", pa.string(), "model of pass 1"),
    MetaColumn("enrichment_model_pass2", pa.string(), "model of pass 2"),
    MetaColumn("enrichment_model_pass3", pa.string(), "model of pass 3"),
    MetaColumn("pass1_success", pa.bool_(), "pass 1 gave a complete, valid answer"),
    MetaColumn("pass2_success", pa.bool_(), "pass 2 gave a complete, valid answer"),
    MetaColumn("pass3_success", pa.bool_(), "pass 3 gave a complete, valid answer"),
    MetaColumn(
        "enrichment_errors", pa.string(), "JSON: per failed pass, error class, message, attempts"
    ),
    MetaColumn(
        "enrichment_input_tokens",
        pa.int64(),
        "input tokens of all passes billed in the runs that wrote the pass tables (0 for "
        "answers served from the cache, batch answers included; see pass{N}_answer_input_tokens)",
    ),
    MetaColumn(
        "enrichment_output_tokens",
        pa.int64(),
        "output tokens of all passes billed in the runs that wrote the pass tables (0 for "
        "answers served from the cache; see pass{N}_answer_output_tokens)",
    ),
    MetaColumn(
        "enrichment_cost_usd",
        pa.float64(),
        "USD spent on this record's calls in the runs that wrote the pass tables (0 for "
        "answers served from the cache, batch answers included): what those runs paid, not "
        "what the answers cost, which is pass{N}_answer_cost_usd",
    ),
    MetaColumn(
        "avg_confidence_pass2", pa.float64(), "mean confidence of pass-2 fields with a value"
    ),
    MetaColumn(
        "avg_confidence_pass3", pa.float64(), "mean confidence of pass-3 fields with a value"
    ),
    MetaColumn(
        "low_confidence_fields",
        pa.list_(pa.string()),
        "pass-2/3 fields with a value and confidence < 0.5",
    ),
    MetaColumn("evidence_checked", pa.int64(), "evidence strings checked (passes 2 and 3)"),
    MetaColumn("evidence_grounded", pa.int64(), "evidence strings found verbatim in the posting"),
    MetaColumn("prompt_version_pass1", pa.string(), "prompt version of pass 1"),
    MetaColumn("prompt_version_pass2", pa.string(), "prompt version of pass 2"),
    MetaColumn("prompt_version_pass3", pa.string(), "prompt version of pass 3"),
    MetaColumn("cache_hit_pass1", pa.bool_(), "pass 1 answer came from the cache"),
    MetaColumn("cache_hit_pass2", pa.bool_(), "pass 2 answer came from the cache"),
    MetaColumn("cache_hit_pass3", pa.bool_(), "pass 3 answer came from the cache"),
    *(column for n in (1, 2, 3) for column in _answer_columns(n)),
)


def pass_table_schema(pass_number: int) -> pa.Schema:
    fields = [pa.field("job_posting_id", pa.string(), nullable=False)]
    fields += [pa.field(c.name, c.arrow_type) for c in pass_columns(pass_number)]
    fields += [pa.field(m.name, m.arrow_type) for m in PASS_TELEMETRY]
    return pa.schema(fields)


def silver_ai_schema() -> pa.Schema:
    fields = list(SILVER_SCHEMA)
    for n in (1, 2, 3):
        fields += [pa.field(c.name, c.arrow_type) for c in pass_columns(n)]
    fields += [pa.field(m.name, m.arrow_type) for m in SILVER_AI_METADATA]
    return pa.schema(fields)


def silver_ai_columns() -> list[tuple[str, pa.DataType, str, str]]:
    """(column, type, meaning, allowed values) for every silver_ai column, in order."""
    rows: list[tuple[str, pa.DataType, str, str]] = []
    for field in SILVER_SCHEMA:
        rows.append(
            (
                field.name,
                field.type,
                SILVER_DESCRIPTIONS.get(field.name, "Silver column, unchanged"),
                "",
            )
        )
    for n in (1, 2, 3):
        spec: ColumnSpec
        for spec in pass_columns(n):
            rows.append((spec.name, spec.arrow_type, spec.description, spec.allowed))
    for meta in SILVER_AI_METADATA:
        rows.append((meta.name, meta.arrow_type, meta.description, meta.allowed))
    return rows
