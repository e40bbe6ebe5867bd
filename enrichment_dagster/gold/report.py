"""Charts of one Gold partition (for Dagster metadata) and the offline HTML report.

The report is one self-contained page: inline SVG charts, inline CSS, no script, no font
or image from the network, so it opens from a laptop, an e-mail or an S3 download alike.
It reads only the Gold partitions, never silver_ai.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from html import escape
from typing import Any

import pyarrow as pa

from enrichment_dagster.gold import charts
from enrichment_dagster.gold.queries import MIN_CELL_POSTINGS
from enrichment_dagster.gold.store import read_gold
from enrichment_dagster.storage.filesystem import StorageRoot

TOP_SKILLS_CHART = 12
_SENIORITY_ORDER = ("intern", "entry", "associate", "junior", "mid", "senior", "staff",
                    "principal", "distinguished", "not_mentioned")


def _seniority_key(name: str) -> int:
    return _SENIORITY_ORDER.index(name) if name in _SENIORITY_ORDER else len(_SENIORITY_ORDER)


def _pct(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


# -- one chart per Gold table (one day) -----------------------------------------------------


def skills_chart(table: pa.Table, day: dt.date) -> str:
    rows = [r for r in table.to_pylist() if r["window_days"] == 1 and r["kind"] == "skill"]
    rows.sort(key=lambda r: (-r["mentioned"], r["name"]))
    rows = rows[:TOP_SKILLS_CHART]
    postings = rows[0]["postings"] if rows else 0
    return charts.bar_chart(f"Skills demand {day} (top {len(rows)}, {postings} postings)",
                            [r["name"] for r in rows], [_pct(r["share"]) for r in rows],
                            x_label="share of postings that require or list the skill (%)",
                            unit="%")


def main_currency(rows: list[dict[str, Any]]) -> str | None:
    """The currency with the most disclosed salaries (ties: alphabetical)."""
    counts = Counter()
    for r in rows:
        if r["level"] == "seniority":
            counts[r["currency"]] += r["n"]
    return min(counts, key=lambda c: (-counts[c], c)) if counts else None


def salary_chart(table: pa.Table, day: dt.date) -> str:
    rows = table.to_pylist()
    currency = main_currency(rows)
    cells = sorted((r for r in rows if r["level"] == "seniority" and r["currency"] == currency),
                   key=lambda r: _seniority_key(r["seniority"]))
    labels = [f"{r['seniority']} (n={r['n']})" for r in cells]
    return charts.bar_chart(f"Median annual salary by seniority, {currency or '-'}, {day}",
                            labels, [r["median"] for r in cells],
                            x_label=f"{currency or ''} per year, median "
                                    f"(n/a: fewer than {MIN_CELL_POSTINGS}, suppressed)")


_SIGNAL_BARS = (("work_model", "remote"), ("work_model", "hybrid"), ("work_model", "onsite"),
                ("work_model", "not_mentioned"), ("visa_sponsorship", "yes"),
                ("visa_sponsorship", "no"), ("visa_sponsorship", "not_mentioned"),
                ("security_clearance", "required"), ("salary_disclosed", "yes"),
                ("ai_genai_mentioned", "yes"), ("red_flags", "high"))


def market_chart(table: pa.Table, day: dt.date) -> str:
    shares = {(r["signal"], r["value"]): r["share"] for r in table.to_pylist()}
    labels = [f"{signal.replace('_', ' ')}: {value.replace('_', ' ')}"
              for signal, value in _SIGNAL_BARS]
    values = [_pct(shares.get(key, 0.0) if shares else None) for key in _SIGNAL_BARS]
    return charts.bar_chart(f"Market signals {day}", labels, values,
                            x_label="share of postings (%)", unit="%")


def career_chart(table: pa.Table, day: dt.date) -> str:
    rows = [r for r in table.to_pylist()
            if r["aspect"] == "years_experience" and r["item"] == "median"]
    rows.sort(key=lambda r: _seniority_key(r["seniority"]))
    return charts.bar_chart(f"Years of experience asked by seniority, {day}",
                            [f"{r['seniority']} (n={r['postings']})" for r in rows],
                            [r["value"] for r in rows],
                            x_label="years of experience asked (median of the minimum)")


CHARTS = {"skills_demand": skills_chart, "salary_benchmarks": salary_chart,
          "market_signals": market_chart, "career_pathways": career_chart}


# -- the HTML report ------------------------------------------------------------------------

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#1a202c;max-width:1320px}
h1{font-size:22px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #cbd5e0}
.grid{display:flex;flex-wrap:wrap;gap:16px} figure{margin:0;border:1px solid #e2e8f0;padding:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0} td,th{border:1px solid #cbd5e0;
padding:3px 6px;text-align:left} th{background:#edf2f7} td.num{text-align:right}
.note{color:#4a5568;font-size:12px}
"""


def _table_html(headers: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        if v is None:
            return "<td class=num>–</td>"
        if isinstance(v, bool):
            return f"<td>{'yes' if v else 'no'}</td>"
        if isinstance(v, int | float):
            return f"<td class=num>{v:,}</td>" if isinstance(v, int) else f"<td class=num>{v:,.2f}</td>"
        return f"<td>{escape(str(v))}</td>"
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(svg: str) -> str:
    return f"<figure>{svg}</figure>"


def load_range(root: StorageRoot, asset: str, first: dt.date, last: dt.date
               ) -> dict[dt.date, pa.Table]:
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    found = {day: read_gold(root, asset, day) for day in days}
    return {day: table for day, table in found.items() if table is not None}


def build_report(root: StorageRoot, first: dt.date, last: dt.date) -> str:
    """The report page for the days ``first``..``last`` from the Gold partitions present."""
    skills = load_range(root, "skills_demand", first, last)
    salary = load_range(root, "salary_benchmarks", first, last)
    market = load_range(root, "market_signals", first, last)
    career = load_range(root, "career_pathways", first, last)
    parts = [f"<h1>Data-engineering job market, {first} to {last}</h1>",
             f"<p class=note>From the Gold tables under {escape(root.uri('gold'))}: "
             f"{len(market)} day(s) with data. Only records whose pass succeeded are counted; "
             f"salary cells with fewer than {MIN_CELL_POSTINGS} postings are suppressed; "
             "currencies are shown as stated, never converted.</p>"]

    # Skills demand over the range (daily rows summed: a posting seen on two days counts twice).
    totals: dict[str, list[Any]] = defaultdict(lambda: ["", 0, 0, 0])
    postings = 0
    for table in skills.values():
        day_rows = [r for r in table.to_pylist() if r["window_days"] == 1 and r["kind"] == "skill"]
        postings += day_rows[0]["postings"] if day_rows else 0
        for r in day_rows:
            t = totals[r["name"]]
            t[0] = r["family"]
            t[1] += r["required"]
            t[2] += r["nice_to_have"]
            t[3] += r["mentioned"]
    top = sorted(totals.items(), key=lambda kv: (-kv[1][3], kv[0]))[:TOP_SKILLS_CHART]
    parts.append("<h2>Skills demand</h2><div class=grid>")
    parts.append(_figure(charts.bar_chart(
        f"Skills demand {first} to {last} (top {len(top)}, {postings} postings)",
        [name for name, _ in top], [_pct(t[3] / postings) if postings else None for _, t in top],
        x_label="share of postings that require or list the skill (%)", unit="%")))
    parts.append(_table_html(["skill", "family", "required", "nice to have", "share %"],
                             [[n, t[0], t[1], t[2], _pct(t[3] / postings) if postings else None]
                              for n, t in top]) + "</div>")

    # Salary by seniority: the last day of the range that has data (medians do not add up).
    parts.append("<h2>Salary by seniority</h2><div class=grid>")
    if salary:
        day = max(salary)
        rows = salary[day].to_pylist()
        parts.append(_figure(salary_chart(salary[day], day)))
        cells = sorted((r for r in rows if r["level"] == "seniority"),
                       key=lambda r: (r["currency"], _seniority_key(r["seniority"])))
        parts.append(_table_html(
            ["seniority", "currency", "n", "from hourly", "suppressed", "p25", "median", "p75"],
            [[r["seniority"], r["currency"], r["n"], r["n_from_hourly"], r["suppressed"],
              r["p25"], r["median"], r["p75"]] for r in cells]))
    else:
        parts.append("<p>No salary_benchmarks partition in the range.</p>")
    parts.append("</div>")

    # Remote share and visa sponsorship over time.
    days = sorted(market)
    labels = [d.isoformat() for d in days]

    def series(signal: str, values: tuple[str, ...]) -> dict[str, list[float | None]]:
        out: dict[str, list[float | None]] = {v: [] for v in values}
        for d in days:
            shares = {r["value"]: r["share"] for r in market[d].to_pylist() if r["signal"] == signal}
            for v in values:
                out[v].append(_pct(shares.get(v, 0.0)))
        return out

    work = series("work_model", ("remote", "hybrid", "onsite", "not_mentioned"))
    visa = series("visa_sponsorship", ("yes", "no", "not_mentioned"))
    parts.append("<h2>Remote share over time</h2><div class=grid>")
    parts.append(_figure(charts.line_chart("Work model share per day", labels, work,
                                           y_label="share of postings (%)", unit="%")))
    parts.append(_table_html(["day", *work], [[lab, *(work[k][i] for k in work)]
                                              for i, lab in enumerate(labels)]) + "</div>")
    parts.append("<h2>Visa sponsorship share</h2><div class=grid>")
    parts.append(_figure(charts.line_chart("Visa sponsorship stated, share per day", labels, visa,
                                           y_label="share of postings (%)", unit="%")))
    parts.append(_table_html(["day", *visa], [[lab, *(visa[k][i] for k in visa)]
                                              for i, lab in enumerate(labels)]) + "</div>")

    if market:
        day = max(market)
        parts.append(f"<h2>Market signals, {day}</h2><div class=grid>")
        parts.append(_figure(market_chart(market[day], day)))
        parts.append(_table_html(["signal", "value", "postings", "basis", "share %", "mean"],
                                 [[r["signal"], r["value"], r["postings"], r["basis"],
                                   _pct(r["share"]), r["mean"]] for r in market[day].to_pylist()]))
        parts.append("</div>")
    if career:
        day = max(career)
        rows = career[day].to_pylist()
        parts.append(f"<h2>Career pathways, {day}</h2><div class=grid>")
        parts.append(_figure(career_chart(career[day], day)))
        parts.append(_table_html(["seniority", "postings", "aspect", "item", "postings with",
                                  "share %", "value"],
                                 [[r["seniority"], r["postings"], r["aspect"], r["item"],
                                   r["postings_with"], _pct(r["share"]), r["value"]]
                                  for r in sorted(rows, key=lambda r: _seniority_key(r["seniority"]))
                                  if r["aspect"] != "years_experience" or r["item"] == "median"]))
        parts.append("</div>")
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            f"<title>Job market report {first} to {last}</title><style>{_CSS}</style></head>"
            "<body>" + "".join(parts) + "</body></html>")
