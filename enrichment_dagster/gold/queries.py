"""The four Gold tables, aggregated with DuckDB over the silver_ai columns they need.

Why DuckDB: the aggregations (distinct postings per skill, exact quantiles, grouping sets,
shares with their own denominators) read as SQL a reviewer can check against Athena, and
DuckDB runs them in process over Arrow with no copy and no server. The SQL avoids DuckDB-only
syntax where Athena has an equivalent (``row_number() OVER``, ``GROUPING SETS``, ``CASE``,
``count(DISTINCT …)``); the exceptions are ``quantile_cont`` (Athena: ``approx_percentile``),
``json_extract_string`` (Athena: ``json_extract_scalar``) and ``unnest`` of a list column
(Athena: ``CROSS JOIN UNNEST``).

Rules shared by every table:

* **One record per posting**: within the days read, the latest record of each
  ``job_posting_id`` (by day, then hour) stands for it; older copies are left out as
  ``duplicate (older record)``.
* **Only records whose pass succeeded**: a figure built on a pass's columns counts only
  records where that pass succeeded; the others are left out and counted by reason
  (``pass1 failed: <error class>``), never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import duckdb
import pyarrow as pa
import yaml

from enrichment_dagster.gold import schemas
from enrichment_dagster.gold.load import load_silver_ai
from enrichment_dagster.storage.filesystem import StorageRoot
from enrichment_dagster.storage.parquet import conform_to_schema

WINDOWS: tuple[int, ...] = (1, 7, 28)
#: Salary cells with fewer postings than this are shown suppressed (values null).
MIN_CELL_POSTINGS = 3
#: Hours a year of full-time work: hourly pay × 2,080 = annual pay.
HOURS_PER_YEAR = 2080
RED_FLAG_THRESHOLD = 0.5
TOP_SKILLS = 5

SKILL_COLUMNS = ("ext_must_have_hard_skills", "ext_nice_to_have_hard_skills",
                 "ext_must_have_soft_skills", "ext_nice_to_have_soft_skills")
SALARY_COLUMNS = ("ext_salary_disclosed", "ext_salary_min", "ext_salary_max",
                  "ext_salary_currency", "ext_salary_period", "inf_seniority_level",
                  "ext_work_model_stated")
MARKET_COLUMNS = ("ext_work_model_stated", "ext_visa_sponsorship_stated",
                  "ext_security_clearance_stated", "ext_salary_disclosed",
                  "ext_llm_genai_mentioned", "anl_overall_red_flag_score",
                  "avg_confidence_pass2", "avg_confidence_pass3")
CAREER_COLUMNS = ("inf_seniority_level", "ext_years_experience_min", "ext_education_level",
                  "ext_must_have_hard_skills", "ext_must_have_soft_skills")


@dataclass
class Coverage:
    """How many records were read, used and left out (by reason) for one figure set."""

    records: int = 0
    used: int = 0
    left_out: dict[str, int] = field(default_factory=dict)
    partitions: int = 0

    def metadata(self) -> dict[str, Any]:
        return {"records_read": self.records, "records_used": self.used,
                "records_left_out": sum(self.left_out.values()),
                "silver_ai_partitions": self.partitions}


@dataclass
class GoldResult:
    table: pa.Table
    coverage: Coverage
    figures: dict[str, float | int]


@cache
def skill_families() -> dict[str, str]:
    """Canonical skill (lower-cased) → family, from the skills catalog the project ships."""
    raw = resources.files("enrichment_dagster.rules").joinpath("skills_catalog.yaml")
    data = yaml.safe_load(raw.read_text(encoding="utf-8"))
    return {skill.lower(): family for family, spec in data["families"].items()
            for skill in (spec.get("skills") or {})}


# -- the shared first step: one record per posting, then the records a pass allows ----------

_LATEST_SQL = """
CREATE OR REPLACE TEMP VIEW latest AS
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY job_posting_id ORDER BY day DESC, hour DESC) AS rn
  FROM silver_ai
  WHERE day BETWEEN DATE '{first}' AND DATE '{last}'
) AS ranked
WHERE rn = 1
"""

_LEFT_OUT_SQL = """
SELECT CASE
         {cases}
       END AS reason,
       count(*) AS records
FROM latest
GROUP BY 1
"""


def _connect(table: pa.Table) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("silver_ai", table)
    families = skill_families()
    con.register("skill_family", pa.table({"skill_key": list(families),
                                           "family": list(families.values())}))
    return con


def _usable(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date,
            passes: tuple[int, ...], view: str = "usable") -> Coverage:
    """Create ``view``: the latest record per posting whose ``passes`` all succeeded."""
    con.execute(_LATEST_SQL.format(first=first.isoformat(), last=last.isoformat()))
    condition = " AND ".join(f"coalesce(pass{n}_success, false)" for n in passes)
    con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT * FROM latest WHERE {condition}")
    total = con.execute(
        "SELECT count(*) FROM silver_ai WHERE day BETWEEN ? AND ?", [first, last]).fetchall()[0][0]
    cases = "\n         ".join(
        f"WHEN NOT coalesce(pass{n}_success, false) THEN 'pass{n} failed: ' || "
        f"coalesce(json_extract_string(enrichment_errors, '$.pass{n}.error_class'), 'unknown')"
        for n in passes)
    left_out = {reason: count for reason, count in
                con.execute(_LEFT_OUT_SQL.format(cases=cases)).fetchall() if reason is not None}
    latest = con.execute("SELECT count(*) FROM latest").fetchall()[0][0]
    if total > latest:
        left_out["duplicate (older record)"] = total - latest
    used = con.execute(f"SELECT count(*) FROM {view}").fetchall()[0][0]
    return Coverage(records=total, used=used, left_out=dict(sorted(left_out.items())))


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    return con.sql(sql).to_arrow_table()


# -- skills_demand --------------------------------------------------------------------------

_SKILL_COUNTS_SQL = """
WITH mentions AS (
  SELECT job_posting_id, trim(skill) AS skill, 'required' AS how
  FROM usable, unnest(list_concat(coalesce(ext_must_have_hard_skills, []),
                                  coalesce(ext_must_have_soft_skills, []))) AS t(skill)
  UNION ALL
  SELECT job_posting_id, trim(skill) AS skill, 'nice_to_have' AS how
  FROM usable, unnest(list_concat(coalesce(ext_nice_to_have_hard_skills, []),
                                  coalesce(ext_nice_to_have_soft_skills, []))) AS t(skill)
),
named AS (
  SELECT m.job_posting_id, m.skill, m.how, coalesce(f.family, 'other') AS family
  FROM mentions AS m LEFT JOIN skill_family AS f ON lower(m.skill) = f.skill_key
  WHERE m.skill <> ''
)
SELECT 'skill' AS kind, skill AS name, min(family) AS family,
       count(DISTINCT job_posting_id) FILTER (WHERE how = 'required') AS required,
       count(DISTINCT job_posting_id) FILTER (WHERE how = 'nice_to_have') AS nice_to_have,
       count(DISTINCT job_posting_id) AS mentioned
FROM named GROUP BY skill
UNION ALL
SELECT 'family' AS kind, family AS name, family,
       count(DISTINCT job_posting_id) FILTER (WHERE how = 'required') AS required,
       count(DISTINCT job_posting_id) FILTER (WHERE how = 'nice_to_have') AS nice_to_have,
       count(DISTINCT job_posting_id) AS mentioned
FROM named GROUP BY family
"""


def _skill_counts(con: duckdb.DuckDBPyConnection, first: dt.date, last: dt.date,
                  ) -> tuple[int, dict[tuple[str, str], tuple[str, int, int, int]], Coverage]:
    coverage = _usable(con, first, last, (1,))
    rows = con.execute(_SKILL_COUNTS_SQL).fetchall()
    return coverage.used, {(k, n): (f, r, nh, m) for k, n, f, r, nh, m in rows}, coverage


def _share(count: int | None, total: int) -> float | None:
    return round(count / total, 6) if total and count is not None else None


def skills_demand(root: StorageRoot, day: dt.date) -> GoldResult:
    """Per day and rolling 7 / 28 days ending ``day``: postings, and per skill and family the
    postings that require it, that list it as nice to have, its share, and the change in
    share against the window before."""
    first = day - dt.timedelta(days=2 * max(WINDOWS) - 1)
    loaded = load_silver_ai(root, first, day, SKILL_COLUMNS)
    con = _connect(loaded.table)
    rows: list[dict[str, Any]] = []
    coverage = Coverage()
    for window in WINDOWS:
        start = day - dt.timedelta(days=window - 1)
        prev_end = start - dt.timedelta(days=1)
        prev_start = prev_end - dt.timedelta(days=window - 1)
        postings, counts, cov = _skill_counts(con, start, day)
        prev_postings, prev_counts, _ = _skill_counts(con, prev_start, prev_end)
        if window == 1:
            coverage = cov
        for (kind, name), (family, required, nice, mentioned) in sorted(counts.items()):
            share = _share(mentioned, postings)
            prev = prev_counts.get((kind, name))
            prev_share = _share(prev[3] if prev else 0, prev_postings)
            rows.append({
                "day": day, "window_days": window, "window_start": start, "kind": kind,
                "name": name, "family": family, "postings": postings, "required": required,
                "nice_to_have": nice, "mentioned": mentioned, "share": share,
                "share_required": _share(required, postings),
                "prev_postings": prev_postings,
                "prev_mentioned": prev[3] if prev else 0,
                "prev_share": prev_share,
                "change_share": (round(share - prev_share, 6)
                                 if share is not None and prev_share is not None else None),
            })
    coverage.partitions = len([k for k in loaded.partitions if k[:10] == day.isoformat()])
    table = conform_to_schema(pa.Table.from_pylist(rows, schemas.SKILLS_DEMAND),
                              schemas.SKILLS_DEMAND)
    day_rows = [r for r in rows if r["window_days"] == 1 and r["kind"] == "skill"]
    figures: dict[str, float | int] = {
        "postings": day_rows[0]["postings"] if day_rows else coverage.used,
        "distinct_skills": len(day_rows),
    }
    return GoldResult(table, coverage, figures)


# -- salary_benchmarks ----------------------------------------------------------------------

_SALARY_SQL = f"""
WITH pay AS (
  SELECT coalesce(inf_seniority_level, 'not_mentioned') AS seniority,
         coalesce(ext_work_model_stated, 'not_mentioned') AS work_model,
         coalesce(country, 'unknown') AS country,
         us_state,
         ext_salary_currency AS currency,
         CASE WHEN ext_salary_period = 'hourly' THEN 1 ELSE 0 END AS from_hourly,
         round((ext_salary_min + coalesce(ext_salary_max, ext_salary_min)) / 2
               * CASE ext_salary_period WHEN 'yearly' THEN 1 WHEN 'monthly' THEN 12
                                        WHEN 'weekly' THEN 52 WHEN 'daily' THEN 260
                                        WHEN 'hourly' THEN {HOURS_PER_YEAR} END, 2) AS annual
  FROM usable
  WHERE ext_salary_disclosed
    AND ext_salary_min IS NOT NULL
    AND ext_salary_currency IS NOT NULL
    AND ext_salary_period IN ('yearly', 'monthly', 'weekly', 'daily', 'hourly')
),
cells AS (
  SELECT CASE WHEN grouping(work_model) = 1 THEN 'seniority'
              WHEN grouping(us_state) = 1 THEN 'country'
              ELSE 'us_state' END AS level,
         seniority, work_model, country, us_state, currency,
         count(*) AS n,
         sum(from_hourly) AS n_from_hourly,
         quantile_cont(annual, 0.25) AS p25,
         quantile_cont(annual, 0.5) AS median,
         quantile_cont(annual, 0.75) AS p75
  FROM pay
  GROUP BY GROUPING SETS ((seniority, currency),
                          (seniority, work_model, country, currency),
                          (seniority, work_model, country, us_state, currency))
)
SELECT level, seniority, work_model, country, us_state, currency, n, n_from_hourly,
       n < {MIN_CELL_POSTINGS} AS suppressed,
       CASE WHEN n >= {MIN_CELL_POSTINGS} THEN round(p25, 2) END AS p25,
       CASE WHEN n >= {MIN_CELL_POSTINGS} THEN round(median, 2) END AS median,
       CASE WHEN n >= {MIN_CELL_POSTINGS} THEN round(p75, 2) END AS p75
FROM cells
WHERE NOT (level = 'us_state' AND (country <> 'US' OR us_state IS NULL))
ORDER BY level, seniority, work_model, country, us_state, currency
"""


def salary_benchmarks(root: StorageRoot, day: dt.date) -> GoldResult:
    """Disclosed pay annualised (midpoint of min and max; hourly × 2,080, monthly × 12,
    weekly × 52, daily × 260), in the currency stated, by seniority, then seniority × work
    model × country, then × US state: n, p25, median, p75; cells with n < 3 suppressed."""
    loaded = load_silver_ai(root, day, day, SALARY_COLUMNS)
    con = _connect(loaded.table)
    coverage = _usable(con, day, day, (1, 2))
    coverage.partitions = len(loaded.partitions)
    result = _arrow(con, _SALARY_SQL)
    n = result.num_rows
    result = result.add_column(0, "day", pa.array([day] * n, pa.date32()))
    table = conform_to_schema(result, schemas.SALARY_BENCHMARKS)
    rows = table.to_pylist()
    disclosed = sum(r["n"] for r in rows if r["level"] == "seniority")
    figures: dict[str, float | int] = {
        "salaries_disclosed": disclosed,
        "from_hourly": sum(r["n_from_hourly"] for r in rows if r["level"] == "seniority"),
        "cells": n, "cells_suppressed": sum(1 for r in rows if r["suppressed"]),
        "currencies": len({r["currency"] for r in rows}),
    }
    usd = [r for r in rows if r["level"] == "seniority" and r["currency"] == "USD"
           and r["seniority"] == "senior" and r["median"] is not None]
    if usd:
        figures["median_usd_senior"] = usd[0]["median"]
    return GoldResult(table, coverage, figures)


# -- market_signals -------------------------------------------------------------------------

_MARKET_SQL = f"""
SELECT 'work_model' AS signal, coalesce(ext_work_model_stated, 'not_mentioned') AS value,
       count(*) AS postings, 'pass1' AS basis_pass, CAST(NULL AS DOUBLE) AS mean
FROM usable1 GROUP BY 2
UNION ALL
SELECT 'visa_sponsorship',
       CASE ext_visa_sponsorship_stated WHEN 'will_sponsor' THEN 'yes'
            WHEN 'will_not_sponsor' THEN 'no' WHEN 'must_be_authorized' THEN 'no'
            ELSE 'not_mentioned' END,
       count(*), 'pass1', NULL
FROM usable1 GROUP BY 2
UNION ALL
SELECT 'security_clearance', coalesce(ext_security_clearance_stated, 'not_mentioned'),
       count(*), 'pass1', NULL
FROM usable1 GROUP BY 2
UNION ALL
SELECT 'salary_disclosed', CASE WHEN ext_salary_disclosed THEN 'yes' ELSE 'no' END,
       count(*), 'pass1', NULL
FROM usable1 GROUP BY 2
UNION ALL
SELECT 'ai_genai_mentioned', CASE WHEN ext_llm_genai_mentioned THEN 'yes' ELSE 'no' END,
       count(*), 'pass1', NULL
FROM usable1 GROUP BY 2
UNION ALL
SELECT 'red_flags',
       CASE WHEN anl_overall_red_flag_score >= {RED_FLAG_THRESHOLD} THEN 'high'
            WHEN anl_overall_red_flag_score IS NULL THEN 'unknown' ELSE 'low' END,
       count(*), 'pass3', NULL
FROM usable3 GROUP BY 2
UNION ALL
SELECT 'red_flag_score', 'mean', count(anl_overall_red_flag_score), 'pass3',
       avg(anl_overall_red_flag_score)
FROM usable3
UNION ALL
SELECT 'mean_confidence', 'pass2', count(avg_confidence_pass2), 'pass2', avg(avg_confidence_pass2)
FROM usable2
UNION ALL
SELECT 'mean_confidence', 'pass3', count(avg_confidence_pass3), 'pass3', avg(avg_confidence_pass3)
FROM usable3
"""


def market_signals(root: StorageRoot, day: dt.date) -> GoldResult:
    """Shares of the day's postings per signal, each over the records whose pass succeeded
    (``basis``): work model, visa sponsorship (yes / no / not mentioned; "must be authorized"
    counts as no), security clearance, salary disclosure, AI/GenAI, red flags, confidence."""
    loaded = load_silver_ai(root, day, day, MARKET_COLUMNS)
    con = _connect(loaded.table)
    covs = {n: _usable(con, day, day, (n,), view=f"usable{n}") for n in (1, 2, 3)}
    result = _arrow(con, _MARKET_SQL)
    basis = {f"pass{n}": covs[n].used for n in (1, 2, 3)}
    rows = []
    for row in result.to_pylist():
        base = basis[row["basis_pass"]]
        is_mean = row["mean"] is not None or row["signal"] in ("mean_confidence", "red_flag_score")
        rows.append({"day": day, **row, "basis": base,
                     "share": None if is_mean else _share(row["postings"], base),
                     "mean": round(row["mean"], 6) if row["mean"] is not None else None})
    rows.sort(key=lambda r: (r["signal"], r["value"]))
    table = conform_to_schema(pa.Table.from_pylist(rows, schemas.MARKET_SIGNALS),
                              schemas.MARKET_SIGNALS)
    coverage = Coverage(records=covs[1].records, used=covs[1].used,
                        left_out={k: v for c in covs.values() for k, v in c.left_out.items()},
                        partitions=len(loaded.partitions))
    figures: dict[str, float | int] = {"postings": covs[1].used}
    for r in rows:
        if r["share"] is not None and (r["signal"], r["value"]) in _HEADLINE:
            figures[_HEADLINE[(r["signal"], r["value"])]] = r["share"]
        if r["signal"] == "mean_confidence" and r["mean"] is not None:
            figures[f"mean_confidence_{r['value']}"] = r["mean"]
    return GoldResult(table, coverage, figures)


_HEADLINE = {("work_model", "remote"): "remote_share", ("work_model", "hybrid"): "hybrid_share",
             ("work_model", "onsite"): "onsite_share",
             ("visa_sponsorship", "yes"): "visa_sponsorship_yes_share",
             ("salary_disclosed", "yes"): "salary_disclosed_share",
             ("ai_genai_mentioned", "yes"): "ai_genai_share",
             ("red_flags", "high"): "red_flags_high_share"}


# -- career_pathways ------------------------------------------------------------------------

_CAREER_SQL = f"""
WITH base AS (
  SELECT job_posting_id, coalesce(inf_seniority_level, 'not_mentioned') AS seniority,
         ext_years_experience_min AS years, coalesce(ext_education_level, 'not_mentioned') AS education,
         list_concat(coalesce(ext_must_have_hard_skills, []),
                     coalesce(ext_must_have_soft_skills, [])) AS skills
  FROM usable
),
totals AS (SELECT seniority, count(*) AS postings FROM base GROUP BY seniority),
years AS (
  SELECT seniority, 'years_experience' AS aspect, stat AS item, NULL AS postings_with, value
  FROM (
    SELECT seniority, count(years) AS known, quantile_cont(years, 0.25) AS p25,
           quantile_cont(years, 0.5) AS median, quantile_cont(years, 0.75) AS p75,
           avg(years) AS mean
    FROM base GROUP BY seniority
  ) AS y
  CROSS JOIN LATERAL (VALUES ('known', CAST(known AS DOUBLE)), ('p25', p25), ('median', median),
                             ('p75', p75), ('mean', mean)) AS v(stat, value)
),
education AS (
  SELECT seniority, 'education' AS aspect, education AS item, count(*) AS postings_with,
         CAST(NULL AS DOUBLE) AS value
  FROM base GROUP BY seniority, education
),
skills AS (
  SELECT seniority, trim(skill) AS skill, count(DISTINCT job_posting_id) AS postings_with
  FROM base, unnest(skills) AS t(skill)
  WHERE trim(skill) <> ''
  GROUP BY seniority, trim(skill)
),
ranked AS (
  SELECT seniority, 'top_skill' AS aspect, skill AS item, postings_with,
         CAST(row_number() OVER (PARTITION BY seniority ORDER BY postings_with DESC, skill)
              AS DOUBLE) AS value
  FROM skills
)
SELECT t.seniority, t.postings, a.aspect, a.item, a.postings_with, a.value
FROM totals AS t
JOIN (SELECT * FROM years UNION ALL SELECT * FROM education
      UNION ALL SELECT * FROM ranked WHERE value <= {TOP_SKILLS}) AS a
  ON a.seniority = t.seniority
ORDER BY t.seniority, a.aspect, a.value, a.item
"""


def career_pathways(root: StorageRoot, day: dt.date) -> GoldResult:
    """By seniority: years of experience asked (known, p25, median, p75, mean), education
    levels (postings and share) and the top required skills (rank in ``value``)."""
    loaded = load_silver_ai(root, day, day, CAREER_COLUMNS)
    con = _connect(loaded.table)
    coverage = _usable(con, day, day, (1, 2))
    coverage.partitions = len(loaded.partitions)
    rows = []
    for row in _arrow(con, _CAREER_SQL).to_pylist():
        share = _share(row["postings_with"], row["postings"]) if row["aspect"] != "years_experience" else None
        value = row["value"]
        rows.append({"day": day, **row, "share": share,
                     "value": round(value, 4) if value is not None else None})
    table = conform_to_schema(pa.Table.from_pylist(rows, schemas.CAREER_PATHWAYS),
                              schemas.CAREER_PATHWAYS)
    figures: dict[str, float | int] = {"postings": coverage.used,
                                       "seniority_levels": len({r["seniority"] for r in rows})}
    for r in rows:
        if r["aspect"] == "years_experience" and r["item"] == "median" and r["value"] is not None:
            figures[f"median_years_{r['seniority']}"] = r["value"]
    return GoldResult(table, coverage, figures)


BUILDERS = {"skills_demand": skills_demand, "salary_benchmarks": salary_benchmarks,
            "market_signals": market_signals, "career_pathways": career_pathways}
