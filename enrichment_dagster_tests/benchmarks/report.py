"""What every benchmark shares: a loopback-only AWS environment and how results print."""

import json
from typing import Any

#: Dummy credentials and no config files: benchmarks talk to loopback fakes only and must
#: never sign a request with a developer's real credentials.
DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


def print_report(report: dict[str, Any], as_json: bool, width: int = 26) -> None:
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        for key, value in report.items():
            print(f"{key:>{width}}: {value}")
