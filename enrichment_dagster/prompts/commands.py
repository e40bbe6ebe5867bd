"""``enrichment prompt-report``: how big are our prompts, really?

The old system sent ~84,000 characters per job (median 83,894 over three passes). This
report renders our three prompts for every record of a Silver file or partition folder
and prints the distribution, so the claim "a fraction of the old size" is measured, not
asserted. Passes 2 and 3 need earlier-pass output to render; the report uses real
gpt-oss answers from a Silver-AI reference folder when one is given (or found under
``$ENRICHMENT_SHARED_DATA``), and the offline heuristic backend otherwise; the JSON says
which.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from enrichment_dagster.contracts.lenient import validate_pass
from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord, conform_silver
from enrichment_dagster.prompts.render import PromptBudget, render_prompt

OLD_MEDIAN_CHARS = 83_894


def read_silver_records(path: Path) -> list[SilverRecord]:
    files = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
    records: list[SilverRecord] = []
    for file in files:
        table = conform_silver(pq.read_table(file))
        records.extend(SilverRecord.model_validate(row) for row in table.to_pylist())
    return records


def _reference_contexts(folder: Path) -> Iterator[tuple[Pass1Output, Pass2Output]]:
    rows: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.parquet")):
        rows.extend(pq.read_table(file, columns=["extraction_json", "inference_json"]).to_pylist())
    pairs = []
    for row in rows:
        p1 = validate_pass(1, json.loads(row["extraction_json"])).model
        p2 = validate_pass(2, json.loads(row["inference_json"])).model
        pairs.append((p1, p2))
    while True:
        yield from pairs


def _heuristic_contexts(records: list[SilverRecord]) -> Iterator[tuple[Pass1Output, Pass2Output]]:
    from enrichment_dagster.llm.heuristic.backend import answer_for  # offline, deterministic

    for record in records:
        p1 = validate_pass(1, answer_for(1, {"record": record})).model
        p2 = validate_pass(2, answer_for(2, {"record": record, "pass1": p1})).model
        yield p1, p2


def _stats(values: list[int]) -> dict[str, int]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {
        "median_chars": int(statistics.median(ordered)),
        "p95_chars": p95,
        "max_chars": ordered[-1],
    }


def prompt_report(silver: Path, reference: Path | None, budget: PromptBudget) -> dict[str, Any]:
    records = read_silver_records(silver)
    if not records:
        raise SystemExit(f"no Silver records under {silver}")
    if reference is not None:
        contexts, source = _reference_contexts(reference), f"real gpt-oss answers from {reference}"
    else:
        contexts, source = _heuristic_contexts(records), "the offline heuristic backend"
    sizes: dict[int, list[int]] = {1: [], 2: [], 3: []}
    tokens: dict[int, list[int]] = {1: [], 2: [], 3: []}
    totals: list[int] = []
    shortened = 0
    for record, (p1, p2) in zip(records, contexts, strict=False):
        total = 0
        for n in (1, 2, 3):
            rendered = render_prompt(n, record, p1, p2, budget)
            sizes[n].append(rendered.chars)
            tokens[n].append(rendered.estimated_input_tokens)
            shortened += rendered.description_shortened
            total += rendered.chars
        totals.append(total)
    per_pass = {
        f"pass{n}": {**_stats(sizes[n]), "median_tokens_est": int(statistics.median(tokens[n]))}
        for n in (1, 2, 3)
    }
    total_stats = _stats(totals)
    return {
        "records": len(records),
        "per_pass": per_pass,
        "total": total_stats,
        "ratio_to_old": round(total_stats["median_chars"] / OLD_MEDIAN_CHARS, 4),
        "old_median_chars": OLD_MEDIAN_CHARS,
        "prompts_with_shortened_description": shortened,
        "earlier_pass_source": source,
    }


def _default_reference() -> Path | None:
    shared = os.environ.get("ENRICHMENT_SHARED_DATA")
    if shared and (Path(shared) / "silver_ai_reference").is_dir():
        return Path(shared) / "silver_ai_reference"
    return None


def _run(args: argparse.Namespace) -> int:
    reference = Path(args.reference) if args.reference else _default_reference()
    if args.heuristic_context:
        reference = None
    report = prompt_report(Path(args.silver_path), reference, PromptBudget(args.max_input_tokens))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['records']} records; earlier passes from {report['earlier_pass_source']}")
    print(f"{'pass':<8}{'median':>10}{'p95':>10}{'max':>10}{'tokens~':>10}")
    for name, s in report["per_pass"].items():
        print(
            f"{name:<8}{s['median_chars']:>10,}{s['p95_chars']:>10,}{s['max_chars']:>10,}"
            f"{s['median_tokens_est']:>10,}"
        )
    t = report["total"]
    print(f"{'total':<8}{t['median_chars']:>10,}{t['p95_chars']:>10,}{t['max_chars']:>10,}")
    print(
        f"ratio to the old system's median of {OLD_MEDIAN_CHARS:,} chars: {report['ratio_to_old']:.1%}"
    )
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("prompt-report", help="measure rendered prompt sizes")
    parser.add_argument("silver_path", help="a Silver Parquet file or partition folder")
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--reference", help="Silver-AI reference folder with real earlier-pass answers"
    )
    parser.add_argument(
        "--heuristic-context",
        action="store_true",
        help="use the heuristic backend for earlier passes",
    )
    parser.add_argument("--max-input-tokens", type=int, default=PromptBudget().max_input_tokens)
    parser.set_defaults(handler=_run)
