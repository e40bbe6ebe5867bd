"""Pass 3 by rules: only what a rule can honestly support.

Supported: maturity *signals* from the tooling and practices named (and a maturity level
only when several signals agree), the AI/ML integration level and the ML tools named,
red-flag cues written in the text (on-call, overtime, several roles in one), reporting
lines and team size when stated, culture and practice signals named, hiring urgency,
competition from Silver's applicant count, company stage and funding when stated
("publicly traded", "Series B", "Fortune 500").

Not supported, left ``not_mentioned``/null: culture and work-life scores, innovation level,
team growth beyond explicit words, free-text summary, recommendation scores. The summary
carries only categories a rule backs (``transparent_salary`` when pay is disclosed,
``no_visa_sponsorship`` when refused, ...); its free-text fields stay empty.
"""

from __future__ import annotations

import re
from typing import Any

from enrichment_dagster.contracts.passes import Pass1Output, Pass2Output
from enrichment_dagster.contracts.silver import SilverRecord
from enrichment_dagster.rules.claims import absent, claim
from enrichment_dagster.rules.pass1 import Facts, analyze, extraction
from enrichment_dagster.rules.pass2 import inference
from enrichment_dagster.rules.skills import Hit
from enrichment_dagster.rules.text import Doc, Rule

# ------------------------------------------------------------------ maturity

_SIGNALS: dict[str, frozenset[str]] = {
    "modern_data_stack_adoption": frozenset(
        {
            "dbt",
            "Snowflake",
            "Databricks",
            "Airflow",
            "Dagster",
            "Prefect",
            "Fivetran",
            "Airbyte",
            "Lakehouse",
            "Delta Lake",
            "Iceberg",
            "BigQuery",
            "Looker",
        }
    ),
    "cicd_practices": frozenset(
        {
            "CI/CD",
            "GitHub Actions",
            "GitLab CI",
            "Jenkins",
            "CircleCI",
            "Argo CD",
            "Terraform",
            "OpenTofu",
            "Infrastructure as Code",
            "Azure DevOps",
        }
    ),
    "data_quality_testing": frozenset(
        {"Data Quality", "Great Expectations", "Deequ", "Soda", "Monte Carlo Data"}
    ),
    "monitoring_observability": frozenset(
        {
            "Observability",
            "Grafana",
            "Prometheus",
            "Datadog",
            "OpenTelemetry",
            "CloudWatch",
            "Monitoring",
        }
    ),
    "data_governance": frozenset(
        {
            "Data Governance",
            "Unity Catalog",
            "Collibra",
            "Alation",
            "Microsoft Purview",
            "Data Catalog",
            "Data Lineage",
            "MDM",
            "Atlan",
            "DataHub",
        }
    ),
    "data_mesh_patterns": frozenset({"Data Mesh"}),
    "mlops_practices": frozenset(
        {"MLOps", "MLflow", "Kubeflow", "SageMaker", "Vertex AI", "Azure ML", "Feast", "Tecton"}
    ),
    "cloud_native": frozenset(
        {
            "Serverless",
            "Lambda",
            "Kubernetes",
            "Azure Functions",
            "Cloud Functions",
            "Cloud Run",
            "Step Functions",
            "EMR Serverless",
            "Fargate",
        }
    ),
}
_MATURITY_LEVELS = {2: "developing", 3: "defined", 4: "managed", 5: "optimizing"}


def _maturity(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    found: list[tuple[str, Hit]] = []
    for signal, names in _SIGNALS.items():
        hit = next((h for h in facts.skills.hits if h.canonical in names), None)
        if hit is not None:
            found.append((signal, hit))
    found.sort(key=lambda item: item[1].start)
    if not found:
        return {
            "data_maturity_score": absent(None),
            "data_maturity_level": absent(),
            "maturity_signals": absent([]),
        }
    first = found[0][1]
    evidence = doc.quote(first.start, first.end, 60, 100)
    signals = claim([s for s, _ in found], 0.8, evidence, "explicit")
    if len(found) < 3:
        return {
            "data_maturity_score": absent(None),
            "data_maturity_level": absent(),
            "maturity_signals": signals,
        }
    score = 3 if len(found) <= 4 else 4 if len(found) <= 6 else 5
    return {
        "data_maturity_score": claim(score, 0.5, evidence, "inferred"),
        "data_maturity_level": claim(_MATURITY_LEVELS[score], 0.5, evidence, "inferred"),
        "maturity_signals": signals,
    }


# ------------------------------------------------------------------ red flags

_ON_CALL = Rule(
    r"\bon[- ]call\b|\b24\s*/\s*7\b|\bpager\s*duty\b|\bafter[- ]hours\s+support\b|\bastreintes?\b",
    "call",
    "24",
    "pager",
    "after",
    "astreinte",
)
_OVERTIME = Rule(
    r"\bovertime\b|\bweekends?\s+(?:work|support|as\s+needed)\b|\bextended\s+hours\b|\blong\s+hours\b|\bwork\s+outside\s+(?:of\s+)?(?:normal|business)\s+hours\b",
    "overtime",
    "weekend",
    "extended",
    "long hours",
    "outside",
)
_WEARING_HATS = Rule(
    r"\bwear(?:ing)?\s+(?:many|multiple)\s+hats\b|\bjack[- ]of[- ]all[- ]trades\b", "hats", "jack"
)


def _red_flags(facts: Facts, p2: Any) -> dict[str, Any]:
    doc = facts.doc
    out: dict[str, Any] = {
        "scope_creep_score": absent(None),
        "overtime_risk_score": absent(None),
        "role_clarity": absent(),
        "overall_red_flag_score": absent(None),
    }
    scores: list[float] = []
    on_call, overtime = _ON_CALL.search(doc), _OVERTIME.search(doc)
    if on_call is not None or overtime is not None:
        match = on_call or overtime
        assert match is not None
        score = 0.7 if on_call is not None else 0.6
        out["overtime_risk_score"] = claim(
            score, 0.7, doc.quote(match.start(), match.end(), 60, 80), "explicit"
        )
        scores.append(score)
    scope = (
        p2.requirements_classification.scope_definition
        if p2 and p2.requirements_classification
        else None
    )
    hats = _WEARING_HATS.search(doc)
    if scope is not None and scope.value == "multi_role":
        # A pass-2 quote is reused only when it really is a slice of this posting.
        evidence = scope.evidence if scope.evidence and scope.evidence in doc.text else None
        out["scope_creep_score"] = claim(0.6, 0.6, evidence, "pass2_derived")
        out["role_clarity"] = claim("multi_role", 0.6, evidence, "pass2_derived")
        scores.append(0.6)
    elif hats is not None:
        out["scope_creep_score"] = claim(
            0.4, 0.55, doc.quote(hats.start(), hats.end(), 60, 60), "explicit"
        )
        scores.append(0.4)
    if scores:
        out["overall_red_flag_score"] = claim(
            round(sum(scores) / len(scores), 2), 0.5, None, "combined"
        )
    return out


# ------------------------------------------------------------------ stakeholders

_REPORTS = Rule(
    r"\b(?:report(?:s|ing)?\s+(?:directly\s+)?(?:in)?to|rattach[ée]\.?e?\s+(?:au|à\s+la|à\s+l['’]|aux)|reporta\s+a)\s+(?:the\s+|our\s+|a\s+|an\s+)?(?P<whom>[\w/&' -]{3,60})",
    "report",
    "rattach",
)
_WHOM = [
    (
        "reports_to_cto",
        "director_plus",
        re.compile(
            r"\b(?:cto|chief\s+(?:technology|data|information)\s+officer|cdo|cio|vp|vice\s+president)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "reports_to_director_data",
        "director_plus",
        re.compile(r"\b(?:director|head\s+of|directeur|directrice|responsable)\b", re.IGNORECASE),
    ),
    (
        "reports_to_tech_lead",
        "tech_lead",
        re.compile(r"\b(?:tech(?:nical)?\s+lead|team\s+lead|lead\s+engineer)\b", re.IGNORECASE),
    ),
    ("reports_to_manager", "manager", re.compile(r"\bmanager\b", re.IGNORECASE)),
]
_TEAM_SIZE = Rule(
    r"\bteam\s+of\s+(?P<n>\d{1,3})\b|\b(?:team|[ée]quipe|equipo)\b[^.;]{0,40}?\b(?:compos[ée]e?|made\s+up)\s+(?:de|of)\s+(?P<m>\d{1,3})\b|\b(?P<k>\d{1,3})[- ](?:person|people|member|strong)\s+team\b",
    "team",
    "compos",
    "made up",
)
_DE_COUNT = Rule(r"\b(?P<n>\d{1,3})\s+data\s+engineers\b", "data engineers")
_GROWTH = Rule(
    r"\b(?:newly\s+(?:formed|created)|rapidly\s+growing|fast[- ]growing|growing\s+(?:our|the)\s+team|expanding\s+(?:our|the)?\s*teams?|scale\s+the\s+team|establishing\s+a\s+team|new\s+team)\b",
    "newly",
    "rapidly",
    "fast",
    "growing",
    "expanding",
    "scale the team",
    "establishing",
    "new team",
)
_CROSS = Rule(
    r"\bcross[- ]?functional\b|\bmulti[- ]?disciplinary\b|\bpluridisciplinaire\b",
    "cross",
    "multi",
    "pluridisciplinaire",
)


def _team_size_bucket(n: int) -> str:
    if n <= 1:
        return "solo"
    if n <= 5:
        return "small_2_5"
    if n <= 15:
        return "medium_6_15"
    if n <= 50:
        return "large_16_50"
    return "very_large_50_plus"


def _stakeholders(facts: Facts) -> tuple[dict[str, Any], int | None, tuple[int, int] | None]:
    doc = facts.doc
    out: dict[str, Any] = {
        "reporting_structure_clarity": absent(),
        "manager_level_inferred": absent(),
        "team_growth_velocity": absent(),
        "team_composition": absent(None),
        "reporting_structure": absent(),
        "cross_functional_embedded": absent(None),
    }
    reports = _REPORTS.search(doc)
    if reports is not None:
        quote = doc.quote(reports.start(), reports.end(), 20, 40)
        whom = reports.group("whom")
        matched = next(((s, m) for s, m, p in _WHOM if p.search(whom)), None)
        if matched is not None:
            out["reporting_structure"] = claim(matched[0], 0.8, quote, "explicit")
            out["manager_level_inferred"] = claim(matched[1], 0.7, quote, "explicit")
            out["reporting_structure_clarity"] = claim("clear", 0.75, quote, "explicit")
        else:
            out["reporting_structure_clarity"] = claim("mentioned", 0.6, quote, "explicit")
    size = _TEAM_SIZE.search(doc)
    de = _DE_COUNT.search(doc)
    team_n: int | None = None
    size_span: tuple[int, int] | None = None
    if size is not None or de is not None:
        composition: dict[str, Any] = {"team_size": None, "de_count": None, "seniority_mix": None}
        evidence_match = size or de
        assert evidence_match is not None
        if size is not None:
            raw = size.group("n") or size.group("m") or size.group("k")
            composition["team_size"] = raw
            team_n, size_span = int(raw), (size.start(), size.end())
        if de is not None:
            composition["de_count"] = de.group("n")
        out["team_composition"] = claim(
            composition,
            0.8,
            doc.quote(evidence_match.start(), evidence_match.end(), 60, 60),
            "explicit",
        )
    growth = _GROWTH.search(doc)
    if growth is not None:
        out["team_growth_velocity"] = claim(
            "rapid_expansion"
            if re.search(r"rapid|fast", growth.group(0), re.IGNORECASE)
            else "steady_growth",
            0.6,
            doc.quote(growth.start(), growth.end(), 60, 80),
            "explicit",
        )
    cross = _CROSS.search(doc)
    if cross is not None:
        out["cross_functional_embedded"] = claim(
            True, 0.65, doc.quote(cross.start(), cross.end(), 60, 80), "explicit"
        )
    return out, team_n, size_span


# ------------------------------------------------------------------ culture

_CULTURE = [
    (
        "open_source",
        Rule(
            r"\bopen[- ]source\s+(?:contributions?|projects?|solutions?|community|software)\b|\bcontribut\w+\s+to\s+open[- ]source\b",
            "open",
        ),
    ),
    (
        "internal_oss",
        Rule(r"\binner[- ]?source\b|\binternal\s+open[- ]source\b", "inner", "internal open"),
    ),
    ("tech_blogs", Rule(r"\b(?:tech|engineering)\s+blog\b", "blog")),
    (
        "conference_speaking",
        Rule(
            r"\b(?:speak|present)\w*\s+at\s+conferences\b|\bconference\s+(?:talks|speaking)\b|\bexternal\s+tech\s+communities\b",
            "conference",
            "external tech",
        ),
    ),
    ("hackathons", Rule(r"\bhackathons?\b", "hackathon")),
    (
        "innovation_time",
        Rule(
            r"\b(?:10|20)\s?%\s+time\b|\binnovation\s+(?:days|time|weeks?)\b", "time", "innovation"
        ),
    ),
]
_PRACTICES = [
    (
        "code_review",
        Rule(
            r"\bcode\s+reviews?\b|\bpeer\s+reviews?\b|\breviewing\s+others['’]?\s+code\b", "review"
        ),
    ),
    ("pair_programming", Rule(r"\bpair\s+programming\b|\bpairing\b", "pair")),
    ("tdd", Rule(r"\bTDD\b|\btest[- ]driven\s+development\b", "tdd", "test", flags=0)),
    (
        "ci_cd",
        Rule(
            r"\bCI\s*/\s*CD\b|\bcontinuous\s+(?:integration|delivery|deployment)\b",
            "ci",
            "continuous",
        ),
    ),
    (
        "monitoring",
        Rule(
            r"\bmonitor(?:ing)?\b|\bobservability\b|\balerting\b", "monitor", "observab", "alerting"
        ),
    ),
    (
        "incident_response",
        Rule(r"\bincident\s+(?:response|management)\b|\bon[- ]call\b", "incident", "call"),
    ),
    (
        "postmortems",
        Rule(
            r"\bpost[- ]?mortems?\b|\bblameless\b",
            "postmortem",
            "post-mortem",
            "post mortem",
            "blameless",
        ),
    ),
    (
        "design_docs",
        Rule(
            r"\bdesign\s+(?:docs|documents|reviews)\b|\barchitecture\s+discussions\b",
            "design",
            "architecture discussions",
        ),
    ),
    ("rfc_process", Rule(r"\bRFCs?\b", "rfc", flags=0)),
]
_TECH_DEBT = Rule(
    r"\btech(?:nical)?\s+debt\b|\blegacy\s+(?:systems?|code|platforms?)\b", "debt", "legacy"
)


def _named(doc: Doc, rules: list[tuple[str, Rule]]) -> dict[str, Any]:
    found = [(value, m) for value, rule in rules if (m := rule.search(doc)) is not None]
    if not found:
        return absent([])
    first = min(found, key=lambda item: item[1].start())[1]
    return claim(
        [v for v, _ in found], 0.75, doc.quote(first.start(), first.end(), 60, 80), "explicit"
    )


def _culture(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    debt = _TECH_DEBT.search(doc)
    return {
        "tech_culture_signals": _named(doc, _CULTURE),
        "dev_practices_mentioned": _named(doc, _PRACTICES),
        "innovation_signals": absent(),
        "tech_debt_awareness": claim(
            True, 0.7, doc.quote(debt.start(), debt.end(), 60, 80), "explicit"
        )
        if debt
        else absent(None),
    }


# ------------------------------------------------------------------ AI/ML

_ML_TOOLS = frozenset(
    {
        "scikit-learn",
        "TensorFlow",
        "PyTorch",
        "Keras",
        "XGBoost",
        "LightGBM",
        "MLflow",
        "Kubeflow",
        "SageMaker",
        "Vertex AI",
        "Azure ML",
        "Hugging Face",
        "LangChain",
        "LlamaIndex",
        "OpenAI API",
        "spaCy",
        "NLTK",
        "Feast",
        "Tecton",
        "Hopsworks",
        "DataRobot",
        "Dataiku",
        "H2O",
        "Weights & Biases",
        "ONNX",
        "GPT",
        "Amazon Bedrock",
    }
)
_AI_LEVELS = [
    (
        "genai_focus",
        frozenset(
            {
                "Generative AI",
                "LLMs",
                "RAG",
                "Prompt Engineering",
                "GPT",
                "LangChain",
                "LlamaIndex",
                "OpenAI API",
                "Amazon Bedrock",
            }
        ),
    ),
    (
        "mlops",
        frozenset(
            {"MLOps", "MLflow", "Kubeflow", "SageMaker", "Vertex AI", "Azure ML", "Feast", "Tecton"}
        ),
    ),
    (
        "advanced_ml",
        frozenset({"Deep Learning", "PyTorch", "TensorFlow", "Keras", "Computer Vision", "NLP"}),
    ),
    (
        "basic_ml",
        frozenset(
            {"Machine Learning", "scikit-learn", "XGBoost", "LightGBM", "Feature Engineering"}
        ),
    ),
]


def _ai(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    level: dict[str, Any] = absent()
    for value, names in _AI_LEVELS:
        hits = [h for h in facts.skills.hits if h.canonical in names]
        # GenAI counts as the role's focus only when it comes up more than in passing.
        if hits and (value != "genai_focus" or len(hits) >= 2):
            level = claim(value, 0.6, doc.quote(hits[0].start, hits[0].end, 60, 80), "explicit")
            break
    tools = [h for h in facts.skills.hits if h.canonical in _ML_TOOLS]
    names = list(dict.fromkeys(h.canonical for h in tools))
    return {
        "ai_integration_level": level,
        "ml_tools_expected": claim(
            names, 0.8, doc.quote(tools[0].start, tools[0].end, 60, 80), "explicit"
        )
        if tools
        else absent([]),
    }


# ------------------------------------------------------------------ timing, company

_URGENCY = [
    (
        "immediate",
        Rule(r"\bimmediate\s+(?:start|need|hire|opening)\b|\bstart\s+immediately\b", "immediate"),
    ),
    (
        "asap",
        Rule(r"\basap\b|\bas\s+soon\s+as\s+possible\b|\burgent(?:ly)?\b", "asap", "soon", "urgent"),
    ),
    (
        "pipeline",
        Rule(
            r"\b(?:on-?going|rolling|continuous)\s+basis\b|\btalent\s+pipeline\b|\bfuture\s+opportunities\b",
            "basis",
            "pipeline",
            "future",
        ),
    ),
]
_PUBLIC = Rule(
    r"\bpublicly\s+traded\b|\b(?:NYSE|NASDAQ|LSE)\b|\bticker\s+symbol\b|\bFortune\s+(?:5|10|50|100|500|1000)\b",
    "publicly",
    "nyse",
    "nasdaq",
    "lse",
    "ticker",
    "fortune",
    flags=0,
)
_SERIES = Rule(r"\bseries\s+(?P<s>[a-f])\b", "series")
_SEED = Rule(r"\bseed[- ](?:stage|round|funded)\b|\bpre[- ]seed\b", "seed")
_STARTUP = Rule(r"\bstart[- ]?up\b", "start")
_BACKED = Rule(r"\bbacked\s+by\b|\bventure[- ]backed\b|\bvc[- ]backed\b", "backed")
_HEADCOUNT = Rule(
    r"\b(?P<n>\d{1,3}(?:[ ,.]\d{3})+|\d{4,6})\+?\s+(?:employees|people|collaborateurs|colleagues|associates|staff|personnes)\b",
    "employees",
    "people",
    "collaborateurs",
    "colleagues",
    "associates",
    "staff",
    "personnes",
)
_ROLE_CREATION = [
    ("backfill", Rule(r"\bbackfill\b|\breplacement\s+for\b", "backfill", "replacement")),
    (
        "new_function",
        Rule(
            r"\bnewly\s+(?:formed|created)\s+(?:\w+\s+){0,2}(?:team|squad|function|department)\b|\bfirst\s+data\s+(?:hire|engineer)\b|\bestablishing\s+a\s+team\b",
            "newly",
            "first data",
            "establishing",
        ),
    ),
    ("new_headcount", Rule(r"\bnew(?:ly)?\s+(?:created\s+)?(?:role|position|headcount)\b", "new")),
    (
        "team_expansion",
        Rule(
            r"\bexpanding\s+(?:our\s+)?teams?\b|\bgrowing\s+(?:our\s+|the\s+)?team\b",
            "expanding",
            "growing",
        ),
    ),
]


def _competition(facts: Facts) -> dict[str, Any]:
    doc = facts.doc
    urgency: dict[str, Any] = absent()
    for value, pattern in _URGENCY:
        match = pattern.search(doc)
        if match is not None:
            urgency = claim(value, 0.65, doc.quote(match.start(), match.end(), 60, 80), "explicit")
            break
    competition: dict[str, Any] = absent()
    if facts.applicants is not None:
        n = facts.applicants
        value = "low" if n < 50 else "medium" if n < 200 else "high"
        # LinkedIn buckets the count ("25", "200"): a metadata fact, not a text quote.
        competition = claim(value, 0.6, None, "inferred")
    return {"hiring_urgency": urgency, "competition_level": competition}


def _company(facts: Facts, team_n: int | None, team_span: tuple[int, int] | None) -> dict[str, Any]:
    doc = facts.doc
    out: dict[str, Any] = {
        "company_stage_inferred": absent(),
        "hiring_velocity": absent(),
        "team_size_signals": absent(),
        "funding_stage_signals": absent(),
        "role_creation_type": absent(),
    }
    public, series, seed = _PUBLIC.search(doc), _SERIES.search(doc), _SEED.search(doc)
    headcount = next(
        (m for m in _HEADCOUNT.finditer(doc) if int(re.sub(r"\D", "", m.group("n"))) >= 1000), None
    )
    if public is not None:
        quote = doc.quote(public.start(), public.end(), 60, 80)
        out["funding_stage_signals"] = claim("public", 0.85, quote, "explicit")
        out["company_stage_inferred"] = claim("enterprise", 0.7, quote, "explicit")
    elif series is not None:
        quote = doc.quote(series.start(), series.end(), 60, 80)
        stage = series.group("s").lower()
        out["funding_stage_signals"] = claim(
            "series_a" if stage == "a" else "series_b_plus", 0.8, quote, "explicit"
        )
        out["company_stage_inferred"] = claim(
            "startup_series_a_b" if stage in "ab" else "growth_stage", 0.65, quote, "explicit"
        )
    elif seed is not None:
        quote = doc.quote(seed.start(), seed.end(), 60, 80)
        out["funding_stage_signals"] = claim("seed", 0.8, quote, "explicit")
        out["company_stage_inferred"] = claim("startup_seed", 0.65, quote, "explicit")
    elif headcount is not None:
        out["company_stage_inferred"] = claim(
            "enterprise", 0.6, doc.quote(headcount.start(), headcount.end(), 60, 80), "explicit"
        )
    elif (startup := _STARTUP.search(doc)) is not None and _BACKED.search(doc):
        out["company_stage_inferred"] = claim(
            "growth_stage", 0.5, doc.quote(startup.start(), startup.end(), 60, 80), "explicit"
        )
    if team_n is not None and team_span is not None:
        out["team_size_signals"] = claim(
            _team_size_bucket(team_n), 0.75, doc.quote(*team_span, 60, 60), "explicit"
        )
    for value, pattern in _ROLE_CREATION:
        match = pattern.search(doc)
        if match is not None:
            out["role_creation_type"] = claim(
                value, 0.6, doc.quote(match.start(), match.end(), 60, 80), "explicit"
            )
            break
    return out


# ------------------------------------------------------------------ summary


_TRAVEL = Rule(
    r"\btravel\s+(?:is\s+)?required\b|\bwillingness\s+to\s+travel\b|\bability\s+to\s+travel\b|\bregular\s+travel\b|\btravel\s+up\s+to\s+\d+\s?%|\b\d+\s?%\s+(?:\w+\s+)?travel\b|\btravel\s+\(\d+\s?%",
    "travel",
)


def _summary(facts: Facts, p1: Any, p2: Any) -> dict[str, Any]:
    """Categories that a pass-1/2 value backs; no free text, no scores."""
    comp = p1.compensation if p1 else None
    auth = p1.work_authorization if p1 else None
    wm = p1.work_model if p1 else None
    benefits = p1.benefits_structured if p1 else None
    contract = p1.contract_details if p1 else None
    disclosed = bool(comp and comp.salary_disclosed)
    visa = auth.visa_sponsorship_stated if auth else None
    model = wm.work_model_stated if wm else None
    strengths: list[str] = []
    concerns: list[str] = []
    if disclosed:
        strengths.append("transparent_salary")
    if benefits and benefits.equity_mentioned:
        strengths.append("equity_offered")
    if model == "remote":
        strengths.append("remote_friendly")
    elif model == "hybrid":
        strengths.append("hybrid_work")
    if visa == "will_sponsor":
        strengths.append("visa_sponsorship")
    level = (
        p2.contract_and_compensation.benefits_level if p2 and p2.contract_and_compensation else None
    )
    if level is not None and level.value == "comprehensive":
        strengths.append("strong_benefits")
    if benefits and (benefits.learning_budget_mentioned or benefits.conference_budget_mentioned):
        strengths.append("learning_opportunities")
    if not disclosed:
        concerns.append("salary_not_disclosed")
    if visa == "will_not_sponsor":
        concerns.append("no_visa_sponsorship")
    citizenship = (
        p2.visa_and_authorization.citizenship_required if p2 and p2.visa_and_authorization else None
    )
    if citizenship is not None and citizenship.value in ("us_citizen_only", "us_or_gc"):
        concerns.append("citizenship_required")
    if _ON_CALL.search(facts.doc):
        concerns.append("on_call_expected")
    scope = (
        p2.requirements_classification.scope_definition
        if p2 and p2.requirements_classification
        else None
    )
    if scope is not None and scope.value == "multi_role":
        concerns.append("scope_creep_risk")
    if _TRAVEL.search(facts.doc):
        concerns.append("travel_required")
    if (
        contract
        and contract.contract_type == "fixed_term"
        and contract.contract_duration_months is not None
        and contract.contract_duration_months <= 6
    ):
        concerns.append("contract_short_term")
    best_fit: list[str] = []
    seniority = p2.seniority_and_role.seniority_level if p2 and p2.seniority_and_role else None
    family = p2.seniority_and_role.job_family if p2 and p2.seniority_and_role else None
    if seniority is not None and seniority.value in (
        "senior",
        "staff",
        "principal",
        "distinguished",
    ):
        best_fit.append("senior_data_engineers")
    elif seniority is not None and seniority.value == "mid" and (seniority.confidence or 0) >= 0.6:
        best_fit.append("mid_level_engineers")
    elif seniority is not None and seniority.value in ("intern", "entry", "junior", "associate"):
        best_fit.append("junior_engineers")
    if family is not None and family.value == "analytics_engineer":
        best_fit.append("analytics_engineers")
    if family is not None and family.value in ("ml_engineer", "mlops_engineer"):
        best_fit.append("ml_engineers")
    if model == "remote":
        best_fit.append("remote_workers")
    probes: list[str] = []
    if not disclosed:
        probes.append("salary_range_details")
    if model in (None, "not_mentioned"):
        probes.append("remote_policy_details")
    if visa in (None, "not_mentioned"):
        probes.append("visa_sponsorship_details")
    if "on_call_expected" in concerns:
        probes.append("on_call_expectations")
    return {
        "strength_categories": strengths[:5],
        "strength_details": [],
        "concern_categories": concerns[:4],
        "concern_details": [],
        "best_fit_categories": best_fit[:4],
        "best_fit_details": [],
        "probe_categories": probes[:5],
        "probe_details": [],
        "leverage_categories": [],
        "leverage_details": [],
        "overall_assessment": None,
        "recommendation_score": None,
        "recommendation_confidence": None,
    }


# ------------------------------------------------------------------ answer


def answer(
    record: SilverRecord,
    pass1: Pass1Output | None,
    pass2: Pass2Output | None,
    description: str | None = None,
) -> dict[str, Any]:
    """The whole pass-3 answer: ``analysis`` plus ``summary``."""
    facts = analyze(record, description)
    if pass1 is None:
        pass1 = Pass1Output.model_validate({"extraction": extraction(facts)})
    if pass2 is None:
        pass2 = Pass2Output.model_validate({"inference": inference(record, pass1, description)})
    p1, p2 = pass1.extraction, pass2.inference
    stakeholders, team_n, team_span = _stakeholders(facts)
    analysis = {
        "company_maturity": _maturity(facts),
        "red_flags_and_role_quality": _red_flags(facts, p2),
        "stakeholders_and_leadership": stakeholders,
        "tech_culture": {
            "work_life_balance_score": absent(None),
            "growth_opportunities_score": absent(None),
            "tech_culture_score": absent(None),
        },
        "tech_culture_assessment": _culture(facts),
        "ai_ml_integration": _ai(facts),
        "competition_and_timing": _competition(facts),
        "company_context": _company(facts, team_n, team_span),
    }
    return {"analysis": analysis, "summary": _summary(facts, p1, p2)}
