"""How every benchmark prints its result: JSON for machines, aligned lines for people."""

import json
from typing import Any


def print_report(report: dict[str, Any], as_json: bool, width: int = 26) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>{width}}: {value}")
