"""API keys as the pages and the CLI use them: check a pasted key, find the key a session
was signed in with, create, list and revoke keys. The hashing and the cache live in auth.py."""
from __future__ import annotations

from sqlalchemy import select

from ..auth import KeyInfo, create_key, list_keys, lookup, revoke_key
from ..db import Database, api_keys


def verify(db: Database, raw: str) -> KeyInfo | None:
    """The key a person pasted, if it is valid and not revoked."""
    return lookup(db, raw)


def by_id(db: Database, key_id: str) -> KeyInfo | None:
    """The key a session was signed in with, if it still exists and is not revoked."""
    with db.read() as conn:
        row = conn.execute(select(api_keys.c.id, api_keys.c.name, api_keys.c.scopes, api_keys.c.revoked_at,
                                  api_keys.c.session_generation)
                           .where(api_keys.c.id == key_id)).mappings().first()
    if row is None or row["revoked_at"] is not None:
        return None
    return KeyInfo(row["id"], row["name"], frozenset(s for s in row["scopes"].split(",") if s),
                   row["session_generation"])


def create(db: Database, name: str, scopes) -> tuple[str, dict]:
    return create_key(db, name, scopes)


def revoke(db: Database, key_id: str) -> bool:
    return revoke_key(db, key_id)


def listing(db: Database) -> list[dict]:
    return list_keys(db)
