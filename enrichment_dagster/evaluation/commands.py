"""``enrichment evaluate consensus DIR``: the consensus report from the command line."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from enrichment_dagster.cli_args import write_output
from enrichment_dagster.errors import InputError
from enrichment_dagster.evaluation.consensus import METHODS, evaluate_directory, read_jobs_file
from enrichment_dagster.evaluation.markdown import to_markdown
from enrichment_dagster.evaluation.report import to_json
from enrichment_dagster.evaluation.v2 import Settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    evaluate = subparsers.add_parser("evaluate", help="Evaluate enrichment outputs.")
    commands = evaluate.add_subparsers(dest="evaluate_command", required=True)
    consensus = commands.add_parser(
        "consensus",
        help="Multi-model consensus over <DIR>/<job_id>/pass{N}-<model>{.json,-raw.txt}.",
        description=(
            "Agreement between models per field, per job, per pass and per model. "
            "'legacy' reproduces the old method exactly; 'v2' (default) does not count "
            "unanimous nulls as agreement, compares numbers with tolerances and lists as sets, "
            "leaves free text out and ranks models leave-one-out. When both a .json and a "
            "-raw.txt exist for a model and pass, legacy reads the .json only (what the old "
            "evaluator read) and v2 the raw text through the project parser (what the model "
            "said), falling back to the .json; --source chooses otherwise."
        ),
    )
    consensus.add_argument("directory", type=Path, metavar="DIR")
    consensus.add_argument(
        "--method", choices=METHODS, default="v2", help="consensus rules (default: %(default)s)"
    )
    jobs = consensus.add_mutually_exclusive_group()
    jobs.add_argument("--jobs", help="comma-separated job ids (default: every all-digit folder)")
    jobs.add_argument("--jobs-file", type=Path, help="file with one job id per line")
    consensus.add_argument(
        "--source",
        choices=("auto", "json", "raw"),
        default=None,
        help="which file of an answer to read; json: .json only; raw: raw text only; auto: "
        "raw text first, falling back to the .json (default: json for legacy, which is what "
        "the old evaluator read, auto for v2)",
    )
    consensus.add_argument(
        "--min-models",
        type=int,
        default=Settings().min_models,
        help="v2: fewest answering models for a field to be scored (default: %(default)s)",
    )
    consensus.add_argument("--json", action="store_true", help="print the JSON report")
    consensus.add_argument("--out", type=Path, help="also write the Markdown report here")
    consensus.set_defaults(handler=run_consensus)


def _job_ids(args: argparse.Namespace) -> list[str] | None:
    if args.jobs_file is not None:
        return read_jobs_file(args.jobs_file)
    if args.jobs:
        return [j.strip() for j in args.jobs.split(",") if j.strip()]
    return None


def run_consensus(args: argparse.Namespace) -> int:
    if not args.directory.is_dir():
        raise InputError(f"{str(args.directory)!r}: no such folder")
    try:
        run = evaluate_directory(
            args.directory,
            method=args.method,
            jobs=_job_ids(args),
            source=args.source,
            settings=Settings(min_models=args.min_models),
        )
    except (ValueError, OSError) as exc:
        raise InputError(str(exc)) from exc
    markdown = to_markdown(run)
    if args.out is not None:
        write_output(args.out, markdown)
    if args.json:
        print(json.dumps(to_json(run), indent=2, ensure_ascii=False, default=str))
    elif args.out is None:
        print(markdown, end="")
    return 0
