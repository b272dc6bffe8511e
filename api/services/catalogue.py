"""The official catalogue of a job: the adopted rows (less those withdrawn) in the usual layout,
its numbered versions, and mid-year adjustments (add, withdraw, reschedule) that each make a
new version with a reason. Downloads as .xlsx and .docx (api/catalogue_export.py)."""
from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from model.dates import UNDECIDED

from ..auth import KeyInfo
from ..catalogue_export import build_catalogue_docx, build_catalogue_xlsx
from ..db import catalogue_versions, job_rows, row_decisions, screenings, utcnow
from ..errors import ApiError
from ..export import planned_text
from ..services.ids import new_id
from . import decisions as dec
from . import jobs as job_service

ACTIONS = ("add", "withdraw", "reschedule")
# Versions start at 1: the catalogue as first decided; each adjustment adds one.
FIRST_VERSION = 1


def planned_label(inp: dict) -> str:
    """计划完成时间 as the catalogue writes it: the period, the day, the unreadable text, or 未定."""
    return planned_text(inp) or UNDECIDED


def required_procedures(answer: dict | None) -> list[str]:
    return [p["name"] for p in (answer or {}).get("procedures", []) if p.get("required")]


def items(ctx, job: dict) -> list[dict]:
    """The catalogue's matters in row order: adopted and not withdrawn."""
    decided = dec.decisions_of(ctx, job["id"])
    out = []
    for rec in job_service.records(ctx, job["id"]):
        d = decided.get(rec["row_no"])
        if not d or d["decision"] != "adopt" or d["withdrawn_version"] is not None:
            continue
        view = dec.row_view(rec, d)
        view["planned_label"] = planned_label(rec.get("input") or {})
        view["procedures_required"] = required_procedures(rec.get("answer"))
        out.append(view)
    return out


def versions(ctx, job_id: str) -> list[dict]:
    with ctx.db.read() as conn:
        rows = conn.execute(select(catalogue_versions).where(catalogue_versions.c.job_id == job_id)
                            .order_by(catalogue_versions.c.version)).mappings().all()
    return [{"version": r["version"], "reason": r["reason"], "reviewer": r["reviewer"],
             "created_at": r["created_at"].isoformat()} for r in rows]


def version_now(ctx, job_id: str) -> int:
    with ctx.db.read() as conn:
        return dec.current_version(conn, job_id) or FIRST_VERSION


def catalogue(ctx, key: KeyInfo, job_id: str) -> dict:
    """The catalogue as JSON: version, year, items, versions and the change log."""
    job = dec.done_job(ctx, key, job_id)
    return {"job_id": job["id"], "year": dec.catalogue_year(ctx, job), "version": version_now(ctx, job["id"]),
            "items": items(ctx, job), "versions": versions(ctx, job["id"]), "changes": dec.change_log(ctx, job["id"])}


def export(ctx, key: KeyInfo, job_id: str, fmt: str, title: str | None = None) -> tuple[bytes, str]:
    """(file bytes, file name) of the catalogue as .xlsx or .docx."""
    data = catalogue(ctx, key, job_id)
    title = (title or "").strip()[:100] or f"{data['year']}年度重大行政决策事项目录"
    info = {"title": title, "version": data["version"], "job_id": job_id, "year": data["year"]}
    if fmt == "docx":
        return build_catalogue_docx(info, data["items"], data["changes"], data["versions"]), f"{title}-第{data['version']}版.docx"
    return build_catalogue_xlsx(info, data["items"], data["changes"], data["versions"]), f"{title}-第{data['version']}版.xlsx"


# -- mid-year adjustment -------------------------------------------------------------------------

def _bad(msg_zh: str, msg_en: str, field: str, **extra) -> ApiError:
    return ApiError(422, "bad_adjustment", msg_zh, msg_en, field, **extra)


def _check(ctx, job: dict, changes: list[dict]) -> None:
    decided = dec.decisions_of(ctx, job["id"])
    if not changes:
        raise _bad("请至少给出一项调整 (add/withdraw/reschedule)", "give at least one change", "changes")
    for i, ch in enumerate(changes):
        action = ch.get("action")
        if action not in ACTIONS:
            raise _bad(f"第{i + 1}项调整的 action 应为 add (新增)、withdraw (撤回) 或 reschedule (调整时间)",
                       f"change {i + 1}: action must be add, withdraw or reschedule", f"changes[{i}].action")
        if action == "add":
            if not isinstance(ch.get("fields"), dict) or not ch["fields"].get("title"):
                raise _bad(f"第{i + 1}项调整 (新增) 须给出事项字段, 至少有决策事项名称 (fields.title)",
                           f"change {i + 1}: add needs fields with a title", f"changes[{i}].fields")
            continue
        row = ch.get("row")
        d = decided.get(row) if isinstance(row, int) else None
        if d is None or d["decision"] != "adopt" or d["withdrawn_version"] is not None:
            raise _bad(f"第{i + 1}项调整: 第{row}行不是目录中的事项 (须已采纳且未撤回)",
                       f"change {i + 1}: row {row} is not in the catalogue (adopted, not withdrawn)",
                       f"changes[{i}].row")
        if action == "reschedule":
            if not str(ch.get("planned_date") or "").strip():
                raise _bad(f"第{i + 1}项调整 (调整时间) 须给出新的计划时间 (planned_date)",
                           f"change {i + 1}: reschedule needs a planned_date", f"changes[{i}].planned_date")
            dec.check_planned(ch["planned_date"], dec.catalogue_year(ctx, job), f"changes[{i}].planned_date")


def adjust(ctx, key: KeyInfo, job_id: str, reason: str, changes: list[dict], reviewer: str | None = None) -> dict:
    """Apply a mid-year adjustment as the next numbered version; the version and what changed."""
    reason = (reason or "").strip()
    if not reason:
        raise ApiError(422, "reason_required", "目录调整须说明理由 (reason)", "an adjustment needs a reason", "reason")
    job = dec.done_job(ctx, key, job_id)
    _check(ctx, job, changes)
    for ch in changes:  # every added row must screen before anything is written
        if ch["action"] == "add":
            dec.screen_data(ctx, job, ch["fields"], 0)
    version = _next_version(ctx, key, job["id"], reason, reviewer)
    applied = []
    for ch in changes:
        why = (ch.get("reason") or "").strip() or reason
        if ch["action"] == "withdraw":
            with ctx.db.write() as conn:
                conn.execute(update(row_decisions).where(row_decisions.c.job_id == job["id"],
                                                         row_decisions.c.row_no == ch["row"])
                             .values(withdrawn_version=version))
                title = conn.execute(select(screenings.c.input).where(
                    screenings.c.job_id == job["id"], screenings.c.row_no == ch["row"])).scalar() or {}
                dec.log_change(conn, job["id"], "withdraw", ch["row"], why, key, reviewer,
                               {"title": title.get("title")}, version)
            applied.append({"action": "withdraw", "row": ch["row"]})
        elif ch["action"] == "reschedule":
            view = dec.fix_row(ctx, key, job["id"], ch["row"], {"planned_date": ch["planned_date"]}, why, reviewer,
                               action="reschedule", version=version)
            applied.append({"action": "reschedule", "row": ch["row"], "planned_date": view["planned_date"],
                            "planned_period": view["planned_period"]})
        else:
            applied.append({"action": "add", "row": _add_row(ctx, key, job, ch["fields"], why, reviewer, version)})
    return {"job_id": job["id"], "version": version, "reason": reason, "changes": applied}


def _next_version(ctx, key: KeyInfo, job_id: str, reason: str, reviewer: str | None) -> int:
    """Number and record the next version; two adjustments at once get two numbers."""
    for attempt in range(5):
        try:
            with ctx.db.write() as conn:
                version = (dec.current_version(conn, job_id) or FIRST_VERSION) + 1
                conn.execute(insert(catalogue_versions).values(job_id=job_id, version=version, reason=reason,
                                                               key_id=key.id, reviewer=dec.who(key, reviewer),
                                                               created_at=utcnow()))
            return version
        except IntegrityError:
            if attempt == 4:
                raise ApiError(409, "concurrent_adjustment", "另一项目录调整正在进行, 请稍后重试",
                               "another adjustment is being saved: try again", "changes") from None
    raise AssertionError("unreachable")


def _add_row(ctx, key: KeyInfo, job: dict, fields: dict, reason: str, reviewer: str | None, version: int) -> int:
    for attempt in range(5):
        try:
            return _insert_row(ctx, key, job, fields, reason, reviewer, version)
        except IntegrityError:  # another row took the number meanwhile: take the next one
            if attempt == 4:
                raise ApiError(409, "concurrent_adjustment", "另一项目录调整正在进行, 请稍后重试",
                               "another adjustment is being saved: try again", "changes") from None
    raise AssertionError("unreachable")


def _insert_row(ctx, key: KeyInfo, job: dict, fields: dict, reason: str, reviewer: str | None, version: int) -> int:
    with ctx.db.write() as conn:
        row_no = (conn.execute(select(func.max(job_rows.c.row_no)).where(job_rows.c.job_id == job["id"])).scalar()
                  or 0) + 1
        data, answer = dec.screen_data(ctx, job, fields, row_no)
        now = utcnow()
        conn.execute(insert(job_rows).values(job_id=job["id"], row_no=row_no, data=data, error=None))
        conn.execute(insert(screenings).values(
            id=new_id(), created_at=now, key_id=job["key_id"], source="job", job_id=job["id"], row_no=row_no,
            input=data, answer=answer.model_dump(mode="json"), error=None, verdict=answer.verdict,
            model_version=ctx.screener.model_version, rules_version=ctx.screener.rules_version))
        conn.execute(insert(row_decisions).values(job_id=job["id"], row_no=row_no, decision="adopt", reason=reason,
                                                  key_id=key.id, reviewer=dec.who(key, reviewer), decided_at=now,
                                                  added_version=version))
        dec.recount(conn, job["id"])
        dec.log_change(conn, job["id"], "add", row_no, reason, key, reviewer, {"title": data.get("title")}, version)
    return row_no
