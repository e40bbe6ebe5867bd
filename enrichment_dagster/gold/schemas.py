"""The Arrow schema of every Gold table: the contract each daily partition is written with,
so every partition of a table has the same columns and types, also when a day is empty."""

from __future__ import annotations

import pyarrow as pa


def _schema(*fields: tuple[str, pa.DataType, str]) -> pa.Schema:
    return pa.schema([pa.field(n, t, metadata={"description": d}) for n, t, d in fields])


SKILLS_DEMAND = _schema(
    ("day", pa.date32(), "last day of the window (the partition)"),
    ("window_days", pa.int32(), "window length in days: 1, 7 or 28"),
    ("window_start", pa.date32(), "first day of the window"),
    ("kind", pa.string(), "skill (canonical name) or family (catalog family; other if unknown)"),
    ("name", pa.string(), "skill or family name"),
    ("family", pa.string(), "family of the skill"),
    ("postings", pa.int64(), "postings in the window (pass 1 succeeded, one per posting id)"),
    ("required", pa.int64(), "postings that require it"),
    ("nice_to_have", pa.int64(), "postings that list it as nice to have"),
    ("mentioned", pa.int64(), "postings that require it or list it as nice to have"),
    ("share", pa.float64(), "mentioned / postings"),
    ("share_required", pa.float64(), "required / postings"),
    ("prev_postings", pa.int64(), "postings in the previous window of the same length"),
    ("prev_mentioned", pa.int64(), "mentioned in the previous window"),
    ("prev_share", pa.float64(), "share in the previous window (null without postings)"),
    ("change_share", pa.float64(), "share - prev_share (null when either is null)"),
)

SALARY_BENCHMARKS = _schema(
    ("day", pa.date32(), "the partition's day"),
    ("level", pa.string(), "seniority | country (seniority x work model x country) | us_state"),
    ("seniority", pa.string(), "inf_seniority_level"),
    ("work_model", pa.string(), "ext_work_model_stated (null at level seniority)"),
    ("country", pa.string(), "ISO-2 country of the posting, unknown when not known"),
    ("us_state", pa.string(), "US state code (level us_state only)"),
    ("currency", pa.string(), "currency as stated (never converted)"),
    ("n", pa.int64(), "disclosed salaries in the cell"),
    ("n_from_hourly", pa.int64(), "of which annualised from an hourly rate (x 2,080)"),
    ("suppressed", pa.bool_(), "n < 3: the figures are withheld (null)"),
    ("p25", pa.float64(), "25th percentile of annual pay"),
    ("median", pa.float64(), "median annual pay"),
    ("p75", pa.float64(), "75th percentile of annual pay"),
)

MARKET_SIGNALS = _schema(
    ("day", pa.date32(), "the partition's day"),
    ("signal", pa.string(), "work_model, visa_sponsorship, security_clearance, ..."),
    ("value", pa.string(), "the signal's value (remote, yes, not_mentioned, mean, ...)"),
    ("postings", pa.int64(), "postings with that value (for a mean: postings with a value)"),
    ("basis_pass", pa.string(), "the pass whose success the record needs"),
    ("basis", pa.int64(), "postings whose basis pass succeeded (the denominator)"),
    ("share", pa.float64(), "postings / basis (null for a mean)"),
    ("mean", pa.float64(), "mean of the value (mean rows only)"),
)

CAREER_PATHWAYS = _schema(
    ("day", pa.date32(), "the partition's day"),
    ("seniority", pa.string(), "inf_seniority_level"),
    ("postings", pa.int64(), "postings at that seniority (passes 1 and 2 succeeded)"),
    ("aspect", pa.string(), "years_experience | education | top_skill"),
    ("item", pa.string(), "statistic (known, p25, median, p75, mean), education level or skill"),
    ("postings_with", pa.int64(), "postings with that education level or skill"),
    ("share", pa.float64(), "postings_with / postings"),
    ("value", pa.float64(), "years for years_experience; rank (1 = most asked) for top_skill"),
)

SCHEMAS: dict[str, pa.Schema] = {
    "skills_demand": SKILLS_DEMAND, "salary_benchmarks": SALARY_BENCHMARKS,
    "market_signals": MARKET_SIGNALS, "career_pathways": CAREER_PATHWAYS,
}
