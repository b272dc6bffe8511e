"""The history page's queries: recent screenings and reviewer feedback, filtered, paged and
exported as CSV. Written with SQLAlchemy Core only, so the same code runs on SQLite and
PostgreSQL (JSON fields are read with the JSON path operators both dialects compile).

Who sees what is services.visibility's rule: a key sees the records it made (and the feedback
it gave or that was given on its records); an admin key sees everything."""
from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from sqlalchemy import and_, exists, func, or_, select

from model.normalise import normalise
from model.vocab import CATEGORY_ZH, EXCLUSION_ZH, LABEL_ZH, LEVEL_ZH, SOURCE_ZH, safe_cell
from model.vocab import VERDICT_OR_ERROR_ZH as VERDICT_ZH

from ..auth import KeyInfo
from ..db import Database, feedback, screenings
from .visibility import visible_where

# China has kept one offset all year since 1991: a fixed +8 needs no time-zone database.
BEIJING = dt.timezone(dt.timedelta(hours=8), "北京时间")
PAGE_SIZE = 50
EXPORT_BATCH = 1000
MAX_QUERY = 100


def beijing(value: dt.datetime | str | None) -> str:
    """A stored UTC time as a reader in China reads it."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def _title():
    return screenings.c.input["title"].as_string()


def _unit():
    return screenings.c.input["unit"].as_string()


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        return None


def _utc_start(day: dt.date) -> dt.datetime:
    # The reader's dates are Beijing dates; the database keeps UTC.
    return dt.datetime.combine(day, dt.time(), BEIJING).astimezone(dt.UTC)


@dataclass
class Filters:
    q: str = ""
    verdict: str = ""  # major | not_major | review | error
    source: str = ""  # screen | batch | job
    reviewed: str = ""  # yes | no
    agree: str = ""  # yes | no (feedback view)
    label: str = ""  # major | not_major (feedback view)
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    page: int = 1

    @classmethod
    def from_params(cls, params) -> Filters:
        def pick(name: str, allowed: tuple[str, ...]) -> str:
            v = (params.get(name) or "").strip()
            return v if v in allowed else ""

        try:
            page = max(1, min(10_000, int(params.get("page") or 1)))
        except ValueError:
            page = 1
        return cls(q=(params.get("q") or "").strip()[:MAX_QUERY],
                   verdict=pick("verdict", ("major", "not_major", "review", "error")),
                   source=pick("source", ("screen", "batch", "job")), reviewed=pick("reviewed", ("yes", "no")),
                   agree=pick("agree", ("yes", "no")), label=pick("label", ("major", "not_major")),
                   date_from=_day(params.get("date_from")), date_to=_day(params.get("date_to")), page=page)

    def query_string(self, view: str, **override) -> str:
        """These filters as a URL query (for the export links and the pager)."""
        from urllib.parse import urlencode

        values = {"view": view, "q": self.q, "verdict": self.verdict, "source": self.source,
                  "reviewed": self.reviewed, "agree": self.agree, "label": self.label,
                  "date_from": self.date_from.isoformat() if self.date_from else "",
                  "date_to": self.date_to.isoformat() if self.date_to else "", "page": self.page}
        values.update(override)
        return urlencode({k: v for k, v in values.items() if v not in ("", None, 1) or k == "view"})

    def _dates(self, column) -> list:
        out = []
        if self.date_from:
            out.append(column >= _utc_start(self.date_from))
        if self.date_to:
            out.append(column < _utc_start(self.date_to + dt.timedelta(days=1)))
        return out


# -- search: Traditional and Simplified alike ---------------------------------------------------

@lru_cache(maxsize=1)
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


def query_forms(q: str) -> list[str]:
    """The forms a search matches: as typed, as the project's normaliser reads it (Simplified,
    half-width) and that in Traditional, so 調整 finds 调整 and the reverse. Stored titles are
    kept as submitted, so the stored side is met in both scripts rather than rewritten."""
    simple = normalise(q)
    forms = [q, simple, _to_traditional().convert(simple)]
    return [f for i, f in enumerate(forms) if f and f not in forms[:i]]


def _matches(q: str, *columns) -> object:
    return or_(*(c.contains(form, autoescape=True) for form in query_forms(q) for c in columns))


# -- screenings ---------------------------------------------------------------------------------

def _screening_where(key: KeyInfo, f: Filters) -> list:
    cond = visible_where(screenings.c.key_id, key)
    if f.q:
        cond.append(_matches(f.q, _title(), _unit()))
    if f.verdict == "error":
        cond.append(screenings.c.verdict.is_(None))
    elif f.verdict:
        cond.append(screenings.c.verdict == f.verdict)
    if f.source:
        cond.append(screenings.c.source == f.source)
    reviewed = exists().where(feedback.c.screening_id == screenings.c.id)
    if f.reviewed == "yes":
        cond.append(reviewed)
    elif f.reviewed == "no":
        cond.append(~reviewed)
    return cond + f._dates(screenings.c.created_at)


def _feedback_counts(db: Database, ids: list[str]) -> dict[str, dict]:
    if not ids:
        return {}
    out: dict[str, dict] = {}
    with db.read() as conn:
        rows = conn.execute(select(feedback.c.screening_id, feedback.c.agree, feedback.c.label)
                            .where(feedback.c.screening_id.in_(ids)).order_by(feedback.c.id)).all()
    for sid, agree, label in rows:
        d = out.setdefault(sid, {"count": 0})
        d.update(count=d["count"] + 1, agree=agree, label=label)  # ascending ids: the last is the latest
    return out


def _screening_row(r, fb: dict | None) -> dict:
    verdict = r["verdict"] or "error"
    return {"id": r["id"], "created": beijing(r["created_at"]), "source": r["source"],
            "source_zh": SOURCE_ZH.get(r["source"], r["source"]), "job_id": r["job_id"], "row_no": r["row_no"],
            "title": r["title"] or "", "unit": r["unit"] or "", "verdict": verdict, "verdict_zh": VERDICT_ZH[verdict],
            "probability": r["probability"], "key_id": r["key_id"],
            "feedback": fb or {"count": 0}}


def list_screenings(db: Database, key: KeyInfo, f: Filters) -> tuple[list[dict], bool]:
    q = (select(screenings.c.id, screenings.c.created_at, screenings.c.source, screenings.c.job_id,
                screenings.c.row_no, screenings.c.verdict, screenings.c.key_id, _title().label("title"),
                _unit().label("unit"), screenings.c.answer["probability"].as_float().label("probability"))
         .where(*_screening_where(key, f))
         .order_by(screenings.c.created_at.desc(), screenings.c.id.desc())
         .limit(PAGE_SIZE + 1).offset((f.page - 1) * PAGE_SIZE))
    with db.read() as conn:
        rows = conn.execute(q).mappings().all()
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    fb = _feedback_counts(db, [r["id"] for r in rows])
    return [_screening_row(r, fb.get(r["id"])) for r in rows], more


def count_screenings(db: Database, key: KeyInfo, f: Filters) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(screenings).where(*_screening_where(key, f))).scalar_one()


SCREENING_CSV = ["记录编号", "时间(北京)", "来源", "任务编号", "行号", "决策事项名称", "承办单位", "结论", "概率", "置信度",
                 "决策类别", "分级", "排除类型", "需履行程序", "错误", "反馈数", "最新反馈", "模型版本", "规则版本"]


def _keyset(rows_query, created_col, id_col, last):
    """The next page after `last` in (created_at desc, id desc) order: stable while rows are added."""
    if last is None:
        return rows_query
    return rows_query.where(or_(created_col < last[0], and_(created_col == last[0], id_col < last[1])))


def _csv_line(values: list) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerow([safe_cell(v) if v is not None else "" for v in values])
    return buf.getvalue()


def export_screenings(db: Database, key: KeyInfo, f: Filters) -> Iterator[bytes]:
    # utf-8-sig: Excel on Windows reads a CSV as UTF-8 only when it starts with the BOM.
    yield ("\ufeff" + _csv_line(SCREENING_CSV)).encode("utf-8")
    base = (select(screenings.c.id, screenings.c.created_at, screenings.c.source, screenings.c.job_id,
                   screenings.c.row_no, screenings.c.input, screenings.c.answer, screenings.c.error,
                   screenings.c.verdict, screenings.c.model_version, screenings.c.rules_version)
            .where(*_screening_where(key, f))
            .order_by(screenings.c.created_at.desc(), screenings.c.id.desc()).limit(EXPORT_BATCH))
    last = None
    while True:
        with db.read() as conn:
            rows = conn.execute(_keyset(base, screenings.c.created_at, screenings.c.id, last)).mappings().all()
        if not rows:
            return
        fb = _feedback_counts(db, [r["id"] for r in rows])
        out = []
        for r in rows:
            inp, ans, err = r["input"] or {}, r["answer"] or {}, r["error"] or {}
            verdict = r["verdict"] or "error"
            latest = fb.get(r["id"])
            latest_txt = ""
            if latest:
                latest_txt = f"{'同意' if latest['agree'] else '不同意'} → {LABEL_ZH.get(latest['label'], latest['label'])}"
            out.append(_csv_line([
                r["id"], beijing(r["created_at"]), SOURCE_ZH.get(r["source"], r["source"]), r["job_id"], r["row_no"],
                inp.get("title"), inp.get("unit"), VERDICT_ZH[verdict], ans.get("probability"), ans.get("confidence"),
                CATEGORY_ZH.get(ans.get("category") or "", ""), LEVEL_ZH.get(ans.get("tier") or "", ""),
                EXCLUSION_ZH.get((ans.get("exclusion") or {}).get("type") or "", ""),
                "、".join(p["name"] for p in ans.get("procedures") or [] if p.get("required")),
                err.get("message_zh"), (latest or {}).get("count", 0), latest_txt, r["model_version"],
                r["rules_version"]]))
        yield "".join(out).encode("utf-8")
        last = (rows[-1]["created_at"], rows[-1]["id"])


# -- feedback ---------------------------------------------------------------------------------

def _feedback_where(key: KeyInfo, f: Filters) -> list:
    cond = visible_where(feedback.c.key_id, key, screenings.c.key_id)
    if f.q:
        cond.append(_matches(f.q, _title(), feedback.c.comment, feedback.c.reviewer))
    if f.agree:
        cond.append(feedback.c.agree == (f.agree == "yes"))
    if f.label:
        cond.append(feedback.c.label == f.label)
    return cond + f._dates(feedback.c.created_at)


def _feedback_select():
    return (select(feedback.c.id, feedback.c.created_at, feedback.c.screening_id, feedback.c.agree,
                   feedback.c.label, feedback.c.verdict, feedback.c.category, feedback.c.exclusion,
                   feedback.c.comment, feedback.c.reviewer, feedback.c.key_id, _title().label("title"),
                   _unit().label("unit"))
            .select_from(feedback.join(screenings, screenings.c.id == feedback.c.screening_id)))


def _feedback_row(r) -> dict:
    return {"id": r["id"], "created": beijing(r["created_at"]), "screening_id": r["screening_id"],
            "title": r["title"] or "", "unit": r["unit"] or "", "agree": r["agree"],
            "label": r["label"], "label_zh": LABEL_ZH.get(r["label"], r["label"]),
            "verdict_zh": VERDICT_ZH.get(r["verdict"] or "", r["verdict"] or ""),
            "category_zh": CATEGORY_ZH.get(r["category"] or "", ""),
            "exclusion_zh": EXCLUSION_ZH.get(r["exclusion"] or "", ""),
            "comment": r["comment"] or "", "reviewer": r["reviewer"] or "", "key_id": r["key_id"]}


def list_feedback(db: Database, key: KeyInfo, f: Filters) -> tuple[list[dict], bool]:
    q = (_feedback_select().where(*_feedback_where(key, f)).order_by(feedback.c.id.desc())
         .limit(PAGE_SIZE + 1).offset((f.page - 1) * PAGE_SIZE))
    with db.read() as conn:
        rows = conn.execute(q).mappings().all()
    return [_feedback_row(r) for r in rows[:PAGE_SIZE]], len(rows) > PAGE_SIZE


def count_feedback(db: Database, key: KeyInfo, f: Filters) -> int:
    q = (select(func.count()).select_from(feedback.join(screenings, screenings.c.id == feedback.c.screening_id))
         .where(*_feedback_where(key, f)))
    with db.read() as conn:
        return conn.execute(q).scalar_one()


FEEDBACK_CSV = ["反馈编号", "时间(北京)", "记录编号", "决策事项名称", "承办单位", "服务结论", "是否同意", "正确结论",
                "正确类别", "排除类型", "意见", "审核人"]


def export_feedback(db: Database, key: KeyInfo, f: Filters) -> Iterator[bytes]:
    yield ("\ufeff" + _csv_line(FEEDBACK_CSV)).encode("utf-8")
    base = _feedback_select().where(*_feedback_where(key, f)).order_by(feedback.c.id.desc()).limit(EXPORT_BATCH)
    last_id = None
    while True:
        q = base if last_id is None else base.where(feedback.c.id < last_id)
        with db.read() as conn:
            rows = conn.execute(q).mappings().all()
        if not rows:
            return
        yield "".join(_csv_line([
            d["id"], d["created"], d["screening_id"], d["title"], d["unit"], d["verdict_zh"],
            "同意" if d["agree"] else "不同意", d["label_zh"], d["category_zh"], d["exclusion_zh"], d["comment"],
            d["reviewer"]]) for d in map(_feedback_row, rows)).encode("utf-8")
        last_id = rows[-1]["id"]
