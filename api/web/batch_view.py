"""The batch page's data: a key's recent jobs, and a finished job's rows in the compact form
the results table works with (the full answers stay in the database; a row's drill-down
links to its record page).

The duplicate flag comes from api.export.catalogue_row, so the table flags exactly the rows
the downloaded draft catalogue flags."""
from __future__ import annotations

from collections import Counter

from model.vocab import CATEGORY_ZH, EXCLUSION_ZH, LEVEL_ZH
from model.vocab import VERDICT_OR_ERROR_ZH as VERDICT_ZH

from ..auth import KeyInfo
from ..export import CATALOGUE_COLUMNS, EXTRA_COLUMNS, catalogue_row
from ..jobs import public
from ..services import jobs as job_service
from ..services.history import beijing
from .present import JOB_STATUS_ZH

RECENT_JOBS = 15
TOP_UNITS = 12
_DUP_INDEX = (CATALOGUE_COLUMNS + EXTRA_COLUMNS).index("重复")
# The order a compiler works in: the matters a person must decide first, then bad rows to fix.
VERDICT_ORDER = {"review": 0, "error": 1, "major": 2, "not_major": 3}


def recent_jobs(ctx, key: KeyInfo, limit: int = RECENT_JOBS) -> list[dict]:
    return [job_view(j) for j in job_service.recent(ctx, key, limit)]


def job_view(job: dict) -> dict:
    out = public(job)
    out["status_zh"] = JOB_STATUS_ZH.get(out["status"], out["status"])
    out["created_local"] = beijing(job["created_at"])
    out["finished_local"] = beijing(job["finished_at"]) if job.get("finished_at") else ""
    out["percent"] = round(out["progress"] * 100)
    return out


def _row(rec: dict, dup: str) -> dict:
    inp = rec.get("input") or {}
    ans = rec.get("answer")
    base = {"row": rec["row_no"], "id": rec["id"], "title": str(inp.get("title") or ""),
            "unit": str(inp.get("unit") or ""), "dup": dup}
    if not ans:
        err = rec.get("error") or {}
        return {**base, "verdict": "error", "verdict_zh": VERDICT_ZH["error"], "confidence": None,
                "probability": None, "category": "", "tier": "", "exclusion": "", "procedures": [],
                "reasons": [], "error": err.get("message_zh") or "该行未能筛查"}
    return {**base, "verdict": ans["verdict"], "verdict_zh": VERDICT_ZH[ans["verdict"]],
            "confidence": ans.get("confidence"), "probability": ans.get("probability"),
            "category": CATEGORY_ZH.get(ans.get("category") or "", ""),
            "tier": LEVEL_ZH.get(ans.get("tier") or "", ""),
            "exclusion": EXCLUSION_ZH.get((ans.get("exclusion") or {}).get("type") or "", ""),
            "procedures": [p["name"] for p in ans.get("procedures") or [] if p.get("required")],
            "reasons": [r.get("text") or "" for r in ans.get("reasons") or []][:6], "error": ""}


def job_rows(ctx, job_id: str) -> dict:
    """Every row of a finished job, and the counts the summary draws."""
    rows = []
    first_seen: dict[str, int] = {}
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    units: Counter = Counter()
    for rec in job_service.records(ctx, job_id):
        dup = catalogue_row(rec, first_seen)[_DUP_INDEX] or ""
        row = _row(rec, dup)
        rows.append(row)
        verdicts[row["verdict"]] += 1
        # As in the catalogue's summary sheet: categories of what is (or may be) in the catalogue.
        if row["verdict"] in ("major", "review"):
            categories[row["category"] or "未分类"] += 1
        units[row["unit"] or "(未填承办单位)"] += 1
    top_units = units.most_common(TOP_UNITS)
    rest = sum(units.values()) - sum(n for _, n in top_units)
    if rest:
        top_units.append(("其他单位", rest))
    return {
        "rows": rows,
        "summary": {
            "total": len(rows),
            "verdicts": [{"key": k, "label": VERDICT_ZH[k], "count": verdicts.get(k, 0)}
                         for k in ("major", "review", "not_major", "error")],
            "categories": [{"label": k, "count": n} for k, n in categories.most_common()],
            "units": [{"label": k, "count": n} for k, n in top_units],
            "duplicates": sum(1 for r in rows if r["dup"]),
        },
    }
