"""``enrichment cost-report``: tokens and cost per posting, per pass and model, on-demand vs
batch, from silver_ai partitions or from a folder of recorded answers (see
:mod:`enrichment_dagster.engine.cost_report` for the definitions)."""

from __future__ import annotations

import argparse
import json

from enrichment_dagster.cli_args import existing_folder, partition_key, positive_int, storage_root
from enrichment_dagster.errors import InputError


def _run(args: argparse.Namespace) -> int:
    from enrichment_dagster.engine import cost_report
    from enrichment_dagster.storage.filesystem import StorageRoot

    if args.answers is not None:
        if args.first or args.last:
            raise InputError("--from/--to select silver_ai partitions; they do not apply to "
                             "--answers")
        answers = cost_report.answers_from_recordings(args.answers)
    else:
        root = StorageRoot(args.root) if args.root else StorageRoot.from_env()
        answers = cost_report.answers_from_silver_ai(root, args.first, args.last)
    report = cost_report.build_report(answers, args.postings_per_month)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(cost_report.render_text(report), end="")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cost-report",
        help="tokens and cost per posting, per pass and model, on-demand vs batch",
        description=(
            "Read what each answer cost (silver_ai's pass{N}_answer_* and pass{N}_pricing "
            "columns, or the token counts of recorded answers) and report, per pass and "
            "model: answers, input/output tokens per posting (median, mean), cost per "
            "posting priced at on-demand and at batch prices and as actually paid, and "
            "totals. Only answered passes count; records without an answer are reported."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--root", type=storage_root,
                        help="storage root, a folder or s3://bucket/prefix "
                             "(default: $ENRICHMENT_STORAGE_URI or ./data)")
    source.add_argument("--answers", type=existing_folder, metavar="DIR",
                        help="folder of recorded answers, <record_id>/pass{N}-<model>.json")
    parser.add_argument("--from", dest="first", type=partition_key, metavar="KEY",
                        help="first silver_ai partition, YYYY-MM-DD-HH:00 (default: the first)")
    parser.add_argument("--to", dest="last", type=partition_key, metavar="KEY",
                        help="last silver_ai partition, inclusive (default: the last)")
    parser.add_argument("--postings-per-month", type=positive_int, metavar="N",
                        help="add a monthly projection: cost per posting x N, both pricings")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(handler=_run)
