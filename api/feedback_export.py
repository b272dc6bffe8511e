"""Reviewer feedback as training data: one corpus record (corpora/SCHEMA.md) per reviewed
screening, with source_type "feedback". When a screening was reviewed more than once, the
latest opinion wins."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import IO

from sqlalchemy import select

from model.vocab import ATTRIBUTES, CATEGORIES, EXCLUSION_TYPES, VERDICT_ZH

from .db import Database, feedback, screenings

CORPUS_EXCLUSIONS = set(EXCLUSION_TYPES)
CORPUS_CATEGORIES = set(CATEGORIES)


def valid_stem(stem: str) -> str:
    """Corpus ids are `<file stem>-<digits>` in lower-case letters, digits and underscores."""
    import re

    clean = re.sub(r"[^a-z0-9_]", "_", stem.lower()).strip("_")
    return clean or "feedback"


def records(db: Database, stem: str = "feedback", since: dt.datetime | None = None) -> Iterator[dict]:
    q = (select(feedback, screenings.c.input, screenings.c.answer)
         .join(screenings, screenings.c.id == feedback.c.screening_id).order_by(feedback.c.id))
    if since is not None:
        q = q.where(feedback.c.created_at >= since)
    latest: dict[str, dict] = {}
    with db.read() as conn:
        for row in conn.execute(q).mappings():
            latest[row["screening_id"]] = dict(row)  # ascending ids: the last one seen is the newest
    for row in sorted(latest.values(), key=lambda r: r["id"]):
        yield to_corpus(row, stem)


def to_corpus(row: dict, stem: str) -> dict:
    inp = row["input"] or {}
    ans = row["answer"] or {}
    label = row["label"]
    attrs = ans.get("attributes") or {}
    category = exclusion = None
    if label == "major":
        category = row["category"] or (ans.get("category") if ans.get("verdict") != "not_major" else None)
        category = category if category in CORPUS_CATEGORIES else None
    else:
        exclusion = row["exclusion"] or (ans.get("exclusion") or {}).get("type")
        exclusion = exclusion if exclusion in CORPUS_EXCLUSIONS else None
    comment = (row["comment"] or "").strip()
    was = VERDICT_ZH.get(ans.get("verdict"), ans.get("verdict"))
    now = VERDICT_ZH[label]
    if label == "not_major" and exclusion is None:
        # The corpus needs a type for every not_major item; "routine" is its name for
        # ordinary business, and the reason says it was not the reviewer's choice.
        exclusion = "routine"
        comment = (comment + " " if comment else "") + "(审核人未注明排除类型, 记为 routine)"
    hard_case = (not row["agree"]) or ans.get("verdict") == "review"
    reason = comment or None
    if reason is None and (hard_case or label == "not_major"):
        reason = f"审核人{'同意' if row['agree'] else '不同意'}服务结论 ({was}), 定为{now}"
    return {
        "id": f"{valid_stem(stem)}-{row['id']:04d}",
        "title": inp.get("title"),
        "label": label,
        "source_type": "feedback",
        "issuer": None,
        "level": ans.get("level") or inp.get("level"),
        "province": None,
        "year": row["created_at"].year,
        "unit": inp.get("unit"),
        "category": category,
        "exclusion": exclusion,
        "reason": reason,
        "basis": None,
        "procedures": None,
        "attributes": {a: bool((attrs.get(a) or 0) >= 0.5) for a in ATTRIBUTES},
        # A disagreement, or a matter the service itself could not decide, is a border case.
        "hard_case": hard_case,
        "hard_type": None,
        "description": inp.get("description"),
        "source_url": None,
        "profile": ans.get("profile") or inp.get("profile") or "national",
    }


def exportable(rec: dict) -> bool:
    """The corpus takes titles of 2-300 characters; longer or shorter ones are left out."""
    return isinstance(rec["title"], str) and 2 <= len(rec["title"]) <= 300


def export(db: Database, out: IO[str], stem: str = "feedback", since: dt.datetime | None = None) -> tuple[int, int]:
    """Write the records; returns (written, left out)."""
    n = skipped = 0
    for rec in records(db, stem, since):
        if not exportable(rec):
            skipped += 1
            continue
        out.write(json.dumps(rec, ensure_ascii=False) + "\n")
        n += 1
    return n, skipped
