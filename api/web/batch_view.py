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
from ..services import decisions as decision_service
from ..services import jobs as job_service
from ..services.catalogue import planned_label
from ..services.history import beijing
from .present import JOB_STATUS_ZH, zh_text

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


def decision_view(d: dict | None) -> dict:
    """A row's decision as the table shows it: 采纳 / 不采纳 / 待定 with reason, who and when,
    and the catalogue version that withdrew it; 未决定 when there is none."""
    if not d:
        return {"decision": "undecided", "decision_zh": "未决定", "decision_reason": "", "decided_by": "",
                "decided_at": "", "withdrawn": None}
    withdrawn = d.get("withdrawn_version")
    return {"decision": d["decision"], "decision_zh": decision_service.DECISION_ZH[d["decision"]] + (
                f" (第{withdrawn}版撤回)" if withdrawn else ""),
            "decision_reason": d.get("reason") or "", "decided_by": d.get("reviewer") or "",
            "decided_at": beijing(d.get("decided_at")), "withdrawn": withdrawn}


def _near_view(near: list[dict]) -> list[dict]:
    return [{"row": n["row"], "title": n["title"] or "", "unit": n["unit"] or "", "planned": n["planned"] or "",
             "other_unit": n["other_unit"], "date_conflict": n["date_conflict"]} for n in near]


def _row(rec: dict, dup: str) -> dict:
    inp = rec.get("input") or {}
    ans = rec.get("answer")
    seq = inp.get("id")
    base = {"row": rec["row_no"], "id": rec["id"], "title": str(inp.get("title") or ""),
            "unit": str(inp.get("unit") or ""), "dup": dup, "seq": "" if seq in (None, "") else str(seq),
            "planned": planned_label(inp),
            "warnings": [zh_text(w) for w in (ans or {}).get("warnings") or []]}
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
    """Every row of a finished job with its decision and near-duplicates, and the counts the
    summary draws."""
    rows = []
    decided = decision_service.decisions_of(ctx, job_id)
    near = job_service.near_duplicates(ctx, job_id)
    decisions: Counter = Counter()
    first_seen: dict[str, int] = {}
    verdicts: Counter = Counter()
    categories: Counter = Counter()
    units: Counter = Counter()
    for rec in job_service.records(ctx, job_id):
        dup = catalogue_row(rec, first_seen)[_DUP_INDEX] or ""
        row = {**_row(rec, dup), **decision_view(decided.get(rec["row_no"])),
               "near": _near_view(near.get(rec["row_no"], []))}
        row["date_conflict"] = any(n["date_conflict"] for n in row["near"])
        rows.append(row)
        decisions[row["decision"]] += 1
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
            "near_duplicates": sum(1 for r in rows if r["near"]),
            "decisions": [{"key": k, "label": label, "count": decisions.get(k, 0)} for k, label in
                          (("adopt", "采纳"), ("reject", "不采纳"), ("pending", "待定"), ("undecided", "未决定"))],
        },
    }
