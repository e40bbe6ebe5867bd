"""``enrichment parse-report``: run the parser and contracts over recorded raw answers.

It answers "how many paid answers does our parsing keep?" on real model output laid out
as ``<record_id>/pass{N}-<model>-raw.txt``, and lists every file that is not a complete,
valid object with its reason, so a regression in parsing shows up as a number.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from enrichment_dagster.cli_args import existing_folder
from enrichment_dagster.llm.parsing import parse_answer

RAW_NAME = re.compile(r"^pass(?P<pass>[123])-(?P<model>.+)-raw\.txt$")
STATUSES = ("complete", "partial", "no_json", "failed")


def _file_entry(path: Path, root: Path) -> dict[str, Any] | None:
    """One file's outcome; a file that cannot be read or parsed is a ``failed`` entry.

    Why per file: the report exists to count what parsing does with every recorded answer,
    so an unreadable file or a parser that raises is one more counted failure with its
    reason, never the end of the report. A folder named like an answer file is not one.
    """
    match = RAW_NAME.match(path.name)
    if not match or not path.is_file():
        return None
    pass_number = int(match["pass"])
    entry: dict[str, Any] = {
        "path": str(path.relative_to(root)),
        "model": match["model"],
        "pass": pass_number,
        "status": "failed",
        "error_class": None,
        "error": None,
        "coerced_fields": 0,
        "repairs": [],
    }
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        entry.update(error_class="unreadable_file", error=f"cannot read: {exc.strerror or exc}")
        return entry
    try:
        answer = parse_answer(text, pass_number)
    except Exception as exc:  # noqa: BLE001 - one answer must never end the report
        entry.update(error_class="parser_error",
                     error=f"the parser raised {type(exc).__name__}: {str(exc)[:200]}")
        return entry
    entry.update(
        status=answer.status,
        error_class=answer.error_class,
        error=answer.error,
        coerced_fields=answer.coerced_fields,
        repairs=answer.parse.repairs,
    )
    return entry


def _counts(entries: list[dict[str, Any]]) -> dict[str, int]:
    counter = Counter(e["status"] for e in entries)
    counts = {"files": len(entries), **{s: counter.get(s, 0) for s in STATUSES}}
    counts["coerced_values"] = sum(e["coerced_fields"] for e in entries)
    return counts


def parse_report(root: Path) -> dict[str, Any]:
    entries = [e for p in sorted(root.rglob("pass*-raw.txt")) if (e := _file_entry(p, root))]
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for entry in entries:
        groups.setdefault((entry["model"], entry["pass"]), []).append(entry)
    by_model_pass = [
        {
            "model": model,
            "pass": pass_number,
            **_counts(group),
            "failed_by_class": dict(Counter(e["error_class"] for e in group if e["error_class"])),
        }
        for (model, pass_number), group in sorted(groups.items())
    ]
    return {"totals": _counts(entries), "by_model_pass": by_model_pass, "files": entries}


def _print_table(report: dict[str, Any]) -> None:
    print(
        f"{'model':<42}{'pass':>5}{'files':>7}{'complete':>10}{'partial':>9}{'no_json':>9}"
        f"{'failed':>8}{'coerced':>9}"
    )
    for row in report["by_model_pass"]:
        print(
            f"{row['model']:<42}{row['pass']:>5}{row['files']:>7}{row['complete']:>10}"
            f"{row['partial']:>9}{row['no_json']:>9}{row['failed']:>8}{row['coerced_values']:>9}"
        )
    t = report["totals"]
    print(
        f"{'total':<47}{t['files']:>7}{t['complete']:>10}{t['partial']:>9}{t['no_json']:>9}"
        f"{t['failed']:>8}{t['coerced_values']:>9}"
    )
    for entry in report["files"]:
        if entry["status"] != "complete":
            print(
                f"  {entry['status']:<8} {entry['path']}: {entry['error'] or ', '.join(entry['repairs'])}"
            )


def _run(args: argparse.Namespace) -> int:
    report = parse_report(args.dir)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_table(report)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("parse-report", help="parse and validate recorded raw answers")
    parser.add_argument(
        "dir", type=existing_folder, help="folder laid out as <record_id>/pass{N}-<model>-raw.txt"
    )
    parser.add_argument("--json", action="store_true")
    parser.set_defaults(handler=_run)
