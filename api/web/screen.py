"""单项研判 /ui/screen: the screening form and its answer, a record's page
/ui/screenings/{id}, and the reviewer's feedback form on both. A screening goes through the
same service as POST /api/v1/screen, feedback through the same one as POST /api/v1/feedback."""
from __future__ import annotations

import math

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from model.contract import MAX_DESCRIPTION, MAX_TITLE, parse_matter
from model.errors import ScreenInputError
from model.vocab import SOURCE_ZH

from ..auth import KeyInfo
from ..errors import ApiError, translate_validation
from ..schemas import FeedbackIn
from ..services import screenings
from ..services.history import beijing
from .base import (
    PageError,
    checked_form,
    ctx_of,
    form_text,
    page_router,
    profile_choices,
    render,
    saved_id,
    signed_in,
)
from .present import CATEGORY_CHOICES, EXCLUSION_CHOICES, LEVEL_CHOICES, answer_view, matter_facts

router = page_router()
NUMBER_FIELDS = (("amount_wan", "金额(万元)"), ("people", "涉及人数"), ("area_mu", "面积(亩)"),
                 ("length_km", "长度(公里)"), ("duration_years", "期限(年)"))
TEXT_FIELDS = ("title", "description", "unit", "profile", "level", "planned_date")

def _visible_record(request: Request, key: KeyInfo, screening_id: str) -> dict:
    try:
        return screenings.get_visible(ctx_of(request), key, screening_id)
    except ApiError:
        raise PageError(404, "找不到该筛查记录", "该记录不存在, 或不属于当前密钥。") from None


def _feedback_of(request: Request, screening_id: str) -> list[dict]:
    return [{**r, "created": beijing(r["created_at"])} for r in screenings.feedback_of(ctx_of(request), screening_id)]


def _record_context(request: Request, key: KeyInfo, rec: dict) -> dict:
    matter = rec["input"] or {}
    return {
        "record": {"id": rec["id"], "created": beijing(rec["created_at"]), "source": rec["source"],
                   "source_zh": SOURCE_ZH.get(rec["source"], rec["source"]), "job_id": rec["job_id"],
                   "row_no": rec["row_no"], "error": rec["error"], "model_version": rec["model_version"],
                   "rules_version": rec["rules_version"]},
        "matter": matter, "matter_facts": matter_facts(matter, ctx_of(request).screener),
        "view": answer_view(rec["answer"], matter, ctx_of(request).screener) if rec["answer"] else None,
        "feedback": _feedback_of(request, rec["id"]),
        "can_feedback": key.allows("feedback"), "can_screen": key.allows("screen"), "can_jobs": key.allows("jobs"),
        "category_choices": CATEGORY_CHOICES, "exclusion_choices": EXCLUSION_CHOICES,
    }


def _screen_form_context(request: Request, values: dict | None = None, errors: dict | None = None) -> dict:
    return {"profiles": profile_choices(request), "default_profile": ctx_of(request).screener.default_profile,
            "levels": LEVEL_CHOICES, "number_fields": NUMBER_FIELDS, "values": values or {},
            "errors": errors or {}, "max_title": MAX_TITLE, "max_description": MAX_DESCRIPTION}


@router.get("/ui/screen")
async def screen_page(request: Request, id: str | None = None, saved: str | None = None,
                      key: KeyInfo = Depends(signed_in("screen"))):
    context: dict = {}
    values: dict = {}
    if id:
        rec = await run_in_threadpool(_visible_record, request, key, id)
        context = await run_in_threadpool(_record_context, request, key, rec)
        values = _form_values(rec["input"])
    return render(request, "screen.html", page="screen", saved=saved_id(saved), return_to="screen",
                  **_screen_form_context(request, values), **context)


def _form_values(matter: dict | None) -> dict:
    """A stored matter as the form shows it: 314400.0 reads as 314400."""
    out = {}
    for k, v in (matter or {}).items():
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        out[k] = "" if v is None else str(v)
    return out


def _matter_from_form(form: FormData) -> tuple[dict, dict, dict]:
    """The form's values as typed (to show them again), the matter for the contract, and the
    errors per field in Chinese."""
    values = {name: form_text(form, name, 25_000) for name in TEXT_FIELDS + tuple(n for n, _ in NUMBER_FIELDS)}
    errors: dict[str, str] = {}
    matter: dict = {k: values[k] for k in TEXT_FIELDS if values[k]}
    for name, label in NUMBER_FIELDS:
        raw = values[name].replace(",", "").replace("，", "")
        if not raw:
            continue
        try:
            number = float(raw)
        except ValueError:
            errors[name] = f"{label}应为数字, 例如 3000 或 12.5"
            continue
        if not math.isfinite(number) or number < 0:
            errors[name] = f"{label}应为不小于 0 的数字"
            continue
        matter[name] = number
    return values, matter, errors


@router.post("/ui/screen")
async def screen_submit(request: Request, key: KeyInfo = Depends(signed_in("screen"))):
    form = await checked_form(request)
    values, matter, errors = _matter_from_form(form)
    parsed = None
    if not errors:
        try:
            parsed = parse_matter(matter)
        except ScreenInputError as exc:
            errors[exc.field or "title"] = exc.zh
    rec = None
    if parsed is not None:
        try:
            # The service POST /api/v1/screen uses (an unknown profile is refused here). The record
            # is committed before the redirect, not queued like the API's: the page that follows
            # reads it back (possibly from another worker process), and feedback links to it.
            _, _, rec = await screenings.screen_one(ctx_of(request), key, parsed, sync=True)
        except ScreenInputError as exc:
            errors[exc.field or "title"] = exc.zh
    if rec is None:
        return render(request, "screen.html", status=422, page="screen", saved=None, return_to="screen",
                      form_error="请修改标出的字段后重新提交。", **_screen_form_context(request, values, errors))
    return RedirectResponse(f"/ui/screen?id={rec['id']}#result", status_code=303)


@router.get("/ui/screenings/{screening_id}")
async def record_page(request: Request, screening_id: str, saved: str | None = None,
                      key: KeyInfo = Depends(signed_in("screen", "feedback", "jobs"))):
    rec = await run_in_threadpool(_visible_record, request, key, screening_id)
    context = await run_in_threadpool(_record_context, request, key, rec)
    return render(request, "record.html", page="history", saved=saved_id(saved), return_to="record", **context)


@router.post("/ui/screenings/{screening_id}/feedback")
async def feedback_submit(request: Request, screening_id: str, key: KeyInfo = Depends(signed_in("feedback"))):
    form = await checked_form(request)
    rec = await run_in_threadpool(_visible_record, request, key, screening_id)
    return_to = "screen" if form_text(form, "return_to") == "screen" and key.allows("screen") else "record"
    values = {k: form_text(form, k, 6000) for k in ("agree", "label", "category", "exclusion", "comment", "reviewer")}
    error, field = None, None
    fid = None
    if rec.get("verdict") == "review" and values["label"] not in ("major", "not_major"):
        error, field = "请选择该事项是否属于重大行政决策。", "label"
    elif values["agree"] not in ("yes", "no"):
        error, field = "请选择“同意”或“不同意”。", "agree"
    else:
        try:
            body = FeedbackIn(screening_id=rec["id"], agree=values["agree"] == "yes", label=values["label"] or None,
                              category=values["category"] or None, exclusion=values["exclusion"] or None,
                              comment=values["comment"] or None, reviewer=values["reviewer"] or None)
            # The feedback service the API uses: the same checks, the same committed row.
            fid = (await run_in_threadpool(screenings.add_feedback, ctx_of(request), key, body))["id"]
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err.get("loc") else None
            # The API's wording for the same mistake (too long, a control character …).
            error = translate_validation([err])[0]["message_zh"]
        except ApiError as exc:
            error, field = exc.zh, exc.field
    if fid is not None:
        target = f"/ui/screen?id={rec['id']}" if return_to == "screen" else f"/ui/screenings/{rec['id']}"
        return RedirectResponse(f"{target}{'&' if '?' in target else '?'}saved={fid}#feedback", status_code=303)
    context = await run_in_threadpool(_record_context, request, key, rec)
    context.update(feedback_error=error, feedback_field=field, feedback_values=values)
    if return_to == "screen":
        matter_values = _form_values(rec["input"])
        return render(request, "screen.html", status=422, page="screen", saved=None, return_to="screen",
                      **_screen_form_context(request, matter_values), **context)
    return render(request, "record.html", status=422, page="history", saved=None, return_to="record", **context)

