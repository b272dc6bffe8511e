"""Spreadsheet jobs as the routers and the pages use them: create one from an upload, read one
the key may see, list a key's recent jobs, and build the result files."""
from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import select

from model.dates import catalogue_year_of, tolerant_row
from model.neardup import find_near_duplicates
from model.vocab import unknown_profile

from ..auth import KeyInfo
from ..callback_policy import CallbackPolicy
from ..db import row_decisions
from ..errors import ApiError, check_text
from ..export import build_result_xlsx, planned_text, result_jsonl
from ..jobs import create_job, get_job, job_records, recent_jobs
from ..uploads import parse_upload, validate_rows
from .ids import new_id
from .visibility import can_see


def check_callback(url: str | None, settings) -> str | None:
    """The callback URL to keep (None when blank), or a 422 when it is malformed or not allowed."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    check_text(url, "callback_url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise ApiError(422, "bad_callback_url", "回调地址应为 http(s)://… 的完整网址",
                       "callback_url must be a full http(s):// URL", "callback_url")
    problem = CallbackPolicy.from_setting(settings.callback_allow).check_url(url)
    if problem:
        raise ApiError(422, "callback_url_not_allowed", "回调地址不在允许范围内 (见 DECISION_SCREEN_CALLBACK_ALLOW)",
                       f"callback_url not allowed: {problem}", "callback_url")
    return url


def check_size(data: bytes, settings) -> None:
    """413 for a file over the upload limit (the caller reads at most one byte past it)."""
    if len(data) > settings.max_upload_bytes:
        mb = settings.max_upload_bytes / (1024 * 1024)
        raise ApiError(413, "file_too_large", f"文件过大: 上限 {mb:g} MB", f"file too large: the limit is {mb:g} MB",
                       "file")


def check_year(year) -> int | None:
    """The catalogue year given with an upload (blank: none), or a 422."""
    if year is None or (isinstance(year, str) and not year.strip()):
        return None
    try:
        y = int(str(year).strip())
    except ValueError:
        y = 0
    if not 1990 <= y <= 2200:
        raise ApiError(422, "bad_catalogue_year", f"目录年度“{str(year)[:20]}”无效, 应为四位年份, 如 2027",
                       "catalogue_year must be a four-digit year such as 2027", "catalogue_year")
    return y


def create_from_upload(ctx, key: KeyInfo, filename: str, data: bytes, profile: str | None, callback_url: str | None,
                       skip_bad_rows: bool, base_url: str, catalogue_year: int | None = None) -> dict:
    """Check the whole file, then queue it as a job (committed, every row) and wake the worker.
    Planned dates are read as offices write them (model.dates), periods without a year in the
    catalogue year (given, else the year most dates of the file name); an unreadable date
    no longer makes a bad row: the row is screened with a warning quoting it."""
    check_text(filename, "file")
    check_text(profile, "profile")
    profiles = set(ctx.screener.rulebooks.names())
    if profile is not None and profile not in profiles:
        raise ApiError.of(unknown_profile(profile, profiles), 422)
    parsed = parse_upload(filename, data, ctx.settings.max_job_rows)
    year = catalogue_year or catalogue_year_of(parsed.rows)
    parsed.rows = [tolerant_row(r, year) for r in parsed.rows]
    errors = validate_rows(parsed, profiles, profile, limit=100)
    row_errors: dict[int, dict] = {}
    if errors and not skip_bad_rows:
        first = errors[0]
        more = f" (共至少 {len(errors)} 行有错误)" if len(errors) > 1 else ""
        raise ApiError(422, "bad_rows", f"{first['message_zh']}{more}", f"{first['message_en']}"
                       f"{f' (at least {len(errors)} rows have errors)' if len(errors) > 1 else ''}",
                       first.get("field"), row=first["row"], sheet_row=first["sheet_row"], errors=errors)
    if errors:  # skip_bad_rows: find them all, keep them as error rows of the result
        for e in validate_rows(parsed, profiles, profile, limit=len(parsed.rows)):
            row_errors[e["row"]] = e
    job_id = new_id()
    job = create_job(ctx.db, job_id=job_id, key_id=key.id, filename=filename or "upload", profile=profile,
                     rows=parsed.rows, row_errors=row_errors, callback_url=callback_url,
                     result_url=f"{base_url.rstrip('/')}/api/v1/jobs/{job_id}/result",
                     options={"ignored_columns": parsed.ignored_columns, "columns": parsed.columns,
                              "skip_bad_rows": skip_bad_rows, "file_type": parsed.file_type,
                              "catalogue_year": year})
    if ctx.worker is not None:
        ctx.worker.wake.set()
    return job


def not_found() -> ApiError:
    # Someone else's job is "not found", not "forbidden", so ids cannot be probed.
    return ApiError(404, "job_not_found", "找不到该任务", "no such job", "job_id")


def get_visible(ctx, key: KeyInfo, job_id: str) -> dict:
    job = get_job(ctx.db, job_id[:64])
    if job is None or not can_see(job["key_id"], key):
        raise not_found()
    return job


def recent(ctx, key: KeyInfo, limit: int) -> list[dict]:
    """The latest jobs the key may see, newest first."""
    return recent_jobs(ctx.db, None if key.allows("admin") else key.id, limit)


def check_done(job: dict) -> None:
    if job["status"] != "done":
        raise ApiError(409, "job_not_finished", f"任务尚未完成 (状态 {job['status']}, 进度 {job['done_rows']}/"
                       f"{job['total_rows']})", f"the job has not finished (status {job['status']}, "
                       f"{job['done_rows']}/{job['total_rows']} rows)", "job_id", job_status=job["status"])


def records(ctx, job_id: str):
    """The job's screening records in row order (streamed)."""
    return job_records(ctx.db, job_id)


def near_duplicates(ctx, job_id: str) -> dict[int, list[dict]]:
    """Each row's near-duplicates among the job's rows (model.neardup), with conflicting dates."""
    return find_near_duplicates((r["row_no"], (r["input"] or {}).get("title"), (r["input"] or {}).get("unit"),
                                 planned_text(r["input"] or {}) or None) for r in job_records(ctx.db, job_id))


def decisions_by_row(ctx, job_id: str) -> dict[int, dict]:
    """The compiler's decision on each decided row (api/services/decisions.py records them)."""
    with ctx.db.read() as conn:
        rows = conn.execute(select(row_decisions).where(row_decisions.c.job_id == job_id)).mappings().all()
    return {r["row_no"]: dict(r) for r in rows}


def result_xlsx(ctx, job: dict) -> bytes:
    info = {**job, "model_version": ctx.screener.model_version, "rules_version": ctx.screener.rules_version}
    return build_result_xlsx(info, job_records(ctx.db, job["id"]), decisions_by_row(ctx, job["id"]),
                             near_duplicates(ctx, job["id"]))


def result_lines(ctx, job: dict):
    return result_jsonl(job_records(ctx.db, job["id"], raw=True), decisions_by_row(ctx, job["id"]))
