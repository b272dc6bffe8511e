"""The compiler's decision on each row of a finished job (采纳 / 不采纳 / 待定, with why, who and
when), fixing a row's fields and screening it again, and the job's rows as the table, the
summary and every download show them. Each adopt/reject decision is also kept as reviewer
feedback on the row's screening record, so it flows into retraining like any other review.

Used by the JSON routers (PATCH /api/v1/jobs/{id}/rows/{row}, GET …/rows) and the pages."""
from __future__ import annotations

from types import SimpleNamespace

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from model.contract import parse_matter
from model.dates import catalogue_year_of, read_planned, tolerant_row
from model.errors import ScreenInputError

from ..auth import KeyInfo
from ..catalogue_export import ACTION_ZH
from ..db import (
    catalogue_changes,
    catalogue_versions,
    job_rows,
    jobs,
    row_decisions,
    screenings,
    utcnow,
)
from ..errors import ApiError
from . import jobs as job_service
from . import screenings as screenings_service

DECISIONS = ("adopt", "reject", "pending")
DECISION_ZH = {"adopt": "采纳", "reject": "不采纳", "pending": "待定"}
# A decision read as a reviewer's label for retraining (待定 says nothing yet).
DECISION_LABEL = {"adopt": "major", "reject": "not_major"}
FIXABLE = ("id", "title", "description", "unit", "level", "profile", "amount_wan", "people", "area_mu",
           "length_km", "duration_years", "planned_date")


def who(key: KeyInfo, reviewer: str | None) -> str:
    """The name a decision is recorded under: the reviewer's own, else the key's (a signed-in user)."""
    return (reviewer or "").strip()[:200] or key.name


def row_not_found(row_no: int) -> ApiError:
    return ApiError(404, "row_not_found", f"任务中没有第{row_no}行", f"the job has no row {row_no}", "row")


def done_job(ctx, key: KeyInfo, job_id: str) -> dict:
    """The job if the key may see it and it has finished (decisions need every row screened)."""
    job = job_service.get_visible(ctx, key, job_id)
    job_service.check_done(job)
    return job


def catalogue_year(ctx, job: dict) -> int:
    """The year of the catalogue the job is compiled for (upload option, else from its dates)."""
    year = (job.get("options") or {}).get("catalogue_year")
    if year:
        return int(year)
    with ctx.db.read() as conn:
        rows = conn.execute(select(job_rows.c.data).where(job_rows.c.job_id == job["id"]).limit(2000)).scalars().all()
    return catalogue_year_of(list(rows))


def current_version(conn, job_id: str) -> int | None:
    """The latest numbered catalogue version (None before the first adjustment)."""
    return conn.execute(select(func.max(catalogue_versions.c.version))
                        .where(catalogue_versions.c.job_id == job_id)).scalar()


# -- reading rows --------------------------------------------------------------------------------

def _decisions(conn, job_id: str, row_no: int | None = None) -> dict[int, dict]:
    q = select(row_decisions).where(row_decisions.c.job_id == job_id)
    if row_no is not None:
        q = q.where(row_decisions.c.row_no == row_no)
    return {r["row_no"]: dict(r) for r in conn.execute(q).mappings().all()}


def decisions_of(ctx, job_id: str) -> dict[int, dict]:
    """Every decision of the job by row number."""
    return job_service.decisions_by_row(ctx, job_id)


def _record(conn, job_id: str, row_no: int) -> dict | None:
    rec = conn.execute(select(screenings).where(screenings.c.job_id == job_id, screenings.c.row_no == row_no)
                       ).mappings().first()
    return dict(rec) if rec else None


def decision_view(d: dict | None) -> dict | None:
    if not d:
        return None
    return {"decision": d["decision"], "label_zh": DECISION_ZH[d["decision"]], "reason": d["reason"],
            "reviewer": d["reviewer"], "decided_at": d["decided_at"].isoformat(),
            "added_version": d["added_version"], "withdrawn_version": d["withdrawn_version"]}


def row_view(rec: dict, decision: dict | None) -> dict:
    """One row as the job table and the API show it; `seq` is the department's own 序号."""
    inp = rec.get("input") or {}
    answer = rec.get("answer") or None
    seq = inp.get("id") if inp.get("id") not in (None, "") else None
    return {"row": rec["row_no"], "seq": seq, "screening_id": rec["id"], "title": inp.get("title"),
            "unit": inp.get("unit"), "description": inp.get("description"),
            "planned_date": inp.get("planned_date"), "planned_period": inp.get("planned_period"),
            "planned_date_text": inp.get("planned_date_text"), "input": inp,
            "verdict": answer["verdict"] if answer else None,
            "probability": answer["probability"] if answer else None,
            "category": answer.get("category") if answer else None,
            "warnings": answer.get("warnings", []) if answer else [],
            "answer": answer, "error": rec.get("error"), "decision": decision_view(decision)}


def get_row(ctx, key: KeyInfo, job_id: str, row_no: int) -> dict:
    job = job_service.get_visible(ctx, key, job_id)
    with ctx.db.read() as conn:
        rec = _record(conn, job["id"], row_no)
        if rec is None:
            raise row_not_found(row_no)
        d = _decisions(conn, job["id"], row_no).get(row_no)
    return row_view(rec, d)


def list_rows(ctx, key: KeyInfo, job_id: str, decision: str | None = None, verdict: str | None = None,
              offset: int = 0, limit: int = 100) -> dict:
    """The job's rows in row order with their decisions. `decision`: adopt | reject | pending |
    undecided; `verdict`: major | not_major | review | error."""
    job = job_service.get_visible(ctx, key, job_id)
    decided = decisions_of(ctx, job["id"])
    out = []
    total = 0
    for rec in job_service.records(ctx, job["id"]):
        d = decided.get(rec["row_no"])
        if decision and (d["decision"] if d else "undecided") != decision:
            continue
        v = (rec.get("answer") or {}).get("verdict") or "error"
        if verdict and v != verdict:
            continue
        total += 1
        if offset < total <= offset + limit:
            out.append(row_view(rec, d))
    return {"job_id": job["id"], "total": total, "offset": offset, "limit": limit, "rows": out}


def counts(ctx, job_id: str) -> dict:
    """How many rows are adopted, rejected, pending, not yet decided, and withdrawn."""
    with ctx.db.read() as conn:
        total = conn.execute(select(func.count()).select_from(job_rows).where(job_rows.c.job_id == job_id)).scalar()
        rows = conn.execute(select(row_decisions.c.decision, row_decisions.c.withdrawn_version)
                            .where(row_decisions.c.job_id == job_id)).all()
    out = {"adopt": 0, "reject": 0, "pending": 0, "undecided": 0, "withdrawn": 0}
    for dec, withdrawn in rows:
        out[dec] += 1
        out["withdrawn"] += withdrawn is not None
    out["undecided"] = max(0, (total or 0) - len(rows))
    return out


# -- deciding ------------------------------------------------------------------------------------

def log_change(conn, job_id: str, action: str, row_no: int | None, reason: str | None, key: KeyInfo,
               reviewer: str | None, details: dict | None = None, version: int | None = None) -> None:
    conn.execute(insert(catalogue_changes).values(
        job_id=job_id, version=version if version is not None else current_version(conn, job_id), action=action,
        row_no=row_no, reason=reason or None, details=details, key_id=key.id, reviewer=who(key, reviewer),
        created_at=utcnow()))


def _feedback(ctx, rec: dict, decision: str, reason: str | None, key: KeyInfo, reviewer: str | None) -> None:
    """The decision as a reviewer's opinion on the row's screening, through the feedback path
    (POST /api/v1/feedback's), so it is exported for retraining like any other review."""
    label = DECISION_LABEL.get(decision)
    verdict = rec.get("verdict")
    if label is None or verdict is None:
        return
    # A review verdict "agrees" when a label settles it, as the feedback API has it.
    body = SimpleNamespace(screening_id=rec["id"], agree=verdict in (label, "review"), label=label, category=None,
                           exclusion=None, comment=f"目录决策: {DECISION_ZH[decision]}" + (f"; {reason}" if reason else ""),
                           reviewer=who(key, reviewer))
    screenings_service.add_feedback(ctx, key, body)


def decide(ctx, key: KeyInfo, job_id: str, row_no: int, decision: str, reason: str | None = None,
           reviewer: str | None = None) -> dict:
    """Record the decision on one row (1-based data row) and its feedback; the row as shown."""
    if decision not in DECISIONS:
        raise ApiError(422, "bad_decision", "决策应为 adopt (采纳)、reject (不采纳) 或 pending (待定)",
                       "decision must be adopt, reject or pending", "decision")
    job = done_job(ctx, key, job_id)
    reason = (reason or "").strip() or None
    try:
        rec, d = _decide(ctx, key, job, row_no, decision, reason, reviewer)
    except IntegrityError:  # the same row decided in two places at once: the later one is kept
        rec, d = _decide(ctx, key, job, row_no, decision, reason, reviewer)
    _feedback(ctx, rec, decision, reason, key, reviewer)
    return row_view(rec, d)


def _decide(ctx, key: KeyInfo, job: dict, row_no: int, decision: str, reason: str | None,
            reviewer: str | None) -> tuple[dict, dict]:
    with ctx.db.write() as conn:
        rec = _record(conn, job["id"], row_no)
        if rec is None:
            raise row_not_found(row_no)
        if decision == "adopt" and rec.get("answer") is None:
            raise ApiError(422, "row_has_error", f"第{row_no}行未能筛查, 请先更正该行并重新筛查, 再决定采纳",
                           f"row {row_no} could not be screened: fix and screen it again before adopting it", "row")
        old = _decisions(conn, job["id"], row_no).get(row_no)
        values = {"decision": decision, "reason": reason, "key_id": key.id, "reviewer": who(key, reviewer),
                  "decided_at": utcnow()}
        if old:
            conn.execute(update(row_decisions).where(row_decisions.c.job_id == job["id"],
                                                     row_decisions.c.row_no == row_no).values(**values))
        else:
            conn.execute(insert(row_decisions).values(job_id=job["id"], row_no=row_no, **values))
        log_change(conn, job["id"], decision, row_no, reason, key, reviewer,
                   {"from": old["decision"] if old else None, "title": (rec["input"] or {}).get("title")})
        d = _decisions(conn, job["id"], row_no).get(row_no)
    return rec, d


# -- fixing a row and screening it again ---------------------------------------------------------

def recount(conn, job_id: str) -> None:
    rows = conn.execute(select(screenings.c.verdict, func.count()).where(screenings.c.job_id == job_id)
                        .group_by(screenings.c.verdict)).all()
    n = {v: c for v, c in rows}
    total = sum(n.values())
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(
        n_major=n.get("major", 0), n_not_major=n.get("not_major", 0), n_review=n.get("review", 0),
        n_error=n.get(None, 0), done_rows=total, total_rows=total))


def screen_data(ctx, job: dict, data: dict, row_no: int) -> tuple[dict, object]:
    """(the row as stored, its Answer) for a row's fields; a 422 quoting the problem when the
    fields are still not screenable."""
    data = tolerant_row({k: v for k, v in data.items() if v not in (None, "")}, catalogue_year(ctx, job))
    try:
        parse_matter(data, row_no)
        answer = ctx.screener.screen({**({"profile": job["profile"]} if job["profile"] else {}), **data})
    except ScreenInputError as exc:
        raise ApiError(422, exc.code, f"第{row_no}行: {exc.zh}", f"row {row_no}: {exc.en}", exc.field,
                       row=row_no) from None
    return data, answer


def _store_screening(conn, ctx, job_id: str, row_no: int, data: dict, answer) -> None:
    conn.execute(update(job_rows).where(job_rows.c.job_id == job_id, job_rows.c.row_no == row_no)
                 .values(data=data, error=None))
    conn.execute(update(screenings).where(screenings.c.job_id == job_id, screenings.c.row_no == row_no).values(
        input=data, answer=answer.model_dump(mode="json"), error=None, verdict=answer.verdict,
        model_version=ctx.screener.model_version, rules_version=ctx.screener.rules_version))
    recount(conn, job_id)


def check_planned(value, year: int, field: str = "planned_date") -> None:
    """A corrected planned date must be readable (or 待定); a 422 quoting it otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return
    if read_planned(value, year).kind == "unreadable":
        bad = str(value)[:60]
        raise ApiError(422, "bad_date", f"计划时间“{bad}”无法识别: 可写 2027-04-15、2027年4月15日、2027年6月、2027年第二季度、"
                       "下半年、年底或待定", f"planned date {bad!r} cannot be read", field)


def fix_row(ctx, key: KeyInfo, job_id: str, row_no: int, fields: dict, reason: str | None = None,
            reviewer: str | None = None, action: str = "fix", version: int | None = None) -> dict:
    """Change a row's fields (a blank value clears one) and screen it again; its decision stays."""
    unknown = sorted(set(fields) - set(FIXABLE))
    if unknown:
        raise ApiError(422, "bad_field", f"不能修改的字段: {', '.join(unknown)}", f"fields that cannot be changed: "
                       f"{', '.join(unknown)}", "fields")
    job = done_job(ctx, key, job_id)
    check_planned(fields.get("planned_date"), catalogue_year(ctx, job))
    with ctx.db.read() as conn:
        old = conn.execute(select(job_rows.c.data).where(job_rows.c.job_id == job["id"], job_rows.c.row_no == row_no)
                           ).scalar()
    if old is None:
        raise row_not_found(row_no)
    # A new planned date replaces the period and the unreadable text read from the old one.
    merged = {k: v for k, v in old.items()
              if not ("planned_date" in fields and k in ("planned_period", "planned_date_text"))}
    merged.update(fields)
    data, answer = screen_data(ctx, job, merged, row_no)
    changed = {k: {"from": old.get(k), "to": data.get(k)} for k in set(fields) | {"planned_period"}
               if old.get(k) != data.get(k)}
    with ctx.db.write() as conn:
        _store_screening(conn, ctx, job["id"], row_no, data, answer)
        log_change(conn, job["id"], action, row_no, (reason or "").strip() or None, key, reviewer,
                   {"fields": changed, "title": data.get("title")}, version)
        rec = _record(conn, job["id"], row_no)
        d = _decisions(conn, job["id"], row_no).get(row_no)
    return row_view(rec, d)


def change_log(ctx, job_id: str) -> list[dict]:
    """The job's decisions, fixes and adjustments, oldest first."""
    with ctx.db.read() as conn:
        rows = conn.execute(select(catalogue_changes).where(catalogue_changes.c.job_id == job_id)
                            .order_by(catalogue_changes.c.id)).mappings().all()
    return [{"id": r["id"], "version": r["version"], "action": r["action"], "action_zh": ACTION_ZH.get(r["action"],
             r["action"]), "row": r["row_no"], "reason": r["reason"], "details": r["details"],
             "reviewer": r["reviewer"], "created_at": r["created_at"].isoformat()} for r in rows]
