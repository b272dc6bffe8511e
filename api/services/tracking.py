"""The shared tracking board of a catalogue: for each adopted matter, each procedure it must go
through with its deadline on the working-day calendar, ticked in the database (who, when) by
anyone who may see the job; what is overdue and what falls due soon, by unit; an .ics calendar
of the open deadlines; and the decisions due for post-decision evaluation.

"Today" is the date in China (Asia/Shanghai); every function takes `today` so a page or a test
can look at another day."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from model.dates import local_today
from model.vocab import PROCEDURE_NAMES
from model.workdays import add_months, add_workdays, on_or_after_workday

from ..auth import KeyInfo
from ..db import procedure_ticks, utcnow
from ..errors import ApiError
from . import catalogue as cat
from . import decisions as dec

SOON_WORKING_DAYS = 10
EVALUATION_STEP = "决策后评估"
NO_UNIT = "(未填承办单位)"


def deadline_of(proc: dict) -> tuple[dt.date | None, str]:
    """A procedure's deadline and what kind it is: the latest finish, else the latest start, else
    the earliest day (steps after the decision: publication, archiving, evaluation)."""
    d = proc.get("deadline") or {}
    for k in ("latest_finish", "latest_start", "earliest"):
        if d.get(k):
            return dt.date.fromisoformat(d[k]), k
    return None, ""


def _ticks(ctx, job_id: str) -> dict[tuple[int, str], dict]:
    with ctx.db.read() as conn:
        rows = conn.execute(select(procedure_ticks).where(procedure_ticks.c.job_id == job_id)).mappings().all()
    return {(r["row_no"], r["procedure"]): dict(r) for r in rows}


def _tick_view(t: dict | None) -> dict | None:
    if not t:
        return None
    return {"done": t["done"], "note": t["note"], "reviewer": t["reviewer"], "ticked_at": t["ticked_at"].isoformat()}


def _evaluation_date(ctx, item: dict) -> dt.date | None:
    answer = item.get("answer") or {}
    for p in answer.get("procedures", []):
        if p["name"] == EVALUATION_STEP:
            day, _ = deadline_of(p)
            if day:
                return day
    planned = (item.get("input") or {}).get("planned_date")
    if not planned:
        return None
    try:
        months = ctx.screener.rulebooks.get(answer.get("profile") or "national").settings.post_evaluation_months
    except KeyError:
        return None
    return on_or_after_workday(add_months(dt.date.fromisoformat(planned), months))[0]


def board(ctx, key: KeyInfo, job_id: str, today: dt.date | None = None,
          soon_working_days: int = SOON_WORKING_DAYS) -> dict:
    """The board: items with their procedures (deadline, tick, overdue, due soon), the overdue
    and due-soon lists by unit, and the evaluation list."""
    job = dec.done_job(ctx, key, job_id)
    today = today or local_today()
    soon_until, _ = add_workdays(today, soon_working_days)
    ticks = _ticks(ctx, job["id"])
    out_items, overdue, due_soon = [], defaultdict(list), defaultdict(list)
    for it in cat.items(ctx, job):
        procs = []
        for p in (it.get("answer") or {}).get("procedures", []):
            if p.get("status") not in ("required", "recommended") and not p.get("required"):
                continue
            day, kind = deadline_of(p)
            tick = ticks.get((it["row"], p["name"]))
            done = bool(tick and tick["done"])
            entry = {"name": p["name"], "status": p.get("status") or "required",
                     "deadline": day.isoformat() if day else None, "deadline_kind": kind,
                     "rule": (p.get("deadline") or {}).get("rule"), "tick": _tick_view(tick), "done": done,
                     "overdue": bool(day and not done and day < today and kind != "earliest"),
                     "due_soon": bool(day and not done and today <= day <= soon_until and kind != "earliest")}
            procs.append(entry)
            unit = it.get("unit") or NO_UNIT
            line = {"row": it["row"], "title": it["title"], "procedure": p["name"], "deadline": entry["deadline"]}
            if entry["overdue"]:
                overdue[unit].append(line)
            elif entry["due_soon"]:
                due_soon[unit].append(line)
        out_items.append({"row": it["row"], "seq": it["seq"], "title": it["title"], "unit": it["unit"],
                          "planned": it["planned_label"], "procedures": procs})
    return {"job_id": job["id"], "today": today.isoformat(), "due_soon_until": soon_until.isoformat(),
            "items": out_items,
            "overdue": {u: _by_date(v) for u, v in sorted(overdue.items())},
            "due_soon": {u: _by_date(v) for u, v in sorted(due_soon.items())},
            "evaluation": evaluation_list(ctx, job, today)}


def _by_date(lines: list[dict]) -> list[dict]:
    return sorted(lines, key=lambda x: (x["deadline"] or "", x["row"]))


def evaluation_list(ctx, job: dict, today: dt.date, within_days: int = 30) -> list[dict]:
    """Adopted matters whose post-decision evaluation falls due by `today + within_days` and is
    not ticked done, earliest first."""
    ticks = _ticks(ctx, job["id"])
    horizon = today + dt.timedelta(days=within_days)
    out = []
    for it in cat.items(ctx, job):
        day = _evaluation_date(ctx, it)
        tick = ticks.get((it["row"], EVALUATION_STEP))
        if day is None or day > horizon or (tick and tick["done"]):
            continue
        out.append({"row": it["row"], "title": it["title"], "unit": it["unit"], "due": day.isoformat(),
                    "overdue": day < today})
    return sorted(out, key=lambda x: (x["due"], x["row"]))


def tick(ctx, key: KeyInfo, job_id: str, row_no: int, procedure: str, done: bool = True, note: str | None = None,
         reviewer: str | None = None) -> dict:
    """Mark one procedure of a catalogue matter done (or not done again), with who and when."""
    if procedure not in PROCEDURE_NAMES:
        raise ApiError(422, "unknown_procedure", f"未知的程序: {procedure} (可选: {'、'.join(PROCEDURE_NAMES)})",
                       f"unknown procedure: {procedure}", "procedure")
    job = dec.done_job(ctx, key, job_id)
    decided = dec.decisions_of(ctx, job["id"]).get(row_no)
    if not decided or decided["decision"] != "adopt" or decided["withdrawn_version"] is not None:
        raise ApiError(422, "not_in_catalogue", f"第{row_no}行不在目录中 (须已采纳且未撤回)",
                       f"row {row_no} is not in the catalogue (adopted, not withdrawn)", "row")
    values = {"done": bool(done), "note": (note or "").strip() or None, "key_id": key.id,
              "reviewer": dec.who(key, reviewer), "ticked_at": utcnow()}
    cond = (procedure_ticks.c.job_id == job["id"], procedure_ticks.c.row_no == row_no,
            procedure_ticks.c.procedure == procedure)
    try:
        with ctx.db.write() as conn:
            if conn.execute(update(procedure_ticks).where(*cond).values(**values)).rowcount == 0:
                conn.execute(insert(procedure_ticks).values(job_id=job["id"], row_no=row_no, procedure=procedure,
                                                            **values))
    except IntegrityError:  # two people ticked the same step at once: the later tick wins
        with ctx.db.write() as conn:
            conn.execute(update(procedure_ticks).where(*cond).values(**values))
    return {"row": row_no, "procedure": procedure, **_tick_view(values)}


def ics(ctx, key: KeyInfo, job_id: str, today: dt.date | None = None) -> bytes:
    """The open deadlines of the board as an iCalendar file (all-day events, Beijing dates)."""
    from icalendar import Calendar, Event

    data = board(ctx, key, job_id, today)
    cal = Calendar()
    cal.add("prodid", "-//decision-screen//重大行政决策目录程序节点//ZH")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", "重大行政决策程序节点")
    cal.add("x-wr-timezone", "Asia/Shanghai")
    stamp = utcnow()
    for it in data["items"]:
        for p in it["procedures"]:
            if not p["deadline"] or p["done"]:
                continue
            day = dt.date.fromisoformat(p["deadline"])
            ev = Event()
            ev.add("uid", f"{data['job_id']}-{it['row']}-{PROCEDURE_NAMES.index(p['name'])}@decision-screen")
            ev.add("dtstamp", stamp)
            ev.add("dtstart", day)
            ev.add("dtend", day + dt.timedelta(days=1))
            when = "最迟完成" if p["deadline_kind"] == "latest_finish" else (
                "最迟启动" if p["deadline_kind"] == "latest_start" else "最早可办")
            ev.add("summary", f"【{p['name']}】{it['title']} ({when})")
            ev.add("description", f"承办单位: {it['unit'] or NO_UNIT}\n计划决策时间: {it['planned']}\n{p['rule'] or ''}")
            cal.add_component(ev)
    return cal.to_ical()
