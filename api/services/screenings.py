"""Screenings: recording them, reading one back (only where the key may see it) and adding a
reviewer's feedback to it. Used by the JSON routers and the pages alike."""
from __future__ import annotations

import re
import time

from fastapi.concurrency import run_in_threadpool
from sqlalchemy import insert, select

from model.contract import MatterIn
from model.errors import ScreenInputError

from .. import metrics
from ..auth import KeyInfo
from ..db import RawJSON, feedback, screenings, utcnow
from ..errors import ApiError
from .ids import new_id
from .visibility import can_see

# A record written by another service process may still sit in that process's writer queue
# (flushed every few tens of milliseconds): look again for this long before saying 404.
NOT_YET_WRITTEN_GRACE = 0.5
_OUR_ID = re.compile(r"[0-9a-f]{32}")


def not_found() -> ApiError:
    # Someone else's record is "not found", not "forbidden", so ids cannot be probed.
    return ApiError(404, "screening_not_found", "找不到该筛查记录", "no such screening record", "screening_id")


# -- recording -------------------------------------------------------------------------------------

def new_record(ctx, key: KeyInfo, source: str, matter: MatterIn, answer_json: str, verdict: str) -> dict:
    """The record of one screening by `key` (source: screen | batch), its answer serialised once."""
    return {"id": new_id(), "created_at": utcnow(), "key_id": key.id, "source": source, "job_id": None,
            "row_no": None, "input": RawJSON(matter.model_dump_json(exclude_none=True)),
            "answer": RawJSON(answer_json), "error": None, "verdict": verdict,
            "model_version": ctx.screener.model_version, "rules_version": ctx.screener.rules_version}


def with_id(answer_json: str, screening_id: str) -> str:
    """The contract's answer plus its record id, without parsing the answer back into a dict."""
    return f'{{"screening_id":"{screening_id}",{answer_json[1:]}'


async def keep(ctx, records: list[dict]) -> None:
    """Hand records to the writer (or write them now when the settings ask for strict audit)."""
    if ctx.settings.record_sync:
        await run_in_threadpool(commit, ctx, records)
        return
    for i, rec in enumerate(records):
        if not ctx.recorder.try_submit(rec):
            # Queue full: wait for room off the event loop (back-pressure, never a dropped record).
            await run_in_threadpool(lambda rest=records[i:]: [ctx.recorder.submit(r) for r in rest])
            return


def commit(ctx, records: list[dict]) -> None:
    """Write records in one transaction before returning (a page reads them back at once)."""
    with ctx.db.write() as conn:
        conn.execute(insert(screenings), records)


async def screen_one(ctx, key: KeyInfo, matter: MatterIn, source: str = "screen", sync: bool = False):
    """Screen one matter through the app's batcher and record it; (answer, answer JSON, record)."""
    answer = await ctx.batcher.screen(matter)
    answer_json = answer.model_dump_json()
    rec = new_record(ctx, key, source, matter, answer_json, answer.verdict)
    if sync:
        await run_in_threadpool(commit, ctx, [rec])
    else:
        await keep(ctx, [rec])
    metrics.SCREENINGS.labels(source, answer.verdict).inc()
    return answer, answer_json, rec


def screen_batch(ctx, matters: list[MatterIn]):
    """Answers for a batch, in order; a matter the engine refuses fails the whole batch, naming it."""
    try:
        return ctx.screener.screen_many(matters, start_row=0)
    except ScreenInputError as exc:
        i = exc.row if exc.row is not None else 0
        raise ApiError(422, exc.code, f"第{i + 1}个事项: {exc.zh}", f"matter {i + 1}: {exc.en}",
                       f"matters[{i}].{exc.field}" if exc.field else f"matters[{i}]", index=i) from None


# -- reading ---------------------------------------------------------------------------------------

def load(ctx, screening_id: str, wait: bool = True) -> dict | None:
    """A screening record, whoever made it; waits for the writer when it is still queued here."""
    if len(screening_id) > 64:
        return None
    if wait:
        ctx.recorder.wait_written(screening_id)
    with ctx.db.read() as conn:
        row = conn.execute(select(screenings).where(screenings.c.id == screening_id)).mappings().first()
    return dict(row) if row else None


def get_visible(ctx, key: KeyInfo, screening_id: str, grace: float = 0.0) -> dict:
    """The record if `key` may see it, else 404. `grace`: how long to look again for one of our
    ids that another process may not have written yet."""
    rec = load(ctx, screening_id)
    deadline = time.monotonic() + (grace if _OUR_ID.fullmatch(screening_id) else 0)
    while rec is None and time.monotonic() < deadline:
        time.sleep(0.05)
        rec = load(ctx, screening_id, wait=False)
    if rec is None or not can_see(rec["key_id"], key):
        raise not_found()
    return rec


def feedback_of(ctx, screening_id: str) -> list[dict]:
    """The feedback given on one screening, oldest first."""
    with ctx.db.read() as conn:
        rows = conn.execute(select(feedback).where(feedback.c.screening_id == screening_id)
                            .order_by(feedback.c.id)).mappings().all()
    return [dict(r) for r in rows]


def public_record(ctx, key: KeyInfo, screening_id: str) -> dict:
    """GET /api/v1/screenings/{id}: the record with its feedback, as the API shows it."""
    rec = get_visible(ctx, key, screening_id)
    fb = feedback_of(ctx, screening_id)
    return {"screening_id": rec["id"], "created_at": rec["created_at"].isoformat(), "source": rec["source"],
            "job_id": rec["job_id"], "row": rec["row_no"], "input": rec["input"], "answer": rec["answer"],
            "error": rec["error"], "model_version": rec["model_version"], "rules_version": rec["rules_version"],
            "feedback": [{"id": f["id"], "agree": f["agree"], "label": f["label"], "comment": f["comment"],
                          "reviewer": f["reviewer"], "created_at": f["created_at"].isoformat()} for f in fb]}


# -- feedback --------------------------------------------------------------------------------------

def _checked_label(verdict: str, agree: bool, label: str | None) -> str:
    if agree:
        if verdict == "review" and label is None:
            raise ApiError(422, "label_required", "原结论为“待人工研判”, 请给出正确结论 (label)",
                           "the verdict was review: give the correct label", "label")
        if label is None:
            return verdict
        if verdict != "review" and label != verdict:
            raise ApiError(422, "label_conflicts", f"同意原结论时, label 应与原结论 ({verdict}) 一致",
                           f"agreeing with the verdict, label must equal it ({verdict})", "label")
        return label
    if label is None:
        raise ApiError(422, "label_required", "不同意时请给出正确结论 (label: major 或 not_major)",
                       "when disagreeing, give the correct label (major or not_major)", "label")
    if label == verdict:
        raise ApiError(422, "label_conflicts", "不同意原结论, 但给出的 label 与原结论相同",
                       "disagreeing, yet the label equals the verdict", "label")
    return label


def add_feedback(ctx, key: KeyInfo, body) -> dict:
    """A reviewer's opinion on a screening `key` may see (a FeedbackIn), committed before return."""
    rec = get_visible(ctx, key, body.screening_id, grace=NOT_YET_WRITTEN_GRACE)
    verdict = rec["verdict"]
    if verdict is None:
        raise ApiError(422, "no_answer", "该记录是错误行, 没有可审核的结论", "this record is an input error: there "
                       "is no verdict to review", "screening_id")
    label = _checked_label(verdict, body.agree, body.label)
    row = {"screening_id": rec["id"], "key_id": key.id, "agree": body.agree, "label": label, "verdict": verdict,
           "category": body.category, "exclusion": body.exclusion, "comment": body.comment or None,
           "reviewer": body.reviewer or None, "created_at": utcnow()}
    # Committed before we answer: an acknowledged review is never lost.
    with ctx.db.write() as conn:
        row["id"] = conn.execute(insert(feedback).returning(feedback.c.id), row).scalar_one()
    metrics.FEEDBACK.labels(str(body.agree).lower()).inc()
    return {"id": row["id"], "screening_id": row["screening_id"], "agree": row["agree"], "label": label,
            "verdict": verdict, "created_at": row["created_at"].isoformat()}
