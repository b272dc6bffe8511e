"""The job queue in the database: an upload is committed (job + every row) before its id is
returned; a job is read back, shown, and its screening records streamed in row order."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Text, cast, insert, select

from ..db import Database, job_rows, jobs, screenings, utcnow


def create_job(db: Database, *, job_id: str, key_id: str | None, filename: str, profile: str | None, rows: list[dict],
               row_errors: dict[int, dict], callback_url: str | None, result_url: str | None,
               options: dict) -> dict:
    now = utcnow()
    job = {"id": job_id, "key_id": key_id, "status": "queued", "filename": filename[:255], "profile": profile,
           "options": options, "total_rows": len(rows), "next_row": 1, "done_rows": 0, "n_major": 0,
           "n_not_major": 0, "n_review": 0, "n_error": 0, "created_at": now, "started_at": None,
           "finished_at": None, "lease_owner": None, "lease_until": None, "attempts": 0, "error": None,
           "result_url": result_url, "callback_url": callback_url, "callback_state": None,
           "callback_attempts": 0, "callback_next_at": None, "callback_last_error": None}
    with db.write() as conn:
        conn.execute(insert(jobs), job)
        chunk = 5000
        for start in range(0, len(rows), chunk):
            conn.execute(insert(job_rows), [
                {"job_id": job_id, "row_no": n, "data": rows[n - 1], "error": row_errors.get(n)}
                for n in range(start + 1, min(start + chunk, len(rows)) + 1)])
    return job


def get_job(db: Database, job_id: str) -> dict | None:
    with db.read() as conn:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return dict(row) if row else None


def _iso(v: dt.datetime | None) -> str | None:
    return v.isoformat() if v else None


def public(job: dict) -> dict:
    """A job as the API shows it (and as the callback sends it)."""
    total = job["total_rows"] or 0
    out = {
        "id": job["id"], "status": job["status"], "filename": job["filename"], "profile": job["profile"],
        "total_rows": total, "done_rows": job["done_rows"],
        "progress": round(job["done_rows"] / total, 4) if total else 1.0,
        "counts": {"major": job["n_major"], "not_major": job["n_not_major"], "review": job["n_review"],
                   "error": job["n_error"]},
        "created_at": _iso(job["created_at"]), "started_at": _iso(job["started_at"]),
        "finished_at": _iso(job["finished_at"]), "result_url": job["result_url"],
        "ignored_columns": (job.get("options") or {}).get("ignored_columns", []),
        "error": job["error"],
        "callback": None,
    }
    if job["callback_url"]:
        out["callback"] = {"url": job["callback_url"], "state": job["callback_state"],
                           "attempts": job["callback_attempts"], "last_error": job["callback_last_error"]}
    return out


def job_records(db: Database, job_id: str, batch: int = 2000, raw: bool = False):
    """The job's screening records in row order, streamed from one query through a server-side
    cursor in batches (memory stays flat for 50,000 rows; one query, where pages of LIMIT
    queries each made PostgreSQL sort the job's rows again on a fresh table).
    raw: input, answer and error as the stored JSON text, not parsed (a download only copies
    them, and parsing and re-serialising 50,000 answers was most of its time)."""
    cols = (screenings.c.input, screenings.c.answer, screenings.c.error)
    if raw:
        cols = tuple(cast(c, Text).label(c.name) for c in cols)
    q = (select(screenings.c.id, screenings.c.row_no, *cols)
         .where(screenings.c.job_id == job_id).order_by(screenings.c.row_no))
    with db.read() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(q).mappings()
        for r in result:
            yield dict(r)


def recent_jobs(db: Database, key_id: str | None, limit: int) -> list[dict]:
    """The latest jobs, newest first: of one key, or of every key when key_id is None."""
    q = select(jobs).order_by(jobs.c.created_at.desc()).limit(limit)
    if key_id is not None:
        q = q.where(jobs.c.key_id == key_id)
    with db.read() as conn:
        return [dict(r) for r in conn.execute(q).mappings().all()]
