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
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from enrichment_dagster import env
from enrichment_dagster.cli_args import existing_folder, existing_path, positive_int
from enrichment_dagster.contracts.lenient import validate_pass
from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.errors import InputError
from enrichment_dagster.prompts.render import PromptBudget, render_prompt
from enrichment_dagster.storage.parquet import is_ignored_name

OLD_MEDIAN_CHARS = 83_894


def _read_parquet(file: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.ParquetFile(file).read(columns=columns)
    except (OSError, pa.ArrowException, ValueError) as exc:
        raise InputError(f"cannot read {str(file)!r} as Parquet: {exc}") from exc


def _data_files(path: Path) -> list[Path]:
    """The Parquet files of a file or folder, skipping what Spark skips (hidden, ``_*``)."""
    if not path.is_dir():
        return [path]
    return sorted(
        p for p in path.rglob("*.parquet")
        if p.is_file() and not any(is_ignored_name(part) for part in p.relative_to(path).parts)
    )


def read_silver_records(path: Path, invalid_rows: list[str] | None = None) -> list[SilverRecord]:
    """Every usable record under ``path``, prepared as the pipeline prepares them.

    A row the pipeline cannot enrich (null id, a value of the wrong type) is listed in
    ``invalid_rows`` as ``<file>: row N: reason`` and skipped, as pass 1 skips it; an
    unreadable file is an InputError naming it.
    """
    from enrichment_dagster.engine.tables import prepare_silver

    records: list[SilverRecord] = []
    for file in _data_files(path):
        try:
            batch = prepare_silver(_read_parquet(file))
        except InputError:
            raise
        except (ValueError, pa.ArrowException) as exc:
            raise InputError(f"{str(file)!r} is not a Silver file: {exc}") from exc
        records.extend(batch.records)
        if invalid_rows is not None:
            invalid_rows.extend(f"{file}: {' '.join(r.split())}" for r in batch.invalid_rows)
    return records


def _reference_contexts(folder: Path) -> Iterator[tuple[Pass1Output, Pass2Output]]:
    rows: list[dict[str, Any]] = []
    for file in _data_files(folder):
        rows.extend(_read_parquet(file, ["extraction_json", "inference_json"]).to_pylist())
    pairs = []
    for row in rows:
        try:  # a reference row that is not a usable answer is skipped, not a crash
            p1 = validate_pass(1, json.loads(row["extraction_json"])).model
            p2 = validate_pass(2, json.loads(row["inference_json"])).model
        except (TypeError, ValueError, RecursionError):
            continue
        if p1 is not None and p2 is not None:
            pairs.append((p1, p2))
    if not pairs:
        raise InputError(
            f"reference {str(folder)!r} holds no usable extraction_json/inference_json rows"
        )
    while True:
        yield from pairs


def _heuristic_contexts(records: list[SilverRecord]) -> Iterator[tuple[Pass1Output, Pass2Output]]:
    from enrichment_dagster.rules.answers import answer  # offline, deterministic

    for record in records:
        p1 = validate_pass(1, answer(1, record)).model
        p2 = validate_pass(2, answer(2, record, p1)).model
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
    invalid_rows: list[str] = []
    records = read_silver_records(silver, invalid_rows)
    if not records:
        detail = f" ({len(invalid_rows)} invalid rows, first: {invalid_rows[0]})" if invalid_rows else ""
        raise InputError(f"no usable Silver records under {str(silver)!r}{detail}")
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
        "invalid_rows": invalid_rows,
        "earlier_pass_source": source,
    }


def _default_reference() -> Path | None:
    shared = env.env_folder("ENRICHMENT_SHARED_DATA")
    if shared and (Path(shared) / "silver_ai_reference").is_dir():
        return Path(shared) / "silver_ai_reference"
    return None


def _run(args: argparse.Namespace) -> int:
    reference = args.reference if args.reference else _default_reference()
    if args.heuristic_context:
        reference = None
    report = prompt_report(args.silver_path, reference, PromptBudget(args.max_input_tokens))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['records']} records; earlier passes from {report['earlier_pass_source']}")
    for reason in report["invalid_rows"]:
        print(f"  skipped {reason}")
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
    parser.add_argument(
        "silver_path", type=existing_path, help="a Silver Parquet file or partition folder"
    )
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--reference",
        type=existing_folder,
        help="Silver-AI reference folder with real earlier-pass answers",
    )
    parser.add_argument(
        "--heuristic-context",
        action="store_true",
        help="use the heuristic backend for earlier passes",
    )
    parser.add_argument(
        "--max-input-tokens", type=positive_int, default=PromptBudget().max_input_tokens
    )
    parser.set_defaults(handler=_run)
